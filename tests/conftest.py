"""Fixtures and hooks for every tier: no test ever reaches real AWS; moto stands in, in-process.

Tests live in tests/unit (no AWS at all), tests/integration (moto in-process) and tests/e2e
(processes and servers on loopback); each gets its tier's marker from its folder, so
`pytest -m unit` is `pytest tests/unit`.

Also a session-wide guard: every record our loggers ("ingest", "ingest.*", "ingestcli.*")
emit during the run is checked against the medical record numbers and date_time values of
the CSV test files (tests/corpus, tests/hostile); the session fails if one shows up. The
helpers are in tests/support.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from support.console import set_console_width
from support.moto_account import Clients, Deployment, deployer, moto_account
from support.names import REGION, STACK
from support.phi_guard import PhiLogGuard, install_guard, remove_guard

TESTS = Path(__file__).parent
TIERS = ("unit", "integration", "e2e")


def pytest_configure(config: pytest.Config) -> None:
    # moto warns for each resource type its CloudFormation skips (bucket and queue policies).
    config.addinivalue_line("filterwarnings", "ignore:Tried to parse AWS:UserWarning")


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects by marker
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Each test gets the marker of its tier, the folder below tests/ it lives in."""
    tiered = all((TESTS / tier).is_dir() for tier in TIERS)  # not so in a copy of this file
    for item in items:
        try:
            tier = Path(item.path).relative_to(TESTS).parts[0]
        except ValueError:  # a test outside this folder
            continue
        if tier in TIERS:
            item.add_marker(tier)
        elif tiered:
            raise pytest.UsageError(
                f"{item.nodeid}: a test belongs in tests/unit, tests/integration or tests/e2e"
            )


@pytest.fixture(autouse=True)
def aws_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory):
    """Dummy credentials and region; no profile, config or endpoint from the developer's machine."""
    missing = tmp_path_factory.mktemp("aws") / "missing"
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ENDPOINT_URL", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_REGION", REGION)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(missing))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(missing))


@pytest.fixture
def wide_console(monkeypatch: pytest.MonkeyPatch) -> int:
    """The CLI's output 200 columns wide, whatever terminal (or none) the run has."""
    return set_console_width(monkeypatch, 200)


# --------------------------------------------------------------------------- moto


@pytest.fixture
def clients() -> Iterator[Clients]:
    """boto3 clients of a fresh, empty moto account in us-east-1."""
    with moto_account() as made:
        yield made


@pytest.fixture
def deploy(clients: Clients) -> Callable[..., Deployment]:
    """Run `ingest deploy`'s core against moto the way cli.py does, a dry run included."""
    return deployer(clients)


@pytest.fixture
def deployed(deploy: Callable[..., Deployment], clients: Clients) -> dict[str, str]:
    """A freshly deployed stack's outputs."""
    from ingestcli.deploy.stack import stack_outputs

    deploy()
    return stack_outputs(clients.cfn, STACK)


# --------------------------------------------------------------------------- logs


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """Captures every record at DEBUG and up: our loggers', the AWS SDK's, the root's."""
    caplog.set_level(logging.DEBUG)
    for name in ("ingest", "ingestcli"):
        caplog.set_level(logging.DEBUG, logger=name)
    yield caplog


_guard: PhiLogGuard | None = None


def pytest_runtest_logstart(nodeid: str, location: tuple[str, int | None, str]) -> None:
    if _guard is not None:
        _guard.test = nodeid


@pytest.fixture(scope="session")
def phi_log_guard() -> Iterator[PhiLogGuard]:
    """The session's guard, on "ingest" and "ingestcli" (their children propagate to them)."""
    global _guard
    _guard = install_guard(TESTS)
    try:
        yield _guard
    finally:
        remove_guard(_guard)


@pytest.fixture(scope="session", autouse=True)
def no_phi_in_logs(phi_log_guard: PhiLogGuard) -> Iterator[None]:
    """Fails the session (as an error at its end) if any of our log records carried an MRN
    or a date_time value of a CSV test file."""
    yield
    if phi_log_guard.leaks:
        pytest.fail(phi_log_guard.report(), pytrace=False)
