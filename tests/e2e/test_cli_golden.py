"""Golden output of the `ingest` CLI at 80 columns: exit code, stdout and stderr, exactly.

Why: a refactor that moves modules into sub-packages must change nothing a user sees. This
module drives the installed `ingest` script as a subprocess only (it imports nothing from
`ingestcli` and no test helper), first `ingest demo`, then one whole session against a
detached local stack, and compares each command's output with `tests/e2e/golden/NN-name.txt`.

Volatile parts (upload ids, tokens, timestamps of the run, ports, pids, moto's random
resource suffixes, the temporary folder) are replaced by same-length placeholders first, see
RULES and `Normaliser`; everything else must match to the character.

Regenerate after an intended change of output, then review the diff of tests/e2e/golden/:

    INGEST_UPDATE_GOLDEN=1 .venv/bin/pytest tests/e2e/test_cli_golden.py -q

Without INGEST_UPDATE_GOLDEN a missing golden file is a failure.
"""

from __future__ import annotations

import difflib
import json
import os
import re
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
GOLDEN = Path(__file__).resolve().parent / "golden"
INGEST = Path(sys.executable).parent / "ingest"
UPDATE = os.environ.get("INGEST_UPDATE_GOLDEN") == "1"
BAD_CSV = (
    "medical_record_number,date_time,note\n"
    "MRN-1,2024-03-01T09:00:00Z,ok\n"
    "bad mrn!,2024-03-01T10:00:00Z,bad mrn\n"
    "MRN-2,2024-02-30T10:00:00Z,impossible\n"
    "MRN-3,2024-03-02T10:00:00,no offset\n"
    "MRN-4,2024-03-02T11:00:00-05:00\n"
)
# An upload id: UTC time to the millisecond, then 10 random base32 characters.
UPLOAD_ID = re.compile(r"\b\d{8}T\d{9}Z-[a-z2-7]{10}\b")
# A timestamp of the run, cut anywhere (a table may end it with "…"): digits become letters.
STAMP_TEMPLATE = "YYYY-MM-DDThh:mm:ss.ffffff"

# Ordered (pattern, replacement, why); applied after the temporary folder and upload ids.
RULES: list[tuple[re.Pattern[str], str, str]] = [
    (
        re.compile(r"\b(ingest\.[a-z0-9-]+\.)[A-Za-z0-9_-]{43}(?![A-Za-z0-9_-])"),
        r"\1<token>",
        "an upload token: its 43 characters of secrets.token_urlsafe(32)",
    ),
    (
        re.compile(r"\b(ingest\.[a-z0-9-]+\.)[A-Za-z0-9_-]{1,42}…"),
        r"\1<token>…",
        "the first characters of a token, as the demo shows it",
    ),
    (
        re.compile(r"^\d\d:\d\d:\d\d(?=  )", re.MULTILINE),
        "hh:mm:ss",
        "the clock time that starts a stack event line of `destroy`",
    ),
    (
        re.compile(r"(?<=127\.0\.0\.1:)\d{1,5}\b"),
        "<port>",
        "a free loopback port the local stack picked (--port 0, --api-port 0, the demo)",
    ),
    (
        re.compile(r"\bpid \d+\b"),
        "pid <pid>",
        "the local stack's process id",
    ),
    (
        re.compile(r"(?<=-)(?=[A-Z0-9]*[A-Z])[A-Z0-9]{12}\b"),
        "<cfn-suffix>",
        "the random suffix moto's CloudFormation gives a physical id (tables, queues, roles)",
    ),
    (
        re.compile(r"(?<=accesslogsbucket-)[a-z0-9]{12}\b"),
        "<cfn-suffix>",
        "the same suffix, lowercase, on the access-log bucket's name",
    ),
]


class Normaliser:
    """Replaces the volatile parts of one session's output; upload ids are numbered in the
    order they first show up, so a later command must name the same upload to match."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = str(tmp)
        self.ids: dict[str, str] = {}
        self.dates = {datetime.now(UTC).date().isoformat()}

    def __call__(self, text: str) -> str:
        text = text.replace(self.tmp, "<tmp>")
        for found in UPLOAD_ID.findall(text):
            self.ids.setdefault(found, f"YYYYMMDDThhmmssfffZ-upload{len(self.ids) + 1:04d}")
        lines = text.split("\n")
        for real, mask in self.ids.items():
            lines = _mask_folded(lines, real, mask)
        text = "\n".join(lines)
        # Timestamps of the run: the UTC date when the session started, or now.
        self.dates.add(datetime.now(UTC).date().isoformat())
        dates = "|".join(sorted(self.dates))
        stamps = re.compile(rf"\b(?:{dates})(?:[T ][0-9:.]*)?")
        text = stamps.sub(lambda m: _masked(m[0]), text)
        for pattern, replacement, _why in RULES:
            text = pattern.sub(replacement, text)
        return text


def _masked(stamp: str) -> str:
    """Each digit replaced by the letter at its place in STAMP_TEMPLATE (f past its end)."""
    letters = (STAMP_TEMPLATE[i : i + 1] or "f" for i in range(len(stamp)))
    return "".join(letter if c.isdigit() else c for c, letter in zip(stamp, letters, strict=True))


def _mask_folded(lines: list[str], real: str, mask: str) -> list[str]:
    """Mask `real`, whole on one line, or folded by a table column into chunks of equal
    width stacked at the same offset on consecutive lines."""
    lines = [line.replace(real, mask) for line in lines]
    for width in range(1, len(real)):
        chunks = [real[k : k + width] for k in range(0, len(real), width)]
        masks = [mask[k : k + width] for k in range(0, len(mask), width)]
        for i in range(len(lines) - len(chunks) + 1):
            offset = lines[i].find(chunks[0])
            while offset >= 0:
                stacked = zip(lines[i : i + len(chunks)], chunks, strict=True)
                if all(line[offset : offset + len(c)] == c for line, c in stacked):
                    for k, (c, m) in enumerate(zip(chunks, masks, strict=True)):
                        line = lines[i + k]
                        lines[i + k] = line[:offset] + m + line[offset + len(c) :]
                offset = lines[i].find(chunks[0], offset + 1)
    return lines


class Session:
    """Runs `ingest` as a user would, in an isolated home, and checks each golden file."""

    def __init__(self, tmp: Path) -> None:
        home = tmp / "home"
        self.work = tmp / "work"
        for folder in (home / ".config", home / ".local/state", tmp / "run", tmp / "t", self.work):
            folder.mkdir(parents=True)
        self.env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "LC_ALL": "C.UTF-8",
            "HOME": str(home),
            "XDG_CONFIG_HOME": str(home / ".config"),
            "XDG_STATE_HOME": str(home / ".local/state"),  # the local stack's local.json
            "XDG_RUNTIME_DIR": str(tmp / "run"),
            "TMPDIR": str(tmp / "t"),
            "COLUMNS": "80",
            "LINES": "50",
            "NO_COLOR": "1",
            "TERM": "dumb",
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_REGION": "us-east-1",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_CONFIG_FILE": str(tmp / "no-aws-config"),
            "AWS_SHARED_CREDENTIALS_FILE": str(tmp / "no-aws-credentials"),
        }
        self.normalise = Normaliser(tmp)
        self.failures: list[str] = []

    def run(self, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [str(INGEST), *args],
            cwd=self.work,
            env=self.env | env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=180,
        )
        # Decoded here, not by text=True, which would turn "\r\n" and "\r" into "\n".
        done.stdout = done.stdout.decode("utf-8", "backslashreplace")
        done.stderr = done.stderr.decode("utf-8", "backslashreplace")
        return done

    def check(self, name: str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
        """Run one command and compare its normalised transcript with tests/e2e/golden/NAME.txt."""
        done = self.run(*args, **env)
        command = " ".join([*(f"{k}={v}" for k, v in env.items()), "ingest", *args])
        actual = self.normalise(
            f"$ {command}\n"
            f"--- exit code\n{done.returncode}\n"
            f"--- stdout\n{_ended(done.stdout)}"
            f"--- stderr\n{_ended(done.stderr)}"
        )
        path = GOLDEN / f"{name}.txt"
        if UPDATE:
            GOLDEN.mkdir(exist_ok=True)
            path.write_text(actual, "utf-8", newline="")
        elif not path.exists():
            self.failures.append(f"{path.name}: missing (INGEST_UPDATE_GOLDEN=1 writes it)")
        else:
            expected = path.read_bytes().decode("utf-8")
            if expected != actual:
                diff = difflib.unified_diff(
                    _visible_cr(expected),
                    _visible_cr(actual),
                    f"golden/{path.name}",
                    "actual (normalised)",
                )
                self.failures.append("".join(diff))
        return done

    def assert_all_matched(self) -> None:
        assert not self.failures, "golden output differs:\n" + "\n".join(self.failures)


def _visible_cr(text: str) -> list[str]:
    """Lines for a diff, a carriage return shown as \\r (`query --format csv` ends rows so)."""
    return text.replace("\r", "\\r").splitlines(keepends=True)


def _ended(text: str) -> str:
    """The text as a section: a missing final newline is said, not hidden."""
    return text if not text or text.endswith("\n") else text + "\n[no newline at end]\n"


@pytest.fixture
def session(tmp_path: Path) -> Session:
    assert INGEST.exists(), f"{INGEST} is missing: run `make .venv/bin/ingest`"
    return Session(tmp_path)


def test_demo(session: Session) -> None:
    session.check("01-demo", "demo")
    session.assert_all_matched()


def test_a_session_against_the_local_stack(session: Session) -> None:
    s = session
    (s.work / "examples").mkdir()
    shutil.copy(REPO / "examples" / "clinic-visits.csv", s.work / "examples")
    (s.work / "visits-bad.csv").write_text(BAD_CSV, "utf-8")
    good, bad = "examples/clinic-visits.csv", "visits-bad.csv"
    up = s.check("02-local-up", "local", "up", "--detach", "--port", "0", "--api-port", "0")
    try:
        assert up.returncode == 0, up.stderr
        s.check("03-local-status", "local", "status")
        local = {"INGEST_PROFILE": "local"}
        chicago = ("--timezone", "America/Chicago")
        added = s.check("04-provider-add-acme", "provider", "add", "acme", *chicago, **local)
        s.check("05-provider-add-beta", "provider", "add", "beta", **local)
        s.check("06-provider-list", "provider", "list", **local)
        s.check("07-provider-rotate-beta", "provider", "rotate", "beta", **local)
        s.check("08-provider-revoke-beta", "provider", "revoke", "beta", "--yes", **local)
        s.check("09-status", "status", **local)
        s.check("10-deploy-dry-run", "deploy", "--dry-run", **local)
        s.check("11-validate-example", "validate", good)
        s.check("12-validate-bad", "validate", bad)
        s.check("13-validate-bad-json", "validate", bad, "--format", "json")
        acme = local | {"INGEST_TOKEN": added.stdout.strip()}
        s.check("14-upload-example", "upload", good, **acme)
        s.check("15-upload-bad-allow-invalid", "upload", bad, "--allow-invalid", **acme)
        s.check("16-upload-bad-refused", "upload", bad, **acme)
        listed = s.run("uploads", "--format", "json", **acme)
        ids = {upload["filename"]: upload["upload_id"] for upload in json.loads(listed.stdout)}
        s.check("17-uploads", "uploads", **acme)
        mrn = ("query", "--provider", "acme", "--mrn", "MRN0001001")
        s.check("18-query-table", *mrn, **local)
        s.check("19-query-json", *mrn, "--format", "json", **local)
        s.check("20-query-csv", *mrn, "--format", "csv", **local)
        s.check("21-report", "report", ids[bad], "--provider", "acme", **local)
        s.check("22-uploads-provider", "uploads", "--provider", "acme", **local)
        s.check("23-destroy", "destroy", "--yes", **local)
        s.check("24-local-down", "local", "down")
        s.check("25-local-status-after-down", "local", "status")
    finally:
        s.run("local", "down")
    s.assert_all_matched()
