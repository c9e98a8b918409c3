"""Upload commands: `upload` and, for providers through the API or for support staff with
AWS credentials (`--provider`), `uploads` and `report`."""

from __future__ import annotations

import os
import shlex
from typing import Annotated

import typer

from ingestcli.cli.exits import exit_code_for_status, reports_errors
from ingestcli.cli.options import (
    AwsProfileOption,
    EndpointOption,
    FormatOption,
    OutputFormat,
    PartJobsOption,
    PartSizeOption,
    ProfileOption,
    RegionOption,
    StackOption,
    ThresholdOption,
    clients_for,
    settings_for,
    stack_output,
    time_zone,
)
from ingestcli.core.multipart import DEFAULT_PART_JOBS, DEFAULT_PART_SIZE, DEFAULT_THRESHOLD
from ingestcli.errors import UsageError

ApiUrlOption = Annotated[
    str | None, typer.Option(help="The upload API's URL [env: INGEST_API_URL].")
]
TokenOption = Annotated[
    str | None,
    typer.Option(help="Your upload token [env: INGEST_TOKEN]; prefer the environment."),
]
SupportProvider = Annotated[
    str | None,
    typer.Option(
        "--provider",
        metavar="ID",
        help="Read this provider's uploads with AWS credentials (support staff) instead of "
        "your own through the API.",
    ),
]


def _api_client(
    profile: str | None, api_url: str | None, token: str | None, *, quick: bool = False
):
    """The provider's API client from options, environment and profile; a `quick` one gives
    up sooner, for a call made while someone waits on Ctrl-C."""
    from ingestcli.services import config
    from ingestcli.services.api_client import ApiClient

    settings = settings_for(profile, api_url=api_url, token=token)
    if not settings.api_url:
        raise UsageError("no API URL: run `ingest login`, set INGEST_API_URL, or pass --api-url")
    if not settings.token:
        raise UsageError(
            "no upload token: run `ingest login` with the token your operator gave you "
            "(or set INGEST_TOKEN)"
        )
    source = config.origin(settings, "api_url", api_url is not None)
    tuning = {"timeout": 5.0, "attempts": 2} if quick else {}
    return ApiClient(settings.api_url, settings.token, url_source=source, **tuning)


def _report_command(profile: str | None, api_url: str | None) -> str:
    """The exact command that shows an upload's report later, {upload_id} to fill in (an
    upload id needs no quoting); never with the token."""
    words = ["--profile", profile] if profile else []
    words += ["--api-url", api_url] if api_url else []
    quoted = (shlex.quote(word).replace("{", "{{").replace("}", "}}") for word in words)
    return " ".join(["ingest report {upload_id}", *quoted])


@reports_errors
def upload(
    files: Annotated[
        list[str],
        typer.Argument(
            metavar="FILE...",
            help="The CSV files to upload, or folders (their *.csv files, not in subfolders).",
        ),
    ],
    wait: Annotated[
        bool, typer.Option("--wait/--no-wait", help="Wait for the report and show it.")
    ] = True,
    timeout: Annotated[
        float,
        typer.Option(min=0, metavar="SECONDS", help="How long to wait for each report."),
    ] = 600.0,
    jobs: Annotated[
        int,
        typer.Option(min=1, max=16, metavar="N", help="How many files to send at the same time."),
    ] = 4,
    allow_invalid: Annotated[
        bool,
        typer.Option(
            "--allow-invalid",
            help="Upload even when some rows are invalid: they are rejected and reported.",
        ),
    ] = False,
    assume_tz: Annotated[
        str | None,
        typer.Option(
            metavar="TZ",
            help="With a token, the time zone registered for your provider (only it is "
            "accepted); with --url, the zone for the local check of date_time values without "
            "an offset.",
        ),
    ] = None,
    url: Annotated[
        str | None,
        typer.Option(
            help="An upload URL from your operator (`ingest presign`), instead of a token."
        ),
    ] = None,
    report_url: Annotated[
        str | None,
        typer.Option(
            help="With --url: the report URL from your operator (`ingest presign`), to wait "
            "for the report and show it."
        ),
    ] = None,
    multipart_threshold: ThresholdOption = DEFAULT_THRESHOLD,
    part_size: PartSizeOption = DEFAULT_PART_SIZE,
    part_jobs: PartJobsOption = DEFAULT_PART_JOBS,
    output_format: FormatOption = OutputFormat.text,
    api_url: ApiUrlOption = None,
    token: TokenOption = None,
    profile: ProfileOption = None,
) -> None:
    """Check CSV files, send them, and (by default) wait for their reports.

    A file larger than --multipart-threshold goes in parts, --part-jobs at a time, each
    retried on its own; if it is stopped (Ctrl-C, a lost network), run the same command
    again: the parts already stored are not sent again.

    Exit 0 when every row was written; 1 when rows were rejected or a file refused, or when
    the URL (one file each) already holds a file; 3 when a file was sent but its report was
    not ready (--timeout, or Ctrl-C while waiting): `ingest report UPLOAD_ID` shows it later.
    Several files (or a folder's *.csv files) are sent --jobs at a time and summed up in one
    table; the exit code is the most serious of theirs, 1 before 2 before 3 before 0 (130
    when Ctrl-C stopped a file before it was sent). With --url (one file), the report is
    waited for only when --report-url is given too."""
    from ingestcli.cli.exits import exit_code_for_batch, exit_code_for_sent
    from ingestcli.cli.render.batch import many_hooks, render_many
    from ingestcli.cli.render.waiting import one_file_hooks, render_one, render_stopped
    from ingestcli.services import batch, routes
    from ingestcli.services.parts import PartPlan

    if report_url is not None and url is None:
        raise UsageError("--report-url goes with --url: both come from `ingest presign`")
    one = len(files) == 1 and not os.path.isdir(files[0])
    if url is not None:
        if not one:
            raise UsageError("--url takes one file: a URL from `ingest presign` holds one upload")
        route, provider = routes.url_route(url, report_url, wait)
        zone = time_zone(assume_tz)
        command = f"ingest report {{upload_id}} --provider {shlex.quote(provider or 'ID')}"
        command = f"ask your operator for it: {command}"
    else:
        plan = PartPlan(multipart_threshold, part_size, part_jobs)
        client = _api_client(profile, api_url, token)
        quick = _api_client(profile, api_url, token, quick=True)
        route, zone = routes.api_route(client, assume_tz, wait, quick, plan)
        command = _report_command(profile, api_url)
    json = output_format is OutputFormat.json
    options = {"allow_invalid": allow_invalid, "timeout": timeout}
    if one:
        hooks = one_file_hooks(waiting=route.fetch is not None)
        outcome = batch.send_file(route, files[0], zone, hooks=hooks, **options)
        if outcome.error is not None and outcome.stopped_by_error:
            render_stopped(outcome)  # how to resume a file sent in parts
            raise outcome.error  # reports_errors: its one line and exit code
        render_one(outcome, json=json, timeout=timeout, command=command)
        raise typer.Exit(exit_code_for_sent(outcome))
    paths = batch.files_to_send(files)
    outcomes = batch.send_many(route, paths, zone, jobs=jobs, hooks=many_hooks(), **options)
    render_many(outcomes, json=json, command=command)
    raise typer.Exit(exit_code_for_batch(outcomes))


def _support_stack(profile, stack_name, region, endpoint_url, aws_profile):
    """Support staff's way in, with AWS credentials: the stack's DynamoDB and S3 clients,
    its resource names, and its providers table, which every read checks first."""
    from types import SimpleNamespace

    from ingestcli.services.support import ProvidersTable

    settings = settings_for(
        profile,
        stack_name=stack_name,
        region=region,
        endpoint_url=endpoint_url,
        aws_profile=aws_profile,
    )
    dynamodb, s3 = clients_for(settings, "dynamodb", "s3")
    return SimpleNamespace(
        dynamodb=dynamodb,
        s3=s3,
        bucket=stack_output(settings, "UploadsBucket"),
        uploads_table=stack_output(settings, "UploadsTable"),
        providers=ProvidersTable(dynamodb, stack_output(settings, "ProvidersTable")),
    )


@reports_errors
def uploads(
    provider: SupportProvider = None,
    limit: Annotated[int, typer.Option(min=1, max=100, help="How many, newest first.")] = 20,
    output_format: FormatOption = OutputFormat.text,
    api_url: ApiUrlOption = None,
    token: TokenOption = None,
    profile: ProfileOption = None,
    stack_name: StackOption = None,
    region: RegionOption = None,
    endpoint_url: EndpointOption = None,
    aws_profile: AwsProfileOption = None,
) -> None:
    """Your recent uploads and their status (or a provider's, with --provider)."""
    from ingestcli.cli.render import output
    from ingestcli.cli.render.upload import render_uploads

    if provider is None:
        found = _api_client(profile, api_url, token).recent_uploads(limit)
    else:
        from ingestcli.services.support import uploads as recent_uploads

        stack = _support_stack(profile, stack_name, region, endpoint_url, aws_profile)
        found = recent_uploads(
            stack.dynamodb,
            stack.uploads_table,
            provider,
            limit,
            providers=stack.providers,
            s3=stack.s3,
            bucket=stack.bucket,
        )
    if output_format is OutputFormat.json:
        output.print_json(found)
    else:
        render_uploads(found)


@reports_errors
def report(
    upload_id: Annotated[str, typer.Argument(metavar="UPLOAD_ID", help="The upload's id.")],
    provider: SupportProvider = None,
    output_format: FormatOption = OutputFormat.text,
    api_url: ApiUrlOption = None,
    token: TokenOption = None,
    profile: ProfileOption = None,
    stack_name: StackOption = None,
    region: RegionOption = None,
    endpoint_url: EndpointOption = None,
    aws_profile: AwsProfileOption = None,
) -> None:
    """One upload's report: counts and the first problems (or a provider's, with --provider).

    Exit 0 when every row was written, 1 when rows were rejected or the file refused (or
    the upload abandoned or expired), 3 while it is still pending or processing."""
    from ingestcli.cli.render import output
    from ingestcli.cli.render.upload import render_report

    if provider is None:
        document = _api_client(profile, api_url, token).upload_status(upload_id)
    else:
        from ingestcli.services.support import report as read_report

        stack = _support_stack(profile, stack_name, region, endpoint_url, aws_profile)
        document = read_report(
            stack.s3, stack.bucket, provider, upload_id, providers=stack.providers
        )
    if output_format is OutputFormat.json:
        output.print_json(document)
    else:
        render_report(document)
    raise typer.Exit(exit_code_for_status(document.get("status")))
