"""`ingest` run as a user runs it: a subprocess with its own home, config and state folders,
no AWS or INGEST settings from the developer's machine, and a wide, colourless terminal."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

INGEST = [sys.executable, "-m", "ingestcli"]
Run = Callable[..., subprocess.CompletedProcess]


def user_environment(home: Path, columns: int = 200) -> dict[str, str]:
    """A fresh user's environment in `home`: this machine's, less every AWS_ and INGEST_
    setting, with its own home, config and state folders and no AWS profiles."""
    environment = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("AWS_", "INGEST_"))
    }
    return environment | {
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / "config"),
        "XDG_STATE_HOME": str(home / "state"),
        "COLUMNS": str(columns),
        "NO_COLOR": "1",
        "AWS_CONFIG_FILE": str(home / "missing"),
        "AWS_SHARED_CREDENTIALS_FILE": str(home / "missing"),
    }


def ingest_runner(home: Path) -> Run:
    """A function that runs `ingest ARGUMENTS...` in `home` and returns what it did."""
    environment = user_environment(home)

    def run(*arguments: str, env: dict[str, str] | None = None, timeout: float = 120):
        return subprocess.run(
            [*INGEST, *arguments],
            capture_output=True,
            text=True,
            env=environment | (env or {}),
            timeout=timeout,
            cwd=home,
        )

    return run


@contextmanager
def detached_local_stack(run: Run) -> Iterator[dict]:
    """`ingest local up --detach` on free ports, its `local status` document while it runs,
    and `ingest local down` after, whatever happened."""
    started = run("local", "up", "--detach", "--port", "0", "--api-port", "0")
    assert started.returncode == 0, started.stderr
    try:
        document = json.loads(run("local", "status", "--format", "json").stdout)
        assert document["running"] and document["api_answers"] and document["api_url"]
        yield document
    finally:
        run("local", "down")


def read_until(process: subprocess.Popen[str], needle: str) -> str:
    """The stderr of a running `ingest`, read up to the line holding `needle`."""
    seen = ""
    assert process.stderr is not None
    for line in process.stderr:
        seen += line
        if needle in line:
            return seen
    raise AssertionError(f"never said {needle!r}: {seen}")
