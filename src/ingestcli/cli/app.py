"""The `ingest` command line: parse options, call the core, render the result.

Exit codes: 0 success; 1 the work found problems (invalid rows, a refused header) or AWS
refused; 2 the command cannot be carried out as given (bad option, unreadable file).
"""

from __future__ import annotations

from typing import Annotated

import typer
from typer.core import TyperGroup

from ingestcli import __version__
from ingestcli.cli import check as cli_check
from ingestcli.cli import local as cli_local
from ingestcli.cli import login as cli_login
from ingestcli.cli import providers as cli_providers
from ingestcli.cli import query as cli_query
from ingestcli.cli import stack as cli_stack
from ingestcli.cli import uploads as cli_uploads
from ingestcli.cli.entry import interrupted
from ingestcli.cli.exits import EXIT_OK, EXIT_PROBLEMS, reports_errors
from ingestcli.cli.options import FormatOption, OutputFormat, time_zone


class IngestGroup(TyperGroup):
    """Ctrl-C while click parses or dispatches (outside any command's own handler) gets the
    same one line and exit 130 as everywhere else, not typer's silent exit."""

    def parse_args(self, ctx, args):  # type: ignore[no-untyped-def]
        try:
            return super().parse_args(ctx, args)
        except KeyboardInterrupt:
            interrupted()

    def invoke(self, ctx):  # type: ignore[no-untyped-def]
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:
            interrupted()


app = typer.Typer(
    name="ingest",
    cls=IngestGroup,
    help="Upload patient-record CSV files into a validated, multi-tenant AWS pipeline.",
    no_args_is_help=True,
    add_completion=True,  # --install-completion / --show-completion: docs/config.md
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # help texts hold literal [env: ...] brackets, not markup
    context_settings={"help_option_names": ["-h", "--help"]},
)


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
    debug: Annotated[
        bool,
        typer.Option(
            "--debug",
            envvar="INGEST_DEBUG",
            show_envvar=False,
            help="Show each AWS and API call on stderr: service, operation, HTTP status, time; "
            "never a value [env: INGEST_DEBUG=1].",
        ),
    ] = False,
) -> None:
    """Upload patient-record CSV files into a validated, multi-tenant AWS pipeline."""
    if debug:
        from ingestcli.cli.debug import enable_debug_logging

        enable_debug_logging()


@app.command()
@reports_errors
def validate(
    file: Annotated[str, typer.Argument(help="The CSV file to check, or - for standard input.")],
    output_format: FormatOption = OutputFormat.text,
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
    from ingestcli.cli.render import output
    from ingestcli.core.summary import summarize
    from ingestcli.services import files

    zone = time_zone(assume_tz)
    name = files.display_name(file)
    with (
        files.open_binary(file) as stream,
        output.byte_progress(f"Checking {name}", files.size_of(file)) as on_progress,
    ):
        summary = summarize(stream, zone, max_errors, on_progress)
    if output_format is OutputFormat.json:
        output.print_json({"file": name, **summary.as_dict()})
    else:
        from ingestcli.cli.render.validate import render_summary

        render_summary(summary, name)
    raise typer.Exit(EXIT_OK if summary.ok else EXIT_PROBLEMS)


for command in (
    cli_local.demo,
    cli_uploads.upload,
    cli_uploads.uploads,
    cli_query.query,
    cli_uploads.report,
    cli_stack.deploy,
    cli_stack.destroy,
    cli_stack.status,
    cli_check.check,
    cli_providers.presign,
    cli_login.login,
):
    app.command()(command)
app.add_typer(cli_providers.provider_app)
app.add_typer(cli_local.local_app)


def main() -> None:
    """Run the app (the console script goes through cli/entry.py): no traceback ever
    reaches the user."""
    try:
        app()
    except KeyboardInterrupt:
        interrupted()
    except Exception as error:  # a bug of ours: say so in one line, without any data
        from ingestcli.cli.render.output import print_error

        print_error(
            f"unexpected internal error ({type(error).__name__}); please report it "
            "with the command you ran"
        )
        raise SystemExit(EXIT_PROBLEMS) from None
