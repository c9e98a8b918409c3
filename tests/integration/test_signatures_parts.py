"""A part URL takes exactly what was signed: moto accepts a part whatever its signature or
checksum, so these PUTs go to the loopback receiver that recomputes SigV4 with botocore's
signer and checks x-amz-checksum-sha256, as S3 does (tests/support/sigv4_receiver.py). The
upload is opened on moto; its part URLs are signed (by the signer role's session) for the
receiver."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path
from typing import Any

import boto3
import pytest

from ingestcli.core.multipart import MIN_PART_BYTES
from ingestcli.lambdas.api.routes import Api
from ingestcli.services.providers import ProviderRegistry
from ingestcli.services.s3_put import PutFailed, put_file
from support.api_calls import SETTINGS, RecordingSts, call, declare
from support.names import BUCKET, PROVIDERS, REGION, UPLOADS
from support.sigv4_receiver import SigV4Receiver
from support.template import make_table

ROW = b"A1,2024-03-01T14:30:00Z\r\n"
BODY = b"medical_record_number,date_time\r\n" + ROW * ((MIN_PART_BYTES + 4096) // len(ROW))
FIRST, SECOND = BODY[:MIN_PART_BYTES], BODY[MIN_PART_BYTES:]


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def receiver(clients: Any) -> Any:
    make_table(clients.dynamodb, PROVIDERS, "ProvidersTable")
    make_table(clients.dynamodb, UPLOADS, "UploadsTable")
    clients.s3.create_bucket(Bucket=BUCKET)
    with SigV4Receiver() as server:
        yield server


def test_a_part_url_takes_the_clients_part_and_refuses_another_part_or_checksum(
    clients: Any, receiver: SigV4Receiver, tmp_path: Path
) -> None:
    token = ProviderRegistry(clients.dynamodb, PROVIDERS).add("alpha")[1]
    sts = RecordingSts(clients.sts)
    on_moto = Api(clients.s3, clients.dynamodb, sts, SETTINGS)
    status, opened, _ = call(
        on_moto, "POST", "/uploads", token, body=declare(BODY, part_size=MIN_PART_BYTES)
    )
    assert (status, opened["parts"]) == (201, 2), opened
    to_receiver = Api(
        boto3.client("s3", region_name=REGION, endpoint_url=receiver.url),
        clients.dynamodb,
        sts,
        SETTINGS,
    )
    asked = {"parts": [{"part_number": 1, "sha256": sha(FIRST)}]}
    status, answer, _ = call(
        to_receiver, "POST", f"/uploads/{opened['upload_id']}/parts", token, body=asked
    )
    assert status == 200, answer
    credentials = sts.calls[-1][1]
    receiver.trust(
        credentials["AccessKeyId"], credentials["SecretAccessKey"], credentials["SessionToken"]
    )
    (part,) = answer["parts"]
    path = tmp_path / "backfill.csv"
    path.write_bytes(BODY)

    with pytest.raises(PutFailed) as refused:  # part 2's bytes under part 1's URL
        put_file(part["url"], part["headers"], str(path), len(SECOND), offset=len(FIRST))
    assert refused.value.code == "BadDigest"
    other_sum = base64.b64encode(hashlib.sha256(SECOND).digest()).decode()
    with pytest.raises(PutFailed) as refused:  # the checksum is a signed header
        put_file(part["url"], part["headers"] | {"x-amz-checksum-sha256": other_sum},
                 str(path), len(SECOND), offset=len(FIRST))  # fmt: skip
    assert refused.value.code == "SignatureDoesNotMatch"
    put_file(part["url"], part["headers"], str(path), len(FIRST), offset=0)
    key = f"/{BUCKET}/{opened['key']}" if f"/{BUCKET}/" in part["url"] else f"/{opened['key']}"
    assert receiver.stored == {key: FIRST}
    assert receiver.refused == ["BadDigest", "SignatureDoesNotMatch"]
