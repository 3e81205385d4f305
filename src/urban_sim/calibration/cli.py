"""``urban-sim calibrate`` (registered on the main Typer app)."""


def register(app) -> None:
    """Add the ``calibrate`` command to ``app`` (placeholder until the command exists)."""
