"""`ingest check`: the operator's post-deploy smoke test (services/check.py does the work).

Exit 0 when every link holds and the canary left nothing behind, 1 when a link is broken
or a clean-up step failed (the output names it), 2 for a usage error.
"""

from __future__ import annotations

from typing import Annotated

import typer

from ingestcli.cli.exits import EXIT_OK, EXIT_PROBLEMS, reports_errors
from ingestcli.cli.options import (
    AwsProfileOption,
    EndpointOption,
    FormatOption,
    OutputFormat,
    ProfileOption,
    RegionOption,
    StackOption,
    clients_for,
    settings_for,
)


@reports_errors
def check(
    stack_name: StackOption = None,
    region: RegionOption = None,
    profile: ProfileOption = None,
    endpoint_url: EndpointOption = None,
    aws_profile: AwsProfileOption = None,
    output_format: FormatOption = OutputFormat.text,
    timeout: Annotated[
        float,
        typer.Option(min=1, metavar="SECONDS", help="How long to wait for the canary's report."),
    ] = 120.0,
    api_url: Annotated[
        str | None,
        typer.Option(
            help="The API's URL, when the stack has no ApiUrl output [default: the stack's "
            "ApiUrl, else INGEST_API_URL or the profile's api_url]."
        ),
    ] = None,
) -> None:
    """Smoke-test a deployed stack: a canary provider uploads 3 rows through the API, waits
    for the report and reads the rows back; then it is deleted with all it left.

    Each link (stack, provider, api, upload, report, records) is shown with its verdict;
    a broken one says what to look at. Exit 0 when every link holds, 1 when one is broken
    or the clean-up left something."""
    from ingestcli.cli.render import output
    from ingestcli.cli.render.check import render_outcome, render_plan, render_verdict
    from ingestcli.services import config
    from ingestcli.services.check import CheckClients, run_check

    settings = settings_for(
        profile,
        stack_name=stack_name,
        region=region,
        endpoint_url=endpoint_url,
        aws_profile=aws_profile,
    )
    fallback = None
    if settings.api_url is not None:
        fallback = (settings.api_url, config.origin(settings, "api_url", option_given=False))
    text = output_format is OutputFormat.text
    outcome = run_check(
        CheckClients(*clients_for(settings, "cloudformation", "s3", "sqs", "dynamodb")),
        settings.stack_name,
        api_url=(api_url, "--api-url") if api_url else None,
        fallback_api_url=fallback,
        timeout=timeout,
        on_plan=render_plan if text else lambda _plan: None,
        on_verdict=render_verdict if text else lambda _verdict: None,
    )
    if text:
        render_outcome(outcome)
    else:
        output.print_json(outcome.as_dict())
    raise typer.Exit(EXIT_OK if outcome.ok else EXIT_PROBLEMS)
