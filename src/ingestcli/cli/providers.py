"""Operator commands for providers: onboard, list, revoke, rotate, and hand-made upload URLs."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from ingestcli.cli.exits import EXIT_PROBLEMS, reports_errors
from ingestcli.cli.options import (
    AwsProfileOption,
    EndpointOption,
    FormatOption,
    OutputFormat,
    ProfileOption,
    RegionOption,
    StackOption,
    YesOption,
    clients_for,
    confirm,
    settings_for,
    stack_output,
)
from ingestcli.errors import UsageError

provider_app = typer.Typer(
    name="provider",
    help="Onboard providers and manage their upload tokens (operators, AWS credentials).",
    no_args_is_help=True,
)

ProviderId = Annotated[str, typer.Argument(metavar="ID", help="The provider id, e.g. acme.")]


def _registry(profile, stack_name, region, endpoint_url, aws_profile):
    from ingestcli.services.providers import ProviderRegistry

    settings = settings_for(
        profile,
        stack_name=stack_name,
        region=region,
        endpoint_url=endpoint_url,
        aws_profile=aws_profile,
    )
    (dynamodb,) = clients_for(settings, "dynamodb")
    return ProviderRegistry(dynamodb, stack_output(settings, "ProvidersTable"))


def _show_token(provider_id: str, token: str, output_format: OutputFormat, action: str) -> None:
    from ingestcli.cli.render import output

    if output_format is OutputFormat.json:
        output.print_json({"provider_id": provider_id, "token": token})
        return
    output.stderr.print(
        f"{action} [bold]{provider_id}[/]. Its upload token is below; it is shown only this "
        "once, so hand it to the provider now (they save it with `ingest login`):"
    )
    output.stdout.print(token, markup=False, highlight=False)


@provider_app.command("add")
@reports_errors
def add(
    provider_id: ProviderId,
    timezone: Annotated[
        str | None,
        typer.Option(
            metavar="TZ",
            help="IANA time zone for date_time values sent without an offset, "
            "e.g. America/Chicago.",
        ),
    ] = None,
    output_format: FormatOption = OutputFormat.text,
    profile: ProfileOption = None,
    stack_name: StackOption = None,
    region: RegionOption = None,
    endpoint_url: EndpointOption = None,
    aws_profile: AwsProfileOption = None,
) -> None:
    """Register a provider and print its upload token (only its hash is stored)."""
    registry = _registry(profile, stack_name, region, endpoint_url, aws_profile)
    provider, token = registry.add(provider_id, timezone)
    _show_token(provider.provider_id, token, output_format, "Added provider")


@provider_app.command("list")
@reports_errors
def list_providers(
    output_format: FormatOption = OutputFormat.text,
    profile: ProfileOption = None,
    stack_name: StackOption = None,
    region: RegionOption = None,
    endpoint_url: EndpointOption = None,
    aws_profile: AwsProfileOption = None,
) -> None:
    """List the providers with their status and time zone."""
    import dataclasses

    from ingestcli.cli.render import output

    providers = _registry(profile, stack_name, region, endpoint_url, aws_profile).list_providers()
    if output_format is OutputFormat.json:
        output.print_json([dataclasses.asdict(provider) for provider in providers])
        return
    from ingestcli.cli.render.providers import render_providers

    render_providers(providers)


@provider_app.command("revoke")
@reports_errors
def revoke(
    provider_id: ProviderId,
    yes: YesOption = False,
    profile: ProfileOption = None,
    stack_name: StackOption = None,
    region: RegionOption = None,
    endpoint_url: EndpointOption = None,
    aws_profile: AwsProfileOption = None,
) -> None:
    """Stop a provider's access at once: its token and uploads not yet ingested."""
    from ingestcli.cli.render.output import stdout

    registry = _registry(profile, stack_name, region, endpoint_url, aws_profile)
    registry.require(provider_id)  # an unknown id is an error, not a question
    if not yes and not sys.stdin.isatty():
        raise UsageError("revoking asks for confirmation: with no terminal to ask on, add --yes")
    if not yes and not confirm(f"Revoke provider {provider_id}? Its token stops working now."):
        stdout.print("Cancelled: nothing changed.")
        raise typer.Exit(EXIT_PROBLEMS)
    registry.revoke(provider_id)
    stdout.print(f"Revoked provider {provider_id}: its token no longer works.")


@provider_app.command("rotate")
@reports_errors
def rotate(
    provider_id: ProviderId,
    output_format: FormatOption = OutputFormat.text,
    profile: ProfileOption = None,
    stack_name: StackOption = None,
    region: RegionOption = None,
    endpoint_url: EndpointOption = None,
    aws_profile: AwsProfileOption = None,
) -> None:
    """Give a provider a new token; the old one stops working at once."""
    token = _registry(profile, stack_name, region, endpoint_url, aws_profile).rotate(provider_id)
    _show_token(provider_id, token, output_format, "New token for")


@reports_errors
def presign(
    provider: Annotated[str, typer.Option(metavar="ID", help="The provider the URL is for.")],
    filename: Annotated[
        str | None, typer.Option(help="The file's name, kept with the upload.")
    ] = None,
    expires_in: Annotated[int, typer.Option(metavar="SECONDS", help="Lifetime of the URL.")] = 900,
    output_format: FormatOption = OutputFormat.text,
    profile: ProfileOption = None,
    stack_name: StackOption = None,
    region: RegionOption = None,
    endpoint_url: EndpointOption = None,
    aws_profile: AwsProfileOption = None,
) -> None:
    """An upload URL for a provider, to hand over out of band (`ingest upload FILE --url`),
    with a URL of its report, valid 7 days (`--report-url`), and the PUT's exact headers."""
    from ingestcli.cli.render import output
    from ingestcli.services.presign import presign_upload
    from ingestcli.services.session import aws_errors

    settings = settings_for(
        profile,
        stack_name=stack_name,
        region=region,
        endpoint_url=endpoint_url,
        aws_profile=aws_profile,
    )
    s3, dynamodb = clients_for(settings, "s3", "dynamodb")
    with aws_errors():
        answer = presign_upload(
            s3,
            dynamodb,
            bucket=stack_output(settings, "UploadsBucket"),
            uploads_table=stack_output(settings, "UploadsTable"),
            provider=provider,
            filename=filename,
            expires_in=expires_in,
        )
    if output_format is OutputFormat.json:
        output.print_json(answer)
        return
    from ingestcli.cli.render.upload import render_presigned

    render_presigned(answer, provider)
