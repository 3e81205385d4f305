"""Command line interface ``urban-sim`` (Typer): one module per command, registered here.

No numerics in this package. Shared options are in :mod:`urban_sim.cli.options`, the one error
wrapper in :mod:`urban_sim.cli.common`. Exit status: 0 success, 2 user error, 1 internal error,
130 interrupted.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

try:  # Typer >= 0.2x vendors Click as typer._click; older Typer uses Click itself
    from typer._click import exceptions as _cx
except ImportError:  # pragma: no cover
    import click.exceptions as _cx

from urban_sim.cli import calibrate, compare, dashboard, report, run, sensitivity, validate

app = typer.Typer(add_completion=False, no_args_is_help=True, rich_markup_mode=None,
                  help="Scenario simulation of county urbanization (Lin County reference case).")


def _version(value: bool) -> None:
    if value:
        from urban_sim import __version__

        typer.echo(f"urban-sim {__version__}")
        raise typer.Exit()


@app.callback()
def _main(version: Annotated[bool, typer.Option(
        "--version", callback=_version, is_eager=True,
        help="Print the version and exit.")] = False) -> None:
    """Scenario simulation of county urbanization (Lin County reference case)."""

for _command in (run.run, compare.compare, sensitivity.sensitivity, calibrate.calibrate,
                 report.report, validate.validate, dashboard.dashboard):
    app.command()(_command)


def _usage_line(exc: _cx.UsageError, args: list[str]) -> str:
    """A bad option or argument as one line: the option, the value given and the allowed range."""
    param = getattr(exc, "param", None)
    message = exc.format_message()
    if param is None:
        return message
    opts = [o for o in getattr(param, "opts", ()) if o.startswith("-")]
    given = None
    for i, arg in enumerate(args):
        for opt in opts:
            if arg == opt and i + 1 < len(args):
                given = args[i + 1]
            elif arg.startswith(opt + "="):
                given = arg[len(opt) + 1:]
    low, high = getattr(param, "min", None), getattr(param, "max", None)
    allowed = ("" if low is None and high is None else
               f"; allowed range [{'-inf' if low is None else low}, {'inf' if high is None else high}]")
    if not message.startswith("Invalid value"):
        return message
    name = max(opts, key=len) if opts else param.name
    shown = f" {given!r}" if given is not None else ""
    return f"{name}{shown}: {message.split(': ', 1)[-1]}{allowed}"


def main(args: list[str] | None = None) -> None:
    """Entry point of the ``urban-sim`` console script and of ``python -m urban_sim``.

    A bad option or argument (Click's usage errors) is one ``error:`` line naming the option,
    the value and the allowed range, exit status 2, like every other user error.
    """
    args = sys.argv[1:] if args is None else list(args)
    try:
        code = app(args=args, prog_name="urban-sim", standalone_mode=False)
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        sys.exit(130)
    except _cx.NoArgsIsHelpError as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except _cx.UsageError as exc:
        hint = f" (see urban-sim {exc.ctx.info_name} --help)" if exc.ctx and exc.ctx.parent else ""
        typer.echo(f"error: {_usage_line(exc, args)}{hint}", err=True)
        sys.exit(2)
    except _cx.ClickException as exc:
        typer.echo(f"error: {exc.format_message()}", err=True)
        sys.exit(exc.exit_code)
    except typer.Abort:
        typer.echo("aborted", err=True)
        sys.exit(1)
    sys.exit(code if isinstance(code, int) else 0)


__all__ = ["app", "main"]
