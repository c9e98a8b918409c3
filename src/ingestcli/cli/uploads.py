"""Upload commands: `upload` and, for providers through the API or for support staff with
AWS credentials (`--provider`), `uploads` and `report`."""

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
    stack_output,
    time_zone,
)
from ingestcli.core.status import UploadStatus
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


def _api_client(profile: str | None, api_url: str | None, token: str | None):
    from ingestcli.services.api_client import ApiClient

    settings = settings_for(profile, api_url=api_url, token=token)
    if not settings.api_url:
        raise UsageError("no API URL: set INGEST_API_URL, pass --api-url, or use --profile")
    if not settings.token:
        raise UsageError("no upload token: set INGEST_TOKEN (your operator gives you one)")
    return ApiClient(settings.api_url, settings.token)


@reports_errors
def upload(
    file: Annotated[str, typer.Argument(help="The CSV file to upload.")],
    wait: Annotated[
        bool, typer.Option("--wait/--no-wait", help="Wait for the report and show it.")
    ] = True,
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
            metavar="TZ", help="Time zone your provider is registered with, for the local check."
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
    output_format: FormatOption = OutputFormat.text,
    api_url: ApiUrlOption = None,
    token: TokenOption = None,
    profile: ProfileOption = None,
) -> None:
    """Check a CSV file, send it, and (by default) wait for its report.

    Exit 0 when every row was written, 1 when rows were rejected or the file refused, or
    when the URL (one file each) already holds a file: S3 refuses a second PUT, and the file
    is not sent; ask for a new URL. With --url, the report is waited for only when
    --report-url is given too."""
    from ingestcli.cli.render import output
    from ingestcli.cli.render.upload import render_report, render_upload_result, upload_progress
    from ingestcli.cli.render.validate import render_summary
    from ingestcli.services.files import size_of
    from ingestcli.services.upload import check_before_upload, upload_with_url, wait_for_report
    from ingestcli.services.upload import upload as send

    if report_url is not None and url is None:
        raise UsageError("--report-url goes with --url: both come from `ingest presign`")
    if report_url is not None:
        from ingestcli.services.report_url import report_fetcher, report_upload_id

        waited_id = report_upload_id(report_url, url)  # checked before anything is sent
    summary = check_before_upload(file, time_zone(assume_tz))
    if summary.header_error or (summary.invalid and not allow_invalid):
        render_summary(summary, file, console=output.stderr)
        advice = (
            "the file was not uploaded: its header is refused"
            if summary.header_error
            else f"the file was not uploaded: {summary.invalid:,} of {summary.rows:,} rows are "
            "invalid; fix them, or upload anyway with --allow-invalid (they will be rejected "
            "and reported)"
        )
        output.print_error(advice)
        raise typer.Exit(EXIT_PROBLEMS)
    if url is not None:
        result = upload_with_url(url, file)
        if report_url is None or not wait:
            if output_format is OutputFormat.json:
                output.print_json(result)
            else:
                render_upload_result(result)
            return
        output.stderr.print(f"Uploaded as {waited_id}; waiting for its report…")
        report = wait_for_report(
            None,
            waited_id,
            fetch=report_fetcher(report_url),
            later="ask your operator for its report (`ingest report`)",
        )
    else:
        client = _api_client(profile, api_url, token)
        with upload_progress(file, size_of(file) or 0) as on_progress:
            result = send(client, file, on_progress=on_progress)
        if not wait:
            if output_format is OutputFormat.json:
                output.print_json(result)
            else:
                render_upload_result(result)
            return
        output.stderr.print(f"Uploaded as {result['upload_id']}; waiting for its report…")
        report = wait_for_report(client, result["upload_id"])
    if output_format is OutputFormat.json:
        output.print_json(report)
    else:
        render_report(report)
    raise typer.Exit(EXIT_OK if report.get("status") == UploadStatus.SUCCEEDED else EXIT_PROBLEMS)


def _support_clients(profile, stack_name, region, endpoint_url, aws_profile, *services: str):
    settings = settings_for(
        profile,
        stack_name=stack_name,
        region=region,
        endpoint_url=endpoint_url,
        aws_profile=aws_profile,
    )
    return settings, clients_for(settings, *services)


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

        settings, (dynamodb,) = _support_clients(
            profile, stack_name, region, endpoint_url, aws_profile, "dynamodb"
        )
        table = stack_output(settings, "UploadsTable")
        found = recent_uploads(dynamodb, table, provider, limit)
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
    """One upload's report: counts and the first problems (or a provider's, with --provider)."""
    from ingestcli.cli.render import output
    from ingestcli.cli.render.upload import render_report

    if provider is None:
        document = _api_client(profile, api_url, token).upload_status(upload_id)
    else:
        from ingestcli.services.support import report as read_report

        settings, (s3,) = _support_clients(
            profile, stack_name, region, endpoint_url, aws_profile, "s3"
        )
        document = read_report(s3, stack_output(settings, "UploadsBucket"), provider, upload_id)
    if output_format is OutputFormat.json:
        output.print_json(document)
    else:
        render_report(document)
