"""Items of the records table, built as the ingest Lambda builds them."""

from __future__ import annotations

from typing import Any

from ingestcli.core.contract import DATE_TIME_COLUMN, MRN_COLUMN, check_mrn, parse_header, to_item
from ingestcli.core.date_time import normalise_date_time
from support.names import PROVIDER

INGESTED_AT = "2024-03-05T00:00:00.000000Z"


def item(
    mrn: str,
    date_time: str,
    columns: dict[str, str] | None = None,
    *,
    provider: str = PROVIDER,
    upload_id: str = "upload-a",
    line: int = 2,
) -> dict[str, Any]:
    """The item the ingest Lambda writes for one valid row."""
    columns = columns or {}
    header = parse_header([MRN_COLUMN, DATE_TIME_COLUMN, *columns])
    fields = [mrn, date_time, *columns.values()]
    return to_item(
        header,
        fields,
        check_mrn(mrn),
        normalise_date_time(date_time),
        provider_id=provider,
        upload_id=upload_id,
        source_line=line,
        ingested_at=INGESTED_AT,
    )
