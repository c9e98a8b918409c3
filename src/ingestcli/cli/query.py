"""`ingest query`: one patient's records, for support staff with read-only AWS credentials."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer

from ingestcli.cli.exits import reports_errors
from ingestcli.cli.options import (
    AwsProfileOption,
    EndpointOption,
    ProfileOption,
    RegionOption,
    StackOption,
    clients_for,
    settings_for,
    stack_output,
)


class RecordFormat(StrEnum):
    text = "text"  # for people: a table, as every command's `--format text`
    json = "json"
    csv = "csv"


# `table`, query's first name for `text`: still taken, so no script breaks, but not offered.
_ALIASES = {"table": RecordFormat.text}
_FORMATS = ", ".join(f"'{member}'" for member in RecordFormat)


def _record_format(value: str | RecordFormat) -> RecordFormat:
    """--format's value: a RecordFormat, or an alias; anything else is a usage error (exit 2)."""
    if isinstance(value, RecordFormat):  # the default
        return value
    if value in _ALIASES:
        return _ALIASES[value]
    try:
        return RecordFormat(value)
    except ValueError:
        raise typer.BadParameter(f"{value[:40]!r} is not one of {_FORMATS}.") from None


@reports_errors
def query(
    provider: Annotated[str, typer.Option(metavar="ID", help="The provider (its partition).")],
    mrn: Annotated[str, typer.Option(metavar="MRN", help="The patient's medical record number.")],
    since: Annotated[
        str | None,
        typer.Option(metavar="T", help="From this instant (ISO 8601 with an offset) or date."),
    ] = None,
    until: Annotated[
        str | None,
        typer.Option(metavar="T", help="Up to this instant or date, inclusive."),
    ] = None,
    limit: Annotated[int | None, typer.Option(min=1, help="At most this many records.")] = None,
    reverse: Annotated[bool, typer.Option("--reverse", help="Newest first.")] = False,
    output_format: Annotated[
        RecordFormat,
        typer.Option(
            "--format",
            parser=_record_format,
            metavar="<" + "|".join(RecordFormat) + ">",
            help="text (a table, for people), json (an array) or csv.",
        ),
    ] = RecordFormat.text,
    profile: ProfileOption = None,
    stack_name: StackOption = None,
    region: RegionOption = None,
    endpoint_url: EndpointOption = None,
    aws_profile: AwsProfileOption = None,
) -> None:
    """A patient's records, oldest first: one DynamoDB Query on the provider's partition.

    An unknown or revoked provider is an error (exit 2), read from the providers table
    first; an active provider with no records for the MRN is not (exit 0)."""
    from ingestcli.cli.render.query import (
        render_records_table,
        write_records_csv,
        write_records_json,
    )
    from ingestcli.services.session import aws_errors
    from ingestcli.services.support import ProvidersTable, records

    settings = settings_for(
        profile,
        stack_name=stack_name,
        region=region,
        endpoint_url=endpoint_url,
        aws_profile=aws_profile,
    )
    (dynamodb,) = clients_for(settings, "dynamodb")
    found = records(
        dynamodb,
        stack_output(settings, "RecordsTable"),
        provider,
        mrn,
        since=since,
        until=until,
        limit=limit,
        newest_first=reverse,
        providers=ProvidersTable(dynamodb, stack_output(settings, "ProvidersTable")),
    )
    with aws_errors():
        if output_format is RecordFormat.json:
            write_records_json(found)
        elif output_format is RecordFormat.csv:
            write_records_csv(found)
        else:
            render_records_table(found, limit=limit)
