"""``urban-sim sensitivity`` (registered on the main Typer app)."""


def register(app) -> None:
    """Add the ``sensitivity`` command to ``app`` (placeholder until the command exists)."""
