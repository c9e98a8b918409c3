"""Fixtures the e2e modules share: `ingest` run as a user in the module's `home` folder
(each module defines `home`, with the files it needs), and a detached local stack for the
module, taken down after its last test, and its outputs."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from support.cli_process import Run, detached_local_stack, ingest_runner


@pytest.fixture(scope="module")
def run(home: Path) -> Run:
    return ingest_runner(home)


@pytest.fixture(scope="module")
def stack(run: Run) -> Iterator[dict]:
    with detached_local_stack(run) as document:
        yield document


@pytest.fixture(scope="module")
def outputs(run: Run, stack: dict) -> dict[str, str]:
    """The local stack's outputs (bucket, tables, queue), as `ingest status` gives them."""
    status = run("status", "--profile", "local", "--format", "json")
    assert status.returncode == 0, status.stderr
    return json.loads(status.stdout)["outputs"]
