"""`ingest local up/down/status`: the whole stack on this machine, on loopback, in memory."""

from __future__ import annotations

from typing import Annotated

import typer

from ingestcli.cli.exits import reports_errors
from ingestcli.cli.options import FormatOption, OutputFormat
from ingestcli.local.stack import DEFAULT_API_PORT, DEFAULT_MOTO_PORT

local_app = typer.Typer(
    name="local",
    help="Run the whole pipeline on this machine (moto on 127.0.0.1; data in memory only).",
    no_args_is_help=True,
)

NEXT_STEPS = """\
Every command now works against it with --profile local (or INGEST_PROFILE=local):
  ingest provider add acme --profile local > acme.token   # acme's upload token
  ingest login --profile local --token-stdin < acme.token
  ingest upload examples/clinic-visits.csv --profile local
  ingest query --provider acme --mrn MRN0001001 --profile local
  ingest status --profile local
Its data lives in memory only and is gone when it stops."""


@local_app.command("up")
@reports_errors
def up(
    port: Annotated[
        int, typer.Option(min=0, max=65535, help="moto's port on 127.0.0.1 (0: any free).")
    ] = DEFAULT_MOTO_PORT,
    api_port: Annotated[
        int, typer.Option(min=0, max=65535, help="The API's port on 127.0.0.1 (0: any free).")
    ] = DEFAULT_API_PORT,
    detach: Annotated[
        bool, typer.Option("--detach", help="Run in the background; stop with ingest local down.")
    ] = False,
) -> None:
    """Start moto, deploy the stack into it, serve the API and run the ingest worker.
    Both ports are taken first: a busy one is refused at once."""
    from ingestcli.cli.render.output import stderr, stdout
    from ingestcli.local.service import run_foreground, start_detached

    if detach:
        state = start_detached(port, api_port)
        stdout.print(f"Local stack running in the background (pid {state.pid}).")
        _print_places(state.endpoint, state.api_url)
        stdout.print("Stop it with: ingest local down")
        return

    def ready(stack) -> None:
        _print_places(stack.endpoint, stack.api_url)
        stdout.print("Press Ctrl-C to stop it.")

    run_foreground(port, api_port, lambda step: stderr.print(f"• {step}"), ready)
    stdout.print("Local stack stopped.")


def _print_places(endpoint: str, api_url: str) -> None:
    from ingestcli.cli.render.output import stdout

    stdout.print(f"AWS endpoint (moto): {endpoint}\nUpload API:          {api_url}")
    stdout.print("Saved as profile 'local'.", NEXT_STEPS, sep="\n")


@local_app.command("down")
@reports_errors
def down() -> None:
    """Stop the local stack this machine runs, and everything it started."""
    from ingestcli.cli.render.output import stdout
    from ingestcli.local.service import stop

    stopped = stop()
    if stopped is None:
        stdout.print("No local stack runs.")
        return
    stdout.print(f"Stopped the local stack (pid {stopped.pid}); its data is gone.")


@local_app.command("status")
@reports_errors
def status(output_format: FormatOption = OutputFormat.text) -> None:
    """Show whether a local stack runs, and where."""
    from ingestcli.cli.render import output
    from ingestcli.local.service import probe, read_state

    state = read_state()
    document = {"running": state is not None}
    if state is not None:
        document |= {
            "pid": state.pid,
            "detached": state.detached,
            "started_at": state.started_at,
            "endpoint": state.endpoint,
            "endpoint_answers": probe(f"{state.endpoint}/moto-api/"),
            "api_url": state.api_url,
            "api_answers": probe(state.api_url),
            "log": state.log,
        }
    if output_format is OutputFormat.json:
        output.print_json(document)
        return
    if state is None:
        output.stdout.print("No local stack runs: start one with ingest local up.")
        return
    health = {True: "[green]answers[/]", False: "[red]does not answer[/]"}
    output.stdout.print(
        f"Local stack: pid {state.pid}{' (detached)' if state.detached else ''}, "
        f"since {state.started_at}\n"
        f"AWS endpoint (moto): {state.endpoint} {health[document['endpoint_answers']]}\n"
        f"Upload API:          {state.api_url} {health[document['api_answers']]}"
    )
    if state.log:
        output.stdout.print(f"Log: {state.log}")


@reports_errors
def demo() -> None:
    """Run the whole pipeline once on this machine: onboard, validate, upload, report, query."""
    from ingestcli.local.demo import run_demo

    run_demo()
