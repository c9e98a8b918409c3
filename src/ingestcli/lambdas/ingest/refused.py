"""Rows DynamoDB refused, turned into rejections so that the report keeps matching the table.

The ingestor counts a valid row as it puts it: `written` for the first row of a key in the
upload, `duplicates` for each later one (the later row wins). When DynamoDB then refuses an
item (ItemWriter hands it back once its threads are done with it), that guess is settled
per key against the table itself, after a flush: if the table holds the key with this
upload's id (a consistent read), some row of that key was stored, so each refused row of
it turns one `duplicates` into `rejected`; if not, no row of it was, so the first refused
row turns the key's one `written` into `rejected` and any other refused row of that key one
`duplicates`. The items carrying the upload's id then number `written`, and `rows` still
equals `written + rejected + duplicates`.

A key none of whose rows was stored is forgotten by the keys already seen, so that a row of
it in a later run counts as `written` again: that is what a checkpoint saves.

Only line numbers, counts and error codes leave here: never a value from the row.
"""

from __future__ import annotations

import hashlib
from array import array
from typing import Any, NamedTuple

from ingestcli.core.layout import UploadRef
from ingestcli.core.reports import Progress
from ingestcli.lambdas.ingest.rejects import RejectsBuffer
from ingestcli.lambdas.ingest.seen_keys import SeenKeys
from ingestcli.lambdas.ingest.writer import ItemWriter, Refused

REFUSED_CODE = "item_refused_by_database"


class RefusedRow(NamedTuple):
    """The tag a row's item is put with: what its rejection needs if the table refuses it."""

    line: int
    fields: list[str]  # the row as sent
    digest: int  # its key's digest, as SeenKeys holds it


def key_digest(key: str) -> int:
    """The 8-byte digest SeenKeys keeps for a sort key."""
    return int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest())


def refused_problem(line: int, code: str) -> dict[str, Any]:
    return {
        "line": line,
        "column": None,
        "code": REFUSED_CODE,
        "message": f"the database refused to store this record ({code}), though it passed "
        "every check of the file's contract; the other rows were stored",
    }


class Refusals:
    """Settles the rows the table refused into one upload's counts and rejects file."""

    def __init__(
        self,
        dynamodb: Any,
        table: str,
        ref: UploadRef,
        progress: Progress,
        rejects: RejectsBuffer,
    ) -> None:
        self.dynamodb, self.table, self.ref = dynamodb, table, ref
        self.progress, self.rejects = progress, rejects

    def settle(self, writer: ItemWriter, seen: SeenKeys) -> SeenKeys:
        """Flush the writer, settle what it refused, and return the keys seen (without the
        keys none of whose rows is in the table). Call from the thread that puts."""
        writer.flush()
        refused = writer.take_refused()
        if not refused:
            return seen
        by_key: dict[tuple[str, str], list[Refused]] = {}
        for entry in sorted(refused, key=lambda entry: entry.tag.line):
            by_key.setdefault(entry.key, []).append(entry)
        forgotten: set[int] = set()
        for key, entries in by_key.items():
            stored = self._holds(key)
            for position, entry in enumerate(entries):
                row: RefusedRow = entry.tag
                if position == 0 and not stored:
                    self.progress.written -= 1
                    forgotten.add(row.digest)
                else:
                    self.progress.duplicates -= 1
                problem = refused_problem(row.line, entry.code)
                self.rejects.reject(self.progress, row.line, [problem], row.fields)
        if not forgotten:
            return seen
        digests = array("Q", seen.to_bytes())
        return SeenKeys(array("Q", (digest for digest in digests if digest not in forgotten)))

    def _holds(self, key: tuple[str, str]) -> bool:
        """Whether the table holds this key as written by this upload."""
        answer = self.dynamodb.get_item(
            TableName=self.table,
            Key={"providerId": {"S": key[0]}, "sortKey": {"S": key[1]}},
            ConsistentRead=True,
            ProjectionExpression="#upload",
            ExpressionAttributeNames={"#upload": "upload_id"},
        )
        held = answer.get("Item", {}).get("upload_id", {}).get("S")
        return held == self.ref.upload_id
