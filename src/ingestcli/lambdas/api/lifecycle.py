"""What a provider asks about an upload once its URL is handed out, and about itself:

    GET  /provider                    -> 200 {"provider", "timezone"} (null when none)
    GET  /uploads/<upload_id>         -> 200 the report once finished, else
                                         {"upload_id", "status", "progress"}
    POST /uploads/<upload_id>/abandon -> 200 the upload's summary, as GET /uploads lists it;
                                         409 upload_not_pending once its file has arrived

`ingest upload` checks a file before sending it with the time zone the server will use, so
it asks for the provider's. Status and summaries show the status as core/upload_view.py
derives it (`expired` when the URL ran out with no file at the key), checked by listing the
one key: this role may list upload keys but never read an upload. `progress` holds the counts
the ingest run notes as it goes (rows, bytes read, file size), never a value from the file.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ingestcli.core.layout import UPLOAD_ID
from ingestcli.core.ledger import UploadLedger, UploadNotPending
from ingestcli.core.providers_table import read_provider
from ingestcli.core.reports import read_report
from ingestcli.core.upload_view import (
    multipart_open,
    object_at_key,
    shown_status,
    upload_progress,
    upload_summary,
)
from ingestcli.lambdas.api.answers import ApiError

NOT_PENDING = (
    "a file has reached this upload's URL, so it cannot be abandoned: it is ingested as usual "
    "(see its report)"
)


def check_upload_id(upload_id: str, line: dict[str, Any]) -> str:
    """The upload id of a path, refused (400) unless it has the shape the server gives."""
    if not UPLOAD_ID.fullmatch(upload_id):
        raise ApiError(400, "invalid_upload_id", "that is not an upload id")
    line["upload_id"] = upload_id
    return upload_id


def provider_settings(dynamodb: Any, providers_table: str, provider: str) -> dict[str, Any]:
    """The provider's id and the IANA time zone the ingest Lambda reads its files in."""
    item = read_provider(dynamodb, providers_table, provider, "time_zone") or {}
    zone = item.get("time_zone")
    return {"provider": provider, "timezone": str(zone) if zone else None}


class Lifecycle:
    """An upload's status and its abandonment, for one provider's uploads only (another
    provider's upload is unknown: 404)."""

    def __init__(self, ledger: UploadLedger, s3: Any, bucket: str) -> None:
        self.ledger, self.s3, self.bucket = ledger, s3, bucket
        self.object_exists = object_at_key(s3, bucket)
        self.open = multipart_open(s3, bucket)

    def status(self, provider: str, upload_id: str, now: datetime) -> dict[str, Any]:
        """The upload's report once it is finished; before, its status and progress."""
        item = self.ledger.get(provider, upload_id)
        if item is None:
            raise ApiError(404, "upload_not_found", "no such upload")
        report = read_report(self.s3, self.bucket, provider, upload_id)
        if report is not None:
            return report
        return {
            "upload_id": upload_id,
            "status": shown_status(item, now, self.object_exists, self.open),
            "progress": upload_progress(item),
        }

    def abandon(self, provider: str, upload_id: str, now: datetime) -> dict[str, Any]:
        """Mark the upload abandoned while no file has reached it; its summary then."""
        try:
            item = self.ledger.abandon(provider, upload_id)
        except UploadNotPending:
            raise ApiError(409, "upload_not_pending", NOT_PENDING) from None
        if item is None:
            raise ApiError(404, "upload_not_found", "no such upload")
        return self.summary(item, now)

    def summary(self, item: dict[str, Any], now: datetime) -> dict[str, Any]:
        return upload_summary(
            item, object_exists=self.object_exists, now=now, upload_open=self.open
        )
