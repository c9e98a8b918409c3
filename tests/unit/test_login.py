"""`ingest login` refusals that need no API: each is one line, exit 2, and saves nothing.
Logging in against the API itself is in tests/e2e/test_login_and_debug.py."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ingestcli.cli.app import app

TOKEN = "ingest.acme.0123456789abcdef"


@pytest.fixture(autouse=True)
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for variable in list(os.environ):
        if variable.startswith("INGEST_"):
            monkeypatch.delenv(variable)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    return tmp_path / "config" / "ingest" / "config.toml"


@pytest.mark.parametrize(
    ("arguments", "stdin", "expected"),
    [
        (
            ["--api-url", "https://api.example", "--token", TOKEN, "--token-stdin"],
            TOKEN,
            "error: give the token once: --token or --token-stdin, not both\n",
        ),
        (
            ["--token-stdin"],
            TOKEN,
            "error: no API URL: pass --api-url (your operator gives you one)\n",
        ),
        (
            ["--api-url", "https://api.example"],
            "",
            "error: no terminal to ask for the upload token on: pipe it in with --token-stdin\n",
        ),
        (
            ["--api-url", "https://api.example", "--token-stdin"],
            "\n",
            "error: --token-stdin read no token from standard input\n",
        ),
        (
            ["--api-url", "https://api.example", "--token-stdin"],
            "not a token\n",
            "error: the upload token is malformed: copy it again from your operator\n",
        ),
        (
            ["--api-url", "http://api.example", "--token-stdin"],
            TOKEN,
            "error: --api-url must start with https:// (http is for 127.0.0.1 only)\n",
        ),
        (
            ["--profile", "prod", "--token-stdin"],
            TOKEN,
            "error: no API URL: pass --api-url (your operator gives you one)\n",
        ),
    ],
    ids=["token-twice", "no-url", "no-terminal", "empty-stdin", "malformed", "http", "new-profile"],
)
def test_refused_before_any_request(
    arguments: list[str], stdin: str, expected: str, config: Path
) -> None:
    result = CliRunner().invoke(app, ["login", *arguments], input=stdin)
    assert (result.exit_code, result.stdout, result.stderr) == (2, "", expected)
    assert not config.exists()


def test_a_token_longer_than_the_api_takes_is_refused_unread(config: Path) -> None:
    """--token-stdin copies a bounded line: the rest of a huge input is never read."""
    huge = "x" * 100_000
    result = CliRunner().invoke(
        app, ["login", "--api-url", "https://api.example", "--token-stdin"], input=huge
    )
    assert result.exit_code == 2
    assert (
        result.stderr == "error: the upload token is malformed: copy it again from your operator\n"
    )
    assert not config.exists()


def test_help_prefers_the_prompt_to_a_visible_token() -> None:
    result = CliRunner().invoke(app, ["login", "--help"])
    assert result.exit_code == 0
    assert "prefer the hidden prompt, or --token-stdin" in " ".join(result.stdout.split())


def test_the_token_prompt_on_a_terminal_does_not_echo(tmp_path: Path) -> None:
    """On a terminal (a pseudo-terminal here) the token is asked for, and what is typed is
    not shown; a malformed one is refused before any request is made."""
    import pty
    import select
    import sys
    import time

    script = Path(sys.executable).parent / "ingest"
    typed = "not-a-token typed here"
    pid, terminal = pty.fork()
    if pid == 0:  # the child: `ingest login` with the pseudo-terminal as its terminal
        os.environ["XDG_CONFIG_HOME"] = str(tmp_path / "config")
        os.environ["NO_COLOR"] = "1"
        os.execv(str(script), [str(script), "login", "--api-url", "https://api.example"])
    seen = b""
    deadline = time.monotonic() + 30
    while b"Upload token (hidden): " not in seen and time.monotonic() < deadline:
        if select.select([terminal], [], [], 1)[0]:
            seen += os.read(terminal, 1024)
    os.write(terminal, typed.encode() + b"\n")
    while time.monotonic() < deadline:
        if not select.select([terminal], [], [], 1)[0]:
            continue
        try:
            chunk = os.read(terminal, 1024)
        except OSError:  # the child has gone
            break
        if not chunk:
            break
        seen += chunk
    _, status = os.waitpid(pid, 0)
    os.close(terminal)
    assert os.waitstatus_to_exitcode(status) == 2
    shown = seen.decode()
    assert "Upload token (hidden): " in shown
    assert typed not in shown
    assert "the upload token is malformed: copy it again from your operator\r\n" in shown
    assert not (tmp_path / "config" / "ingest" / "config.toml").exists()
