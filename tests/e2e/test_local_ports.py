"""`ingest local up` on ports it cannot have, and `local down/status` on a state file that no
longer describes a stack: real sockets on 127.0.0.1, `ingest` as a subprocess.

A busy port is refused before anything starts: one line naming the port and its option,
exit 2, in well under the seconds a start takes (the bound below is generous, not a
benchmark). The stack serves on the very sockets that check bound, so no race is left
between the check and the servers.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ingestcli.local.api_server import ApiServer
from ingestcli.local.ports import PortUnavailable, reserve
from ingestcli.local.service import probe
from support.cli_process import INGEST, Run, detached_local_stack, ingest_runner
from support.http import send

pytestmark = pytest.mark.xdist_group("local_ports")

QUICKLY = 10.0  # seconds; a refused `local up` takes about one interpreter start


def _busy(option: str, server: str, port: int) -> str:
    return (
        f"error: {server}'s port {port} on 127.0.0.1 ({option}) is already in use: "
        f"give another with {option}, or {option} 0 for a free one"
    )


@pytest.fixture
def run(tmp_path: Path) -> Run:
    return ingest_runner(tmp_path)


@pytest.fixture(params=["127.0.0.1", "0.0.0.0"])
def held_port(request: pytest.FixtureRequest) -> Iterator[int]:
    """A port some other program listens on (a plain socket), on loopback or every address."""
    with socket.socket() as holder:
        holder.bind((request.param, 0))
        holder.listen()
        yield holder.getsockname()[1]


def _timed(
    run: Run, *arguments: str, env: dict[str, str] | None = None
) -> tuple[subprocess.CompletedProcess, float]:
    started = time.monotonic()
    done = run(*arguments, env=env, timeout=60)
    return done, time.monotonic() - started


def _nothing_runs(run: Run) -> bool:
    return json.loads(run("local", "status", "--format", "json").stdout) == {"running": False}


@pytest.mark.parametrize("detach", [["--detach"], []], ids=["detached", "foreground"])
def test_a_busy_moto_port_is_refused_at_once(run: Run, held_port: int, detach: list) -> None:
    refused, seconds = _timed(run, "local", "up", "--port", str(held_port), *detach)

    assert refused.returncode == 2
    assert (refused.stdout, refused.stderr) == ("", _busy("--port", "moto", held_port) + "\n")
    assert seconds < QUICKLY
    assert _nothing_runs(run)


@pytest.mark.parametrize("detach", [["--detach"], []], ids=["detached", "foreground"])
def test_a_busy_api_port_is_refused_at_once(run: Run, held_port: int, detach: list) -> None:
    refused, seconds = _timed(
        run, "local", "up", "--port", "0", "--api-port", str(held_port), *detach
    )

    assert refused.returncode == 2
    expected = _busy("--api-port", "the upload API", held_port)
    assert (refused.stdout, refused.stderr) == ("", expected + "\n")
    assert seconds < QUICKLY
    assert _nothing_runs(run)


def test_the_ports_of_another_local_stack_are_refused_and_it_keeps_running(
    tmp_path: Path,
) -> None:
    (tmp_path / "other").mkdir()
    (tmp_path / "mine").mkdir()
    other = ingest_runner(tmp_path / "other")  # another home: its own state file and profile
    with detached_local_stack(other) as running:
        moto_port = int(running["endpoint"].rsplit(":", 1)[1])
        api_port = int(running["api_url"].rsplit(":", 1)[1])
        assert 0 not in (moto_port, api_port) and moto_port != api_port  # --port 0 works
        run = ingest_runner(tmp_path / "mine")

        on_moto, seconds = _timed(run, "local", "up", "--detach", "--port", str(moto_port))
        assert on_moto.returncode == 2
        assert on_moto.stderr == _busy("--port", "moto", moto_port) + "\n"
        assert seconds < QUICKLY
        on_api, seconds = _timed(
            run, "local", "up", "--detach", "--port", "0", "--api-port", str(api_port)
        )
        assert on_api.returncode == 2
        assert on_api.stderr == _busy("--api-port", "the upload API", api_port) + "\n"
        assert seconds < QUICKLY

        assert _nothing_runs(run)
        assert probe(f"{running['endpoint']}/moto-api/") and probe(running["api_url"])
        still = json.loads(other("local", "status", "--format", "json").stdout)
        assert still["pid"] == running["pid"] and still["endpoint_answers"]


def test_one_port_for_both_servers_is_refused(run: Run) -> None:
    refused = run("local", "up", "--port", "4999", "--api-port", "4999")

    assert refused.returncode == 2
    assert refused.stderr == (
        "error: --port and --api-port are both 4999: give two ports (0: any free one)\n"
    )


def test_a_port_out_of_range_is_a_usage_error(run: Run) -> None:
    refused = run("local", "up", "--api-port", "70000")

    assert refused.returncode == 2
    assert "'--api-port': 70000 is not in the range 0<=x<=65535" in refused.stderr
    assert "Traceback" not in refused.stderr


@pytest.mark.parametrize("detach", [["--detach"], []], ids=["detached", "foreground"])
def test_a_moto_server_that_dies_as_it_starts_is_one_line_not_a_wait(
    run: Run, tmp_path: Path, detach: list
) -> None:
    # moto's process cannot import werkzeug here (the CLI and the stack's process never do).
    broken = tmp_path / "broken" / "werkzeug"
    broken.mkdir(parents=True)
    (broken / "__init__.py").write_text("raise ImportError('broken on purpose')\n")

    failed, seconds = _timed(
        run, "local", "up", "--port", "0", "--api-port", "0", *detach,
        env={"PYTHONPATH": str(tmp_path / "broken")},
    )  # fmt: skip

    assert failed.returncode == 1
    assert seconds < QUICKLY
    errors = [line for line in failed.stderr.splitlines() if not line.startswith("• ")]
    assert len(errors) == 1 and "Traceback" not in failed.stderr
    assert errors[0].startswith(("error: the moto server on port ", "error: the local stack"))
    assert "exited as it started (code 1)" in errors[0]
    assert _nothing_runs(run)


def test_the_moto_server_alone_on_a_busy_port_says_so_in_one_line(held_port: int) -> None:
    started = time.monotonic()
    refused = subprocess.run(
        [sys.executable, "-m", "ingestcli.local.moto_server", "--port", str(held_port)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip

    assert refused.returncode == 2
    assert refused.stderr == _busy("--port", "moto", held_port) + "\n"
    assert time.monotonic() - started < QUICKLY


def _state_file(home: Path, pid: object) -> Path:
    path = home / "state" / "ingest" / "local.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {"pid": pid, "detached": True, "endpoint": "http://127.0.0.1:9"}
    path.write_text(json.dumps(state | {"api_url": "http://127.0.0.1:9", "started_at": "x"}))
    return path


def test_a_stale_state_file_naming_another_program_is_dropped_and_nothing_is_signalled(
    run: Run, tmp_path: Path
) -> None:
    # The stack's pid, reused by another program (after a reboot, say).
    other = subprocess.Popen(["sleep", "60"], start_new_session=True)
    try:
        state = _state_file(tmp_path, other.pid)

        assert _nothing_runs(run)
        assert not state.exists()
        _state_file(tmp_path, other.pid)
        down = run("local", "down")

        assert (down.returncode, down.stdout, down.stderr) == (0, "No local stack runs.\n", "")
        assert other.poll() is None  # neither it nor its group was sent anything
    finally:
        other.kill()
        other.wait()


@pytest.mark.parametrize("pid", [0, -1, "12", 2**70])
def test_a_state_file_with_an_impossible_pid_is_not_a_stack(tmp_path: Path, pid: object) -> None:
    _state_file(tmp_path, pid)
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "INGEST_"))}
    environment |= {"XDG_STATE_HOME": str(tmp_path / "state"), "NO_COLOR": "1"}

    # pid 0 means "my own group" to kill(): a session of its own keeps a regression's signal
    # away from pytest.
    down = subprocess.run(
        [*INGEST, "local", "down"], capture_output=True, text=True, env=environment,
        timeout=60, start_new_session=True,
    )  # fmt: skip

    assert (down.returncode, down.stdout, down.stderr) == (0, "No local stack runs.\n", "")
    assert not (tmp_path / "state" / "ingest" / "local.json").exists()


def test_local_down_and_status_when_nothing_ever_ran(run: Run) -> None:
    down = run("local", "down")
    status = run("local", "status")

    assert (down.returncode, down.stdout, down.stderr) == (0, "No local stack runs.\n", "")
    assert (status.returncode, status.stdout) == (
        0,
        "No local stack runs: start one with ingest local up.\n",
    )


def test_the_api_server_serves_on_the_socket_the_check_bound() -> None:
    listener = reserve(0, "the upload API", "--api-port")
    port = listener.getsockname()[1]
    with ApiServer(lambda event, context: {"statusCode": 204}, listener=listener) as server:
        assert server.url == f"http://127.0.0.1:{port}"
        assert send(f"{server.url}/provider")[0] == 204
        with pytest.raises(PortUnavailable):  # held all along: nobody else can bind it
            reserve(port, "the upload API", "--api-port")
    assert listener.fileno() == -1  # closed with the server: the port is free again
    reserve(port).close()
