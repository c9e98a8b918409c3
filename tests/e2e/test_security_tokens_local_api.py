"""Upload tokens are never logged in clear by the local API server, over real HTTP on
loopback: not a token sent as it should be, nor one misplaced in the URL or in a malformed
request line. (The rest, in-process on moto: tests/integration/test_security_tokens.py.)"""

from __future__ import annotations

import socket

import pytest

from ingestcli.local.api_server import ApiServer
from support.api_calls import altered
from support.http import send
from support.tenants import make_world
from support.token_leaks import give_away, logged_text, logger_names


def test_no_token_reaches_a_log_record_through_the_local_api(clients, logs) -> None:
    world = make_world(clients)
    token = world["alpha"].token
    with ApiServer(world.api.handler) as server:
        status, _, _ = send(f"{server.url}/uploads", Authorization=f"Bearer {token}")
        assert status == 200
        query = f"{server.url}/uploads?token={token}"
        assert send(query, Authorization=f"Bearer {token}")[0] == 200
        assert send(f"{server.url}/uploads", Authorization=f"Bearer {altered(token)}")[0] == 401
        assert send(query, "POST", token.encode(), Authorization=f"Bearer {token}")[0] == 400
    assert "ingestcli.local.api_server" in logger_names(logs)
    assert give_away([token], logged_text(logs)) == []


def _in_the_path(url: str, token: str) -> None:
    assert send(f"{url}/uploads/{token}", Authorization=f"Bearer {token}")[0] == 400


def _in_a_malformed_request_line(url: str, token: str) -> None:
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as connection:
        connection.sendall(f"GET /uploads?token={token} extra HTTP/1.1\r\n\r\n".encode())
        connection.recv(1024)


@pytest.mark.parametrize(
    "misplaced",
    [_in_the_path, _in_a_malformed_request_line],
    ids=["in the path", "in a malformed request line"],
)
def test_a_token_misplaced_in_the_url_is_not_logged_by_the_local_api(
    clients, logs, misplaced
) -> None:
    world = make_world(clients)
    token = world["alpha"].token
    with ApiServer(world.api.handler) as server:
        misplaced(server.url, token)
        assert send(f"{server.url}/uploads", Authorization=f"Bearer {token}")[0] == 200
    assert "ingestcli.local.api_server" in logger_names(logs)
    assert give_away([token], logged_text(logs)) == []
