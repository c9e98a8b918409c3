"""The unit tier: no AWS at all, not even moto in-process, and no network.

A unit test that asks for moto's clients fails at once, naming where it belongs, and so does
one that opens a connection or binds a socket (a child process, such as the console script on
a local file, is left alone).
"""

from __future__ import annotations

import socket

import pytest


def _refuse(*_args: object, **_kwargs: object) -> None:
    raise AssertionError("a unit test opened a socket: move it to tests/e2e")


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    for method in ("connect", "connect_ex", "bind"):
        monkeypatch.setattr(socket.socket, method, _refuse)


@pytest.fixture
def clients() -> None:
    """Moto's clients are not for unit tests (`deploy` and `deployed` need them too)."""
    pytest.fail("a unit test asked for moto: move it to tests/integration", pytrace=False)
