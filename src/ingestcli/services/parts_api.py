"""The API's multipart routes, as the client calls them (lambdas/api/multipart.py serves
them): open an upload in parts, get part URLs, list the parts S3 holds, complete."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

from ingestcli.core.multipart import MAX_PARTS_PER_REQUEST
from ingestcli.services.api_client import ApiClient, printable
from ingestcli.services.read_once import Digest


class PartsApi:
    """One provider's multipart calls, over its ApiClient."""

    def __init__(self, client: ApiClient) -> None:
        self.client = client

    def _path(self, upload_id: str, route: str) -> str:
        return f"/uploads/{quote(upload_id, safe='')}/{route}"

    def _missing(self, upload_id: str) -> str:
        return f"no upload {printable(upload_id, 80)} for this token: see `ingest uploads`"

    def open(self, filename: str, digest: Digest) -> dict[str, Any]:
        """A new upload in parts: upload_id, key, part_size, parts, expires_at (until when
        it can be resumed)."""
        body = {
            "filename": filename,
            "size": digest.size,
            "sha256": digest.sha256,
            "part_size": digest.part_size,
        }
        opened = self.client.call("POST", "/uploads", body)
        if not isinstance(opened.get("upload_id"), str) or opened.get("parts") != len(
            digest.part_sha256
        ):
            raise self.client.not_our_api("its answer to an upload in parts lacks its plan")
        return opened

    def part_urls(self, upload_id: str, parts: Sequence[tuple[int, str]]) -> dict[int, dict]:
        """{part number: {"url", "headers"}} for each (number, SHA-256) asked for."""
        if not 1 <= len(parts) <= MAX_PARTS_PER_REQUEST:
            raise ValueError("ask for 1 to MAX_PARTS_PER_REQUEST parts at a time")
        body = {"parts": [{"part_number": n, "sha256": sha256} for n, sha256 in parts]}
        answer = self.client.call(
            "POST", self._path(upload_id, "parts"), body, missing=self._missing(upload_id)
        )
        found = answer.get("parts")
        if not isinstance(found, list) or not all(_is_part_url(part) for part in found):
            raise self.client.not_our_api("its part URLs lack url or headers")
        return {part["part_number"]: part for part in found}

    def stored_parts(self, upload_id: str) -> dict[str, Any]:
        """{"status", "open", "parts": [{"part_number", "size", "sha256"}]}: what S3 holds."""
        answer = self.client.call(
            "GET", self._path(upload_id, "parts"), missing=self._missing(upload_id)
        )
        parts = answer.get("parts")
        if not isinstance(answer.get("open"), bool) or not isinstance(parts, list):
            raise self.client.not_our_api("its list of stored parts is not a list")
        return answer

    def complete(self, upload_id: str) -> dict[str, Any]:
        """Make the stored parts one object: its ingest starts as for one PUT."""
        answer = self.client.call(
            "POST", self._path(upload_id, "complete"), missing=self._missing(upload_id)
        )
        if not isinstance(answer.get("status"), str):
            raise self.client.not_our_api("its answer to a completion has no status")
        return answer


def _is_part_url(part: Any) -> bool:
    return (
        isinstance(part, dict)
        and isinstance(part.get("part_number"), int)
        and isinstance(part.get("url"), str)
        and isinstance(part.get("headers"), dict)
        and all(isinstance(value, str) for value in part["headers"].values())
    )
