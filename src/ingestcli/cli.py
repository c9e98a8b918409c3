"""The `ingest` command line: parse options, call the core, render the result.

Exit codes: 0 success; 1 the work found problems (invalid rows, a refused header) or AWS
refused; 2 the command cannot be carried out as given (bad option, unreadable file).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import tzinfo
from enum import StrEnum
from typing import Annotated, TypeVar

import typer

from . import __version__
from .errors import EXIT_OK, EXIT_PROBLEMS, IngestError

app = typer.Typer(
    name="ingest",
    help="Upload patient-record CSV files into a validated, multi-tenant AWS pipeline.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

Command = TypeVar("Command", bound=Callable[..., None])


def reports_errors(command: Command) -> Command:
    """Turn the core's named errors into one line on stderr and their exit code."""

    @functools.wraps(command)
    def run(*args: object, **kwargs: object) -> None:
        from .output import print_error

        try:
            command(*args, **kwargs)
        except IngestError as error:
            print_error(str(error))
            raise typer.Exit(error.exit_code) from None
        except KeyboardInterrupt:
            print_error("interrupted")
            raise typer.Exit(130) from None

    return run  # type: ignore[return-value]


class OutputFormat(StrEnum):
    text = "text"
    json = "json"


def _version(show: bool) -> None:
    if show:
        typer.echo(f"ingest {__version__}")
        raise typer.Exit(EXIT_OK)


@app.callback()
def main_options(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Show the version."),
    ] = False,
) -> None:
    """Upload patient-record CSV files into a validated, multi-tenant AWS pipeline."""


def _time_zone(name: str | None) -> tzinfo | None:
    if name is None:
        return None
    from .contract import resolve_time_zone

    try:
        return resolve_time_zone(name)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None


@app.command()
@reports_errors
def validate(
    file: Annotated[str, typer.Argument(help="The CSV file to check, or - for standard input.")],
    output_format: Annotated[
        OutputFormat, typer.Option("--format", help="text for people, json for scripts.")
    ] = OutputFormat.text,
    max_errors: Annotated[
        int, typer.Option(min=0, help="Show at most this many problems (counts stay complete).")
    ] = 100,
    assume_tz: Annotated[
        str | None,
        typer.Option(
            metavar="TZ",
            help="Read date_time values that have no UTC offset in this IANA time zone, "
            "such as America/New_York.",
        ),
    ] = None,
) -> None:
    """Check a CSV file against the contract before it leaves this machine."""
    from . import files, output
    from .validate import summarize

    zone = _time_zone(assume_tz)
    name = files.display_name(file)
    with (
        files.open_binary(file) as stream,
        output.byte_progress(f"Checking {name}", files.size_of(file)) as on_progress,
    ):
        summary = summarize(stream, zone, max_errors, on_progress)
    if output_format is OutputFormat.json:
        output.print_json({"file": name, **summary.as_dict()})
    else:
        from .render import render_summary

        render_summary(summary, name)
    raise typer.Exit(EXIT_OK if summary.ok else EXIT_PROBLEMS)


def main() -> None:
    """Console-script entry point: no traceback ever reaches the user."""
    try:
        app()
    except Exception as error:  # a bug of ours: say so in one line, without any data
        from .output import print_error

        print_error(
            f"unexpected internal error ({type(error).__name__}); please report it "
            "with the command you ran"
        )
        raise SystemExit(EXIT_PROBLEMS) from None
