"""Where `ingest upload` sends a file: through the API with the provider's token (one PUT,
or parts above the plan's threshold), or to an operator's presigned URL (`ingest presign`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import tzinfo
from typing import Any
from urllib.parse import unquote

from ingestcli.core.layout import UPLOAD_KEY
from ingestcli.core.multipart import MAX_OBJECT_BYTES, MAX_PUT_BYTES
from ingestcli.services.api_client import ApiClient, check_url
from ingestcli.services.parts import PartPlan
from ingestcli.services.read_once import Digest
from ingestcli.services.report_url import report_fetcher, report_upload_id
from ingestcli.services.s3_put import Progress
from ingestcli.services.upload import upload, upload_with_url, zone_for_check

# An operator's URL is one PUT: S3's limit for it, and what to do instead.
_ONE_PUT: dict[str, Any] = {
    "max_size": MAX_PUT_BYTES,
    "limit": "(5 GiB) one presigned URL takes: send it with an upload token (`ingest login`), "
    "which sends it in parts",
}

Send = Callable[[str, Progress | None, Digest], dict[str, Any]]


@dataclass(frozen=True)
class Route:
    """Where a file goes: `send(path, on_progress, digest)` sends it and returns at least its
    upload_id; `fetch(upload_id)` reads its status, or None not to wait for the report;
    `plan.part_size_for(size)`, the part size of a file sent in parts (None: one PUT);
    `max_size`, the largest file it takes, refused before the file is read, and `limit`,
    what that limit is, said in the refusal."""

    send: Send
    fetch: Callable[[str], dict[str, Any]] | None = None
    plan: PartPlan | None = None
    max_size: int = MAX_OBJECT_BYTES
    limit: str = "S3 stores as one object"

    def size_problem(self, size: int | None) -> str | None:
        """Why a file of `size` bytes cannot go this way, or None."""
        if size is None or size <= self.max_size:
            return None
        return f"the file is larger than the {self.max_size:,} bytes {self.limit}"

    def part_size_for(self, size: int | None) -> int | None:
        return self.plan.part_size_for(size) if self.plan and size is not None else None


def api_route(
    client: ApiClient,
    assume_tz: str | None,
    wait: bool,
    quick: ApiClient | None = None,
    plan: PartPlan | None = None,
) -> tuple[Route, tzinfo | None]:
    """The token's way (`quick`, a client that gives up sooner, abandons what is stopped;
    files above `plan`'s threshold go in parts), and the zone of the local check: the one
    registered for the token's provider (asked first, which also proves the token before
    any file is read)."""
    zone = zone_for_check(client.provider_settings().get("timezone"), assume_tz)
    plan = plan or PartPlan()

    def send(path: str, on_progress: Progress | None, digest: Digest) -> dict[str, Any]:
        return upload(
            client, path, digest=digest, on_progress=on_progress, quick=quick,
            part_jobs=plan.jobs,
        )  # fmt: skip

    return Route(send, client.upload_status if wait else None, plan), zone


def url_route(url: str, report_url: str | None, wait: bool) -> tuple[Route, str | None]:
    """An operator's URL (`ingest presign`) and, with `report_url`, the report's presigned
    GET; and the provider the URL's key names (None if it names none)."""
    key = UPLOAD_KEY.search(unquote(check_url(url, "the upload URL").path))
    provider = key["provider"] if key else None
    if report_url is None:
        send_only = Route(
            lambda path, on, _: upload_with_url(url, path, on_progress=on), **_ONE_PUT
        )
        return send_only, provider
    upload_id = report_upload_id(report_url, url)  # checked before anything is sent

    def send(path: str, on_progress: Progress | None, _: Digest) -> dict[str, Any]:
        return upload_with_url(url, path, on_progress=on_progress) | {"upload_id": upload_id}

    fetch = report_fetcher(report_url) if wait else None
    return Route(send, fetch, **_ONE_PUT), provider
