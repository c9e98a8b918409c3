"""`ingest upload`: check the file in the provider's time zone, checksum it, get a presigned
URL, PUT the file (services/s3_put.py), and give the upload up if the PUT never lands; a
large file goes in parts instead (services/parts.py).

The file is read twice, once to check and checksum it (services/read_once.py) and once to
send it, so it must be a real file, not standard input. An upload whose URL was issued but
whose PUT S3 did not accept
(Ctrl-C, a refusal, a network failure) is abandoned through the API, best effort, so it
does not sit pending until its URL expires; the error that stopped it is re-raised as is,
with an `Abandonment` attached (see `abandonment()`).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import tzinfo
from typing import Any

from ingestcli.core.date_time import resolve_time_zone
from ingestcli.core.multipart import DEFAULT_PART_JOBS
from ingestcli.core.summary import Summary, summarize
from ingestcli.errors import IngestError, UsageError
from ingestcli.services.api_client import ApiClient, UploadNotPending, check_url, printable
from ingestcli.services.files import STDIN, open_binary
from ingestcli.services.parts import upload_in_parts
from ingestcli.services.presign import HEADERS as PRESIGNED_HEADERS
from ingestcli.services.read_once import Digest
from ingestcli.services.s3_put import CHUNK_BYTES as CHUNK_BYTES  # re-exported
from ingestcli.services.s3_put import SOCKET_TIMEOUT as SOCKET_TIMEOUT  # re-exported
from ingestcli.services.s3_put import USED as USED  # re-exported
from ingestcli.services.s3_put import Progress as Progress  # re-exported
from ingestcli.services.s3_put import PutFailed as PutFailed  # re-exported
from ingestcli.services.s3_put import UrlAlreadyUsed as UrlAlreadyUsed  # re-exported
from ingestcli.services.s3_put import UrlExpired as UrlExpired  # re-exported
from ingestcli.services.s3_put import _s3_error as _s3_error  # re-exported
from ingestcli.services.s3_put import put_file as put_file  # re-exported
from ingestcli.services.s3_put import sha256_of as sha256_of  # re-exported
from ingestcli.services.waiting import WaitTimeout as WaitTimeout  # re-exported
from ingestcli.services.waiting import wait_for_report as wait_for_report  # re-exported

# What became of an upload given up after its URL was issued.
ABANDONED = "abandoned"  # the API marked it abandoned: nothing of the file will be ingested
ARRIVED = "arrived"  # the API said the file had arrived after all (409): its report will come
NOT_ABANDONED = "not abandoned"  # the API could not be told; its URL expires unused


@dataclass(frozen=True)
class Abandonment:
    """An upload given up after its URL was issued, and what the API said to that."""

    upload_id: str
    key: str | None
    outcome: str  # ABANDONED, ARRIVED or NOT_ABANDONED
    reason: str = ""  # why NOT_ABANDONED, already printable


def abandonment(error: BaseException) -> Abandonment | None:
    """The upload `error` stopped after its URL was issued, if it did."""
    found = getattr(error, "ingest_abandonment", None)
    return found if isinstance(found, Abandonment) else None


def check_before_upload(path: str, zone: tzinfo | None = None) -> Summary:
    """The same check as `ingest validate`, so a file with bad rows is caught before it leaves."""
    with open_binary(path) as stream:
        return summarize(stream, zone)


def zone_for_check(registered: str | None, assumed: str | None) -> tzinfo | None:
    """The zone the local check reads date_time values without an offset in: the one the
    server will use, the zone registered for the provider. `--assume-tz` (`assumed`) may
    only repeat it: anything else would pass rows locally that the server reads otherwise.
    A registered zone this computer does not know is left to the server to judge: the
    check then reads no row without an offset."""
    if registered is None:
        if assumed is None:
            return None
        raise UsageError(
            f"--assume-tz {printable(assumed, 60)} cannot be used: no time zone is registered "
            "for your provider, so the server refuses rows whose date_time has no UTC offset; "
            "add offsets to the file, or ask your operator to register your time zone"
        )
    try:
        zone = resolve_time_zone(registered)
    except ValueError:
        zone = None
    if assumed in (None, registered):
        return zone
    try:
        same = resolve_time_zone(assumed) == zone
    except ValueError as exc:
        raise UsageError(f"--assume-tz: {exc}") from None
    if not same:
        raise UsageError(
            f"--assume-tz {printable(assumed, 60)} differs from the time zone registered for "
            f"your provider ({printable(registered, 60)}), which the server reads date_time "
            "values without an offset in: drop --assume-tz, or ask your operator to change it"
        )
    return zone


def abandon(client: ApiClient, upload_id: str) -> tuple[str, str]:
    """Give an upload up (POST /uploads/<id>/abandon), best effort and never raising an
    IngestError: (ABANDONED | ARRIVED | NOT_ABANDONED, why not). Pass a client with a short
    timeout and few attempts: someone is waiting for Ctrl-C to end."""
    try:
        client.abandon_upload(upload_id)
    except UploadNotPending:
        return ARRIVED, ""
    except IngestError as error:
        return NOT_ABANDONED, printable(str(error), 200)
    return ABANDONED, ""


def _uploadable(path: str) -> None:
    if path == STDIN:
        raise UsageError("give the path of a file: an upload reads it twice, so not -")


def _give_up(client: ApiClient, ticket: dict[str, Any], failure: BaseException) -> bool:
    """Abandon the ticket's upload after `failure`; attach what happened to the failure.
    True when the file had arrived after all (and the failure was not an interrupt)."""
    outcome, reason = abandon(client, ticket["upload_id"])  # a second Ctrl-C ends it
    found = Abandonment(ticket["upload_id"], ticket.get("key"), outcome, reason)
    failure.ingest_abandonment = found  # type: ignore[attr-defined]
    return outcome == ARRIVED and not isinstance(failure, KeyboardInterrupt)


def upload(
    client: ApiClient,
    path: str,
    *,
    digest: Digest | None = None,
    on_progress: Progress | None = None,
    fresh_urls: int = 2,
    sleep: Callable[[float], None] = time.sleep,
    quick: ApiClient | None = None,
    part_jobs: int = DEFAULT_PART_JOBS,
) -> dict[str, Any]:
    """Send a file through the API: checksum (unless `digest` has it), ask for a URL, PUT;
    ask again (up to `fresh_urls` times) if the URL expires first. Returns upload_id, key,
    filename, size and sha256 of the upload that holds the file. A failure (or Ctrl-C) once
    a URL is issued abandons that upload (through `quick`, a client that gives up sooner, if
    given), unless its file is in S3 after all. A digest with a part size sends the file in
    parts, `part_jobs` at a time, resumably (services/parts.py)."""
    _uploadable(path)
    if digest is not None and digest.part_size:
        return upload_in_parts(
            client, path, digest, jobs=part_jobs, on_progress=on_progress, sleep=sleep
        )
    quick = quick or client
    filename = os.path.basename(path)
    with open_binary(path) as stream:
        sha256, size = (digest.sha256, digest.size) if digest else sha256_of(stream)
        for renewal in range(fresh_urls + 1):
            ticket = client.create_upload(filename, size, sha256)
            try:
                put_file(ticket["url"], ticket["headers"], stream, size, on_progress, sleep=sleep)
                break
            except UrlAlreadyUsed as used:
                if used.after_lost_answer:  # nobody else has this URL: the file S3 holds is
                    break  # ours, and its report (checksum checked) says how it ended
                raise UrlAlreadyUsed(f"{USED}; upload it again, for a new URL") from None
            except UrlExpired:
                abandon(quick, ticket["upload_id"])  # its URL can take nothing any more
                if renewal == fresh_urls:
                    raise UrlExpired(
                        f"the upload URL expired before the file was sent, {renewal + 1} times: "
                        "check this computer's clock, then try again",
                        "AccessDenied",
                    ) from None
            except BaseException as failure:  # Ctrl-C too: the upload must not stay pending
                if _give_up(quick, ticket, failure):
                    break
                raise
    held = {"upload_id": ticket["upload_id"], "key": ticket.get("key"), "filename": filename}
    return held | {"size": size, "sha256": sha256}


def upload_with_url(
    url: str,
    path: str,
    *,
    on_progress: Progress | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, Any]:
    """Send a file to a URL from `ingest presign`, which signs the headers of presign.HEADERS
    (their only values); UrlAlreadyUsed (exit 1) when the URL already holds a file."""
    _uploadable(path)
    parts = check_url(url, "the upload URL")
    with open_binary(path) as stream:
        size = os.fstat(stream.fileno()).st_size
        try:
            put_file(url, dict(PRESIGNED_HEADERS), stream, size, on_progress, sleep=sleep)
        except UrlAlreadyUsed as used:
            maybe = " (maybe by an earlier try of this one)" if used.after_lost_answer else ""
            raise UrlAlreadyUsed(f"{USED}{maybe}; ask your operator for a new URL") from None
        except UrlExpired:
            raise UrlExpired(
                "the upload URL has expired: ask your operator for a new one", "AccessDenied"
            ) from None
    return {"object": parts._replace(query="", fragment="").geturl(), "size": size}
