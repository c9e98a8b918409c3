"""Progress of an upload that spans Lambda runs, kept in the bucket beside the upload.

A save writes the files of its generation first (the keys seen so far, the rows refused in
this run) and the checkpoint document last: a run that dies halfway through a save leaves
the previous checkpoint whole, and the next save of that generation overwrites the strays.
"""

from __future__ import annotations

import tempfile
from typing import Any

from boto3.s3.transfer import TransferConfig

from ingestcli.core.aws_errors import is_missing
from ingestcli.core.layout import CHECKPOINT_TAG, REJECTS_TAG, UploadRef
from ingestcli.core.reports import Progress
from ingestcli.lambdas.ingest.rejects import RejectsBuffer
from ingestcli.lambdas.ingest.seen_keys import SeenKeys

# A large rejects file goes up in 8 MB parts, two at a time: boto3's default of ten in flight
# would hold 80 MB of rows in memory at once.
_TWO_PARTS_AT_A_TIME = TransferConfig(multipart_chunksize=8 << 20, max_concurrency=2)


class CheckpointStore:
    def __init__(self, s3: Any) -> None:
        self.s3 = s3

    def _file(self, ref: UploadRef, generation: int, kind: str) -> str:
        return ref.path("checkpoints", f".g{generation}.{kind}")

    def exists(self, bucket: str, key: str) -> bool:
        try:
            self.s3.head_object(Bucket=bucket, Key=key)
        except Exception as error:
            if is_missing(error):
                return False
            raise
        return True

    def _read(self, ref: UploadRef, key: str) -> bytes | None:
        try:
            return self.s3.get_object(Bucket=ref.bucket, Key=key)["Body"].read()
        except Exception as error:
            if is_missing(error):
                return None
            raise

    def load(self, ref: UploadRef) -> Progress | None:
        document = self._read(ref, ref.checkpoint_key)
        return Progress.from_json(document.decode()) if document is not None else None

    def load_keys(self, ref: UploadRef, progress: Progress) -> SeenKeys:
        """The key digests of the rows already written, to count the duplicates that follow."""
        if progress.generation == 0:
            return SeenKeys()
        blob = self._read(ref, self._file(ref, progress.generation, "keys"))
        if blob is None:
            raise RuntimeError("checkpoint keys missing")  # retried; never guessed
        return SeenKeys.from_bytes(blob)

    def save(
        self, ref: UploadRef, progress: Progress, seen: SeenKeys, rejects: RejectsBuffer | None
    ) -> None:
        progress.generation += 1
        generation = progress.generation
        self._put(ref, self._file(ref, generation, "keys"), seen.to_bytes())
        if rejects is not None and rejects.count:
            self._put(ref, self._file(ref, generation, "rejects"), rejects.rewound().read())
            progress.rejects_parts.append(generation)
        self._put(ref, ref.checkpoint_key, progress.to_json().encode())
        if generation > 1:
            self._delete(ref, self._file(ref, generation - 1, "keys"))

    def write_rejects(self, ref: UploadRef, progress: Progress, rejects: RejectsBuffer) -> None:
        """The refused rows of every run, in line order, under the header, as one CSV."""
        with tempfile.SpooledTemporaryFile(max_size=8 << 20) as combined:
            combined.write(rejects.header_row().encode("utf-8", "surrogateescape"))
            for generation in progress.rejects_parts:
                body = self.s3.get_object(
                    Bucket=ref.bucket, Key=self._file(ref, generation, "rejects")
                )["Body"]
                for chunk in iter(lambda body=body: body.read(1 << 20), b""):
                    combined.write(chunk)
            source = rejects.rewound()
            for chunk in iter(lambda: source.read(1 << 20), b""):
                combined.write(chunk)
            combined.seek(0)
            self.s3.upload_fileobj(
                combined,
                ref.bucket,
                ref.rejects_key,
                ExtraArgs={"ContentType": "text/csv", "Tagging": REJECTS_TAG},
                Config=_TWO_PARTS_AT_A_TIME,
            )

    def clear(self, ref: UploadRef, progress: Progress) -> None:
        """Remove every file a save may have left, with the checkpoint last: the keys of
        every generation (a run killed after saving its checkpoint, before deleting the
        keys before it, leaves them) and the files of the one after the last (killed before
        its checkpoint). Rejects hold rows as sent, so none may outlive the upload. One
        DeleteObject a generation: a generation is a whole Lambda run."""
        after = progress.generation + 1
        for generation in [*progress.rejects_parts, after]:
            self._delete(ref, self._file(ref, generation, "rejects"))
        for generation in range(1, after + 1):
            self._delete(ref, self._file(ref, generation, "keys"))
        self._delete(ref, ref.checkpoint_key)

    def _put(self, ref: UploadRef, key: str, body: bytes) -> None:
        self.s3.put_object(Bucket=ref.bucket, Key=key, Body=body, Tagging=CHECKPOINT_TAG)

    def _delete(self, ref: UploadRef, key: str) -> None:
        self.s3.delete_object(Bucket=ref.bucket, Key=key)
