"""What the client sends is what was signed: moto accepts a PUT whatever its signature, so
these PUTs go to a loopback receiver that recomputes SigV4 with botocore's signer and the
signing credentials (tests/support/sigv4_receiver.py), as S3 would. The API's URL (signed by
the signer role's session) and `ingest presign`'s (the operator's credentials) are accepted
from `ingest upload`'s client and from the curl line presign prints; a PUT whose headers,
checksum or body differ from what was signed is refused. So is a part of an upload in parts
(opened on moto, its part URL signed for the receiver) whose bytes or checksum differ."""

from __future__ import annotations

import base64
import hashlib
import http.client
import shlex
import shutil
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import boto3
import pytest
from botocore.config import Config

from ingestcli.cli.render.upload import render_presigned
from ingestcli.core.multipart import MIN_PART_BYTES
from ingestcli.lambdas.api.routes import Api
from ingestcli.services.presign import presign_upload
from ingestcli.services.providers import ProviderRegistry
from ingestcli.services.s3_put import PutFailed
from ingestcli.services.upload import UrlAlreadyUsed, put_file, upload_with_url
from support.api_calls import CSV, SETTINGS, RecordingSts, call, declare
from support.names import BUCKET, PROVIDERS, REGION, UPLOADS
from support.sigv4_receiver import SigV4Receiver
from support.template import make_table

ROW = b"A1,2024-03-01T14:30:00Z\r\n"
PARTED = b"medical_record_number,date_time\r\n" + ROW * ((MIN_PART_BYTES + 4096) // len(ROW))
FIRST, SECOND = PARTED[:MIN_PART_BYTES], PARTED[MIN_PART_BYTES:]


@pytest.fixture
def receiver(clients: Any) -> Any:
    make_table(clients.dynamodb, PROVIDERS, "ProvidersTable")
    make_table(clients.dynamodb, UPLOADS, "UploadsTable")
    clients.s3.create_bucket(Bucket=BUCKET)  # where an upload in parts is opened
    with SigV4Receiver() as server:
        yield server


def send(url: str, headers: dict[str, str], body: bytes) -> int:
    """One raw PUT, with exactly these headers (and Host, Content-Length)."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.netloc, timeout=10)
    connection.request("PUT", f"{parts.path}?{parts.query}", body=body, headers=headers)
    status = connection.getresponse().status
    connection.close()
    return status


def test_the_apis_url_takes_the_upload_clients_put_and_refuses_what_was_not_signed(
    clients: Any, receiver: SigV4Receiver, tmp_path: Path
) -> None:
    token = ProviderRegistry(clients.dynamodb, PROVIDERS).add("alpha")[1]
    sts = RecordingSts(clients.sts)
    s3 = boto3.client("s3", region_name=REGION, endpoint_url=receiver.url)
    status, answer, _ = call(
        Api(s3, clients.dynamodb, sts, SETTINGS), "POST", "/uploads", token, body=declare()
    )
    assert status == 201, answer
    credentials = sts.calls[-1][1]
    receiver.trust(
        credentials["AccessKeyId"], credentials["SecretAccessKey"], credentials["SessionToken"]
    )
    url, headers = answer["url"], answer["headers"]
    other = b"medical_record_number,date_time\r\nB2,2024-03-01T14:30:00Z\r\n"
    other_sum = base64.b64encode(hashlib.sha256(other).digest()).decode()

    assert send(url, headers | {"content-type": "text/plain"}, CSV) == 403
    assert send(url, {k: v for k, v in headers.items() if k != "x-amz-tagging"}, CSV) == 403
    assert send(url, {k: v for k, v in headers.items() if k != "if-none-match"}, CSV) == 403
    changed_sum = headers | {"x-amz-checksum-sha256": other_sum}
    assert send(url, changed_sum, other) == 403  # the checksum header is signed
    assert send(url, headers, other) == 400  # signed right, but the body is another file
    assert send(url.replace("/alpha/", "/bravo/"), headers, CSV) == 403  # another key
    assert receiver.stored == {}
    assert receiver.refused == ["SignatureDoesNotMatch"] * 4 + ["BadDigest"] + [
        "SignatureDoesNotMatch"
    ]

    put_file(url, headers, str(_write(tmp_path / "visits.csv", CSV)), len(CSV), sleep=_no_wait)
    assert receiver.stored == {f"/{BUCKET}/{answer['key']}": CSV}
    with pytest.raises(UrlAlreadyUsed):  # one file a URL: If-None-Match is signed
        put_file(url, headers, str(tmp_path / "visits.csv"), len(CSV), sleep=_no_wait)


def test_presigns_url_takes_ingest_upload_and_the_printed_curl_line(
    clients: Any, receiver: SigV4Receiver, tmp_path: Path, capsys: Any
) -> None:
    receiver.trust("OPERATORKEY", "operator-secret")  # the operator's own credentials
    s3 = boto3.client(
        "s3",
        region_name=REGION,
        endpoint_url=receiver.url,
        config=Config(signature_version="s3v4"),
        aws_access_key_id="OPERATORKEY",
        aws_secret_access_key="operator-secret",
    )
    file = _write(tmp_path / "visits.csv", CSV)

    def presigned() -> dict[str, Any]:
        return presign_upload(
            s3, clients.dynamodb, bucket=BUCKET, uploads_table=UPLOADS, provider="acme"
        )

    first = presigned()
    upload_with_url(first["url"], str(file), sleep=_no_wait)
    assert receiver.stored == {f"/{BUCKET}/{first['key']}": CSV}
    bare = {k: v for k, v in first["headers"].items() if k != "content-type"}
    assert send(presigned()["url"], bare, CSV) == 403  # curl's own content type is not signed

    if shutil.which("curl") is None:
        pytest.skip("no curl on this machine: the printed line cannot be run")
    second = presigned()
    render_presigned(second, "acme")
    printed = capsys.readouterr().out.splitlines()
    [line] = [line for line in printed if line.startswith("curl --fail -X PUT")]
    command = [str(file) if word == "FILE" else word for word in shlex.split(line)]
    ran = subprocess.run(command, capture_output=True, text=True, timeout=30, check=False)
    assert ran.returncode == 0, ran.stderr
    assert receiver.stored[f"/{BUCKET}/{second['key']}"] == CSV
    again = subprocess.run(command, capture_output=True, text=True, timeout=30, check=False)
    assert again.returncode == 22  # curl --fail on S3's 412: the URL took its one file
    assert receiver.refused[-1] == "PreconditionFailed"


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _no_wait(_seconds: float) -> None:
    pass


def test_a_part_url_takes_the_clients_part_and_refuses_another_part_or_checksum(
    clients: Any, receiver: SigV4Receiver, tmp_path: Path
) -> None:
    token = ProviderRegistry(clients.dynamodb, PROVIDERS).add("alpha")[1]
    sts = RecordingSts(clients.sts)
    on_moto = Api(clients.s3, clients.dynamodb, sts, SETTINGS)
    status, opened, _ = call(
        on_moto, "POST", "/uploads", token, body=declare(PARTED, part_size=MIN_PART_BYTES)
    )
    assert (status, opened["parts"]) == (201, 2), opened
    to_receiver = Api(
        boto3.client("s3", region_name=REGION, endpoint_url=receiver.url),
        clients.dynamodb,
        sts,
        SETTINGS,
    )
    asked = {"parts": [{"part_number": 1, "sha256": hashlib.sha256(FIRST).hexdigest()}]}
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
    path.write_bytes(PARTED)

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
