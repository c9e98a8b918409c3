"""`ingest --debug`: one line per AWS request (service, operation, status, time) from the
clients services/session.py builds, and never a value sent or received.

No AWS and no network: AWS's answers are handed to botocore at its `before-send` event (as
moto does in-process), so the client's whole request and response path runs for real.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ClientError
from typer.testing import CliRunner

from ingestcli.cli.app import app
from ingestcli.cli.debug import disable_debug_logging
from ingestcli.services.session import AwsTarget, client, session
from support.sessions import no_aws_settings

MRN = "MRN-DEBUG-771"
WHEN = "2024-03-01T14:30:00.000000Z"
LINE = re.compile(r"dynamodb PutItem: HTTP (\d{3})( [A-Za-z]+)? in \d+ ms(, attempt \d)?")


class _Body:
    def __init__(self, data: bytes) -> None:
        self.data = data

    def stream(self, **_: object) -> Iterator[bytes]:
        yield self.data


class ScriptedAws:
    """Answers each request in turn with the next (status, JSON body), as AWS would."""

    def __init__(self, *answers: tuple[int, dict]) -> None:
        self.answers = list(answers)

    def __call__(self, request, **_: object) -> AWSResponse:
        status, body = self.answers.pop(0)
        headers = {"Content-Type": "application/x-amz-json-1.0"}
        return AWSResponse(request.url, status, headers, _Body(json.dumps(body).encode()))


@pytest.fixture(autouse=True)
def environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    no_aws_settings(tmp_path, monkeypatch)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    yield
    disable_debug_logging()


def _dynamodb(*answers: tuple[int, dict]):
    target = AwsTarget(region="us-east-1")
    made = client(session(target), "dynamodb", target)
    made.meta.events.register("before-send", ScriptedAws(*answers))
    return made


def _put(dynamodb) -> None:
    dynamodb.put_item(
        TableName="records",
        Item={"medical_record_number": {"S": MRN}, "sortKey": {"S": f"{MRN}#{WHEN}"}},
    )


def test_each_attempt_is_one_line_of_names_status_and_time(logs: pytest.LogCaptureFixture) -> None:
    refusal = {
        "__type": "com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException",
        "message": f"The conditional request failed for {MRN}",
    }
    dynamodb = _dynamodb((503, {}), (200, {}), (400, refusal))
    _put(dynamodb)  # a 503, retried, then written
    with pytest.raises(ClientError):
        _put(dynamodb)
    lines = [r.getMessage() for r in logs.records if r.name == "ingestcli.aws"]
    assert [LINE.fullmatch(line).groups()[0::2] for line in lines] == [
        ("503", None),
        ("200", ", attempt 2"),
        ("400", None),
    ]
    assert lines[2].startswith("dynamodb PutItem: HTTP 400 ConditionalCheckFailedException in ")
    assert not any(MRN in line or "records" in line or "2024" in line for line in lines)


def test_no_line_and_no_hook_unless_debug_is_on(logs: pytest.LogCaptureFixture) -> None:
    logs.set_level(logging.INFO, logger="ingestcli")
    _put(_dynamodb((200, {})))
    assert [r for r in logs.records if r.name == "ingestcli.aws"] == []


def test_debug_option_turns_on_our_loggers_only(write_header_only: str) -> None:
    """`ingest --debug` (and INGEST_DEBUG=1): our loggers at DEBUG on stderr; botocore's own
    DEBUG logs, which print parameters and signed URLs, stay off."""
    for arguments, env in (
        (["--debug", "validate", write_header_only], {}),
        (["validate", write_header_only], {"INGEST_DEBUG": "1"}),
    ):
        disable_debug_logging()
        result = CliRunner().invoke(app, arguments, env=env)
        assert result.exit_code == 0, result.output
        assert logging.getLogger("ingestcli").getEffectiveLevel() == logging.DEBUG
        assert not logging.getLogger("botocore").isEnabledFor(logging.DEBUG)
        assert not logging.getLogger("urllib3").isEnabledFor(logging.DEBUG)
    disable_debug_logging()
    result = CliRunner().invoke(app, ["validate", write_header_only], env={"INGEST_DEBUG": "0"})
    assert result.exit_code == 0
    assert logging.getLogger("ingestcli").getEffectiveLevel() != logging.DEBUG


def test_debug_lines_reach_stderr_of_a_command(
    write_header_only: str, capsys: pytest.CaptureFixture[str]
) -> None:
    result = CliRunner().invoke(app, ["--debug", "validate", write_header_only])
    assert result.exit_code == 0
    _put(_dynamodb((200, {})))
    stderr = capsys.readouterr().err
    assert re.fullmatch(r"debug: ingestcli\.aws: dynamodb PutItem: HTTP 200 in \d+ ms\n", stderr), (
        stderr
    )


@pytest.fixture
def write_header_only(tmp_path: Path) -> str:
    path = tmp_path / "visits.csv"
    path.write_text("medical_record_number,date_time\n", encoding="utf-8")
    return str(path)
