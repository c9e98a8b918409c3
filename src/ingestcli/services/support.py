"""What support staff read: one patient's records, an upload's report, a provider's uploads.

Records are found with one DynamoDB Query on the provider's partition, bounded by the sort
key `<mrn>#<date_time UTC>`, never with a Scan: a Scan reads every tenant's rows to find one
patient's, costs the whole table each time and puts other patients' data on the wire.

Every read first checks, with one GetItem on the providers table, that the provider is
registered and active: a mistyped id would otherwise answer "no records for this MRN", and
support staff could take that to mean the patient has none.

Error messages never repeat the MRN or a bound as typed: the MRN is patient data, and a
message may end up in a terminal log or a support ticket.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

from ingestcli.core.contract import KEY_ATTRIBUTES, ContractViolation, check_mrn, sort_key
from ingestcli.core.date_time import normalise_date_time
from ingestcli.core.items import flatten, query_items
from ingestcli.core.layout import UPLOAD_ID, UPLOAD_ID_RULE
from ingestcli.core.ledger import UploadLedger, upload_summary
from ingestcli.core.providers_table import ACTIVE, REVOKED, read_provider
from ingestcli.core.reports import read_report
from ingestcli.core.upload_view import multipart_open, object_at_key
from ingestcli.errors import NotFound, UsageError
from ingestcli.services.providers import ProviderRevoked, UnknownProvider, check_provider_id
from ingestcli.services.session import aws_errors, aws_errors_while

if TYPE_CHECKING:
    from botocore.client import BaseClient

Record = dict[str, str | int]

# The latest instant a normalised date_time can hold: the upper bound of an open range. Every
# other MRN that starts with this one continues with a letter, digit, '.', '_' or '-', all of
# which sort after '#', so "<mrn>#" ... "<mrn>#<LATEST>" never reaches another patient's keys.
LATEST = "9999-12-31T23:59:59.999999Z"
_PLAIN_DATE = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)
_DAY_START, _DAY_END = "T00:00:00.000000Z", "T23:59:59.999999Z"


@dataclass(frozen=True)
class ProvidersTable:
    """The providers table (stack output ProvidersTable), through a DynamoDB client."""

    dynamodb: BaseClient
    name: str

    def require_active(self, provider: str) -> None:
        """Raise UnknownProvider or ProviderRevoked (exit 2), naming the id, unless the
        provider is registered and active; AwsError if the table cannot be read."""
        with aws_errors():
            found = read_provider(self.dynamodb, self.name, provider, "providerId", "status")
        if found is None:
            raise UnknownProvider(
                f"--provider: no provider '{provider}' is registered: check the id "
                "(`ingest provider list` shows them)"
            )
        if found.get("status") != ACTIVE:
            state = "revoked" if found.get("status") == REVOKED else "not active"
            raise ProviderRevoked(
                f"--provider: provider '{provider}' is {state}: only an active provider's "
                "data is shown; ask an operator"
            )


def _check_limit(limit: int | None) -> None:
    if limit is not None and limit < 1:
        raise UsageError("--limit must be at least 1")


def parse_bound(text: str, *, end_of_day: bool) -> str:
    """A --since (start) or --until (end, `end_of_day`) bound as a UTC instant, as keys store it.

    A plain date (YYYY-MM-DD) means that whole day in UTC: from its first microsecond, or up
    to and including its last. A date and time must carry a UTC offset (or Z): a record is
    stored at its UTC instant, and a bound read in this machine's zone would shift the range.
    """
    option = "--until" if end_of_day else "--since"
    text = text.strip()
    if _PLAIN_DATE.fullmatch(text):
        try:
            day = date.fromisoformat(text)
        except ValueError:
            raise UsageError(f"{option}: not a real date (YYYY-MM-DD)") from None
        return day.isoformat() + (_DAY_END if end_of_day else _DAY_START)
    try:
        return normalise_date_time(text)
    except ContractViolation as violation:
        if violation.code == "date_time_no_offset":
            message = "has no UTC offset: add one (such as -05:00 or Z), or give a plain date"
        elif violation.code == "date_time_no_time":
            message = "give a date as YYYY-MM-DD, or a date and time with a UTC offset"
        else:
            message = violation.message
        raise UsageError(f"{option}: {message}") from None


def records(
    dynamodb: BaseClient,
    table: str,
    provider: str,
    mrn: str,
    *,
    since: str | None = None,
    until: str | None = None,
    limit: int | None = None,
    newest_first: bool = False,
    providers: ProvidersTable | None = None,
) -> Iterator[Record]:
    """One patient's records, oldest first (or newest), read page by page as they are used.

    `since` and `until` are inclusive (see parse_bound). Every argument is checked before
    any call, so a bad one raises UsageError at once; then the provider must be active in
    `providers` (None skips that: for a caller that has just registered it); AWS failures
    of the Query raise AwsError while iterating. At most `limit` items are ever read.
    """
    check_provider_id(provider, "--provider")
    try:
        mrn = check_mrn(mrn)
    except ContractViolation as violation:
        raise UsageError(f"--mrn: {violation.message}") from None
    _check_limit(limit)
    low = None if since is None else parse_bound(since, end_of_day=False)
    high = None if until is None else parse_bound(until, end_of_day=True)
    if low is not None and high is not None and low > high:
        raise UsageError("--since is later than --until: no record can fall between them")
    if providers is not None:
        providers.require_active(provider)
    values = {":provider": {"S": provider}}
    if low is None and high is None:
        condition = "begins_with(sortKey, :prefix)"
        values[":prefix"] = {"S": sort_key(mrn, "")}
    else:
        condition = "sortKey BETWEEN :low AND :high"
        values[":low"] = {"S": sort_key(mrn, low or "")}
        values[":high"] = {"S": sort_key(mrn, high or LATEST)}
    request: dict[str, Any] = {
        "TableName": table,
        "KeyConditionExpression": f"providerId = :provider AND {condition}",
        "ExpressionAttributeValues": values,
        "ScanIndexForward": not newest_first,
    }
    items = aws_errors_while(query_items(dynamodb, request, limit))
    return (flatten(item, leave_out=KEY_ATTRIBUTES) for item in items)


def report(
    s3: BaseClient,
    bucket: str,
    provider: str,
    upload_id: str,
    *,
    providers: ProvidersTable | None = None,
) -> dict[str, Any]:
    """An upload's report, as the ingest Lambda wrote it. Raises UsageError for ids of the
    wrong shape or a provider not active in `providers` (None skips that check), NotFound
    when there is no report (a wrong id, another provider's upload, or a file still being
    ingested), AwsError otherwise."""
    check_provider_id(provider, "--provider")
    if not UPLOAD_ID.fullmatch(upload_id):
        raise UsageError(UPLOAD_ID_RULE)
    if providers is not None:
        providers.require_active(provider)
    with aws_errors():
        found = read_report(s3, bucket, provider, upload_id)
    if found is None:
        raise NotFound(
            f"no report for upload {upload_id} of provider {provider}: check both ids "
            f"(`ingest uploads --provider {provider}`); a file still being ingested has "
            "none yet"
        )
    return found


def uploads(
    dynamodb: BaseClient,
    table: str,
    provider: str,
    limit: int,
    *,
    providers: ProvidersTable | None = None,
    s3: BaseClient | None = None,
    bucket: str | None = None,
) -> list[dict[str, Any]]:
    """The provider's latest `limit` uploads, newest first, shaped as the API lists them
    (with `s3` and `bucket`, an upload whose URL expired unused shows as `expired`, and one
    in parts that S3 aborted as `abandoned`, as the API shows them); UsageError for a
    provider not active in `providers` (None skips that check)."""
    check_provider_id(provider, "--provider")
    _check_limit(limit)
    if providers is not None:
        providers.require_active(provider)
    with aws_errors():
        found = object_at_key(s3, bucket) if s3 is not None and bucket else None
        still_open = multipart_open(s3, bucket) if s3 is not None and bucket else None
        return [
            upload_summary(item, object_exists=found, upload_open=still_open)
            for item in UploadLedger(dynamodb, table).recent(provider, limit)
        ]
