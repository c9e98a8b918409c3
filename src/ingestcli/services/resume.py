"""Which upload in parts a file was being sent to, kept on this computer so that running the
same `ingest upload` again resumes it instead of starting over.

One small JSON file per upload in progress, under the state folder ($XDG_STATE_HOME/ingest/
resume, mode 0600), named by a hash of what makes it the same upload: the API, the token
(by fingerprint), the file's SHA-256, size and part size. A changed file, another token or
another stack finds nothing and starts a new upload. The file holds ids only (upload id,
key, until when S3 keeps the parts), never anything of the file's contents or the token.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from pathlib import Path
from typing import Any

from ingestcli.errors import ConfigError
from ingestcli.services.config import state_dir, write_atomically
from ingestcli.services.read_once import Digest

_FIELDS = ("upload_id", "key", "expires_at")


def resume_dir() -> Path:
    return state_dir() / "resume"


class ResumeBook:
    """The record of one file's upload in parts, for one API and token."""

    def __init__(self, caller: str, digest: Digest, folder: Path | None = None) -> None:
        """`caller`: ApiClient.caller, the API and the token's fingerprint."""
        identity = "\n".join([caller, digest.sha256, str(digest.size), str(digest.part_size)])
        name = hashlib.sha256(identity.encode()).hexdigest()[:32]
        self.path = (folder or resume_dir()) / f"{name}.json"

    def find(self) -> dict[str, str] | None:
        """The upload this file was being sent to, or None (none, or an unreadable record)."""
        try:
            found = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if not isinstance(found, dict) or not all(isinstance(found.get(f), str) for f in _FIELDS):
            return None
        return {name: found[name] for name in _FIELDS}

    def remember(self, opened: dict[str, Any]) -> None:
        """Keep the upload just opened; a record that cannot be written only loses resuming."""
        record = {name: str(opened.get(name) or "") for name in _FIELDS}
        with contextlib.suppress(ConfigError):
            write_atomically(self.path, json.dumps(record))

    def forget(self) -> None:
        self.path.unlink(missing_ok=True)
