"""What `ingest upload` keeps on this computer to resume an upload in parts: ids only, mode
0600, and found again only for the same file, part size, API and token."""

from __future__ import annotations

import stat
from pathlib import Path

from ingestcli.services.read_once import Digest
from ingestcli.services.resume import ResumeBook

DIGEST = Digest(100, "ab" * 32, 5 * 1024**2, ("cd" * 32,))
OPENED = {"upload_id": "u1", "key": "acme/uploads/u1.csv", "expires_at": "2026-12-07T00:00:00Z"}
CALLER = "http://127.0.0.1:9000\n0123456789abcdef"


def test_an_upload_opened_is_found_again_for_the_same_file(tmp_path: Path) -> None:
    ResumeBook(CALLER, DIGEST, tmp_path).remember(OPENED | {"part_size": 5, "parts": 1})
    book = ResumeBook(CALLER, DIGEST, tmp_path)
    assert book.find() == OPENED
    assert stat.S_IMODE(book.path.stat().st_mode) == 0o600
    book.forget()
    assert book.find() is None
    book.forget()  # forgetting twice is no error


def test_another_file_part_size_api_or_token_finds_nothing(tmp_path: Path) -> None:
    ResumeBook(CALLER, DIGEST, tmp_path).remember(OPENED)
    others = [
        (CALLER, Digest(100, "ef" * 32, DIGEST.part_size, DIGEST.part_sha256)),
        (CALLER, Digest(101, DIGEST.sha256, DIGEST.part_size, DIGEST.part_sha256)),
        (CALLER, Digest(100, DIGEST.sha256, 6 * 1024**2, DIGEST.part_sha256)),
        ("http://127.0.0.1:9001\n0123456789abcdef", DIGEST),
        ("http://127.0.0.1:9000\nfedcba9876543210", DIGEST),
    ]
    for caller, digest in others:
        assert ResumeBook(caller, digest, tmp_path).find() is None


def test_a_damaged_record_is_ignored(tmp_path: Path) -> None:
    book = ResumeBook(CALLER, DIGEST, tmp_path)
    book.path.parent.mkdir(parents=True, exist_ok=True)
    for text in ["", "{", "[]", '{"upload_id": 1, "key": "k", "expires_at": "e"}']:
        book.path.write_text(text)
        assert book.find() is None


def test_a_record_that_cannot_be_written_only_loses_resuming(tmp_path: Path) -> None:
    blocked = tmp_path / "file-not-folder"
    blocked.write_text("")
    book = ResumeBook(CALLER, DIGEST, blocked)
    book.remember(OPENED)
    assert book.find() is None


def test_the_caller_names_the_token_by_fingerprint_only() -> None:
    from ingestcli.services.api_client import ApiClient

    token = "tok_" + "x" * 40
    caller = ApiClient("http://127.0.0.1:9000/", token).caller
    assert caller.startswith("http://127.0.0.1:9000\n") and token not in caller
    assert caller != ApiClient("http://127.0.0.1:9000/", token + "y").caller
