"""Running the local stack as a service: in the foreground, or detached in a process group of
its own, with a state file that says what runs where so `ingest local down` stops exactly
that (the group holds only the stack's process and its moto server) and nothing else.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from ingestcli.errors import IngestError, UsageError
from ingestcli.local.ports import Listeners, reserve_ports
from ingestcli.local.stack import (
    DEFAULT_API_PORT,
    DEFAULT_MOTO_PORT,
    REGION,
    STACK_NAME,
    LocalStack,
    start_local_stack,
)
from ingestcli.services.config import state_dir

LOCAL_PROFILE = "local"
START_TIMEOUT_SECONDS = 120
REAP_SECONDS = 5


class LocalStackDidNotStart(IngestError):
    """The detached stack's process ended, or did not serve in time, as it started."""


@dataclass(frozen=True)
class LocalState:
    pid: int
    detached: bool
    endpoint: str
    api_url: str
    started_at: str
    log: str | None = None


def state_path() -> Path:
    return state_dir() / "local.json"


def read_state() -> LocalState | None:
    """The running stack's state, or None. A state file whose process is gone (or is now
    another program: pids are reused, after a reboot say) is removed; an unreadable one is
    ignored."""
    try:
        state = LocalState(**json.loads(state_path().read_text("utf-8")))
    except (OSError, ValueError, TypeError):
        return None
    if type(state.pid) is not int or state.pid <= 1 or not _ours(state.pid):
        state_path().unlink(missing_ok=True)
        return None
    return state


def _ours(pid: int) -> bool:
    """Whether `pid` runs and is an `ingest` process (where /proc tells; elsewhere, runs)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    except OverflowError:
        return False
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes()
    except FileNotFoundError:
        return not Path("/proc/self").exists()
    except OSError:
        return True
    return b"ingest" in command  # a zombie's is empty


def _write_state(state: LocalState) -> None:
    path = state_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(asdict(state)), "utf-8")
    temporary.replace(path)


def _refuse_if_running() -> None:
    running = read_state()
    if running is not None:
        raise UsageError(
            f"a local stack already runs (pid {running.pid}, {running.endpoint}): "
            "stop it with `ingest local down` first"
        )


def save_local_profile(stack: LocalStack) -> Path:
    from ingestcli.services import config

    return config.save_outputs(
        LOCAL_PROFILE,
        stack.outputs,
        stack_name=STACK_NAME,
        region=REGION,
        endpoint_url=stack.endpoint,
        api_url=stack.api_url,
    )


def run_foreground(
    moto_port: int, api_port: int, on_step: Callable[[str], None], on_ready: Callable
) -> None:
    """Take both ports (0: any free; a busy one is refused at once), start, save the `local`
    profile, call on_ready, and serve until Ctrl-C or SIGTERM."""
    _refuse_if_running()
    listeners = reserve_ports(moto_port, api_port)
    stopping = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    try:
        stack = start_local_stack(listeners=listeners, on_step=on_step)
    except BaseException:
        signal.signal(signal.SIGTERM, previous)
        raise
    try:
        save_local_profile(stack)
        _write_state(
            LocalState(os.getpid(), False, stack.endpoint, stack.api_url, _now(), log=None)
        )
        on_ready(stack)
        while not stopping.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        stack.stop()
        state_path().unlink(missing_ok=True)
        signal.signal(signal.SIGTERM, previous)


def start_detached(moto_port: int, api_port: int) -> LocalState:
    """Take both ports here (a busy one is refused at once), then start the stack on them in
    a new session (its own process group) and wait until it serves."""
    _refuse_if_running()
    listeners = reserve_ports(moto_port, api_port)
    log = state_dir() / "local.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    fds = (listeners.moto.fileno(), listeners.api.fileno())
    command = [sys.executable, "-m", "ingestcli.local.service"]
    command += ["--moto-fd", str(fds[0]), "--api-fd", str(fds[1])]
    try:
        with open(log, "wb") as output:
            process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                pass_fds=fds,
            )
    finally:
        listeners.close()  # the stack's process holds the ports now
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        state = read_state()
        if state is not None and state.pid == process.pid:
            return state
        if process.poll() is not None:
            raise LocalStackDidNotStart(f"the local stack did not start{_said(log)}; see {log}")
        time.sleep(0.2)
    os.killpg(process.pid, signal.SIGTERM)
    raise LocalStackDidNotStart(
        f"the local stack did not start in {START_TIMEOUT_SECONDS} s; see {log}"
    )


def _said(log: Path, most: int = 4096) -> str:
    """`: <error>` when the stack's process ended on one of ours (main prints it last)."""
    try:
        with open(log, "rb") as text:
            text.seek(max(0, text.seek(0, os.SEEK_END) - most))
            lines = text.read(most).decode("utf-8", "replace").strip().splitlines()
    except OSError:
        return ""
    if not lines or not lines[-1].startswith("error: "):
        return ""
    return ": " + lines[-1].removeprefix("error: ")[:300]


def stop(timeout: float = 15) -> LocalState | None:
    """Stop the running stack, if any: its whole group when detached, else its process."""
    state = read_state()
    if state is None:
        return None
    try:
        if state.detached:
            os.killpg(state.pid, signal.SIGTERM)
        else:
            os.kill(state.pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    deadline = time.monotonic() + timeout
    while _ours(state.pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    if _ours(state.pid) and state.detached:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(state.pid, signal.SIGKILL)
    reaped = time.monotonic() + REAP_SECONDS  # a zombie until its new parent (init) waits
    while _exists(state.pid) and time.monotonic() < reaped:
        time.sleep(0.1)
    state_path().unlink(missing_ok=True)
    return state


def _exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def probe(url: str) -> bool:
    """Whether something answers HTTP there (any status)."""
    try:
        urllib.request.urlopen(url, timeout=2).close()
    except urllib.error.HTTPError:
        return True
    except OSError:
        return False
    return True


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def main(argv: list[str] | None = None) -> None:
    """The detached stack's process: start on the sockets its parent bound (or on the ports
    given), record the state, serve until SIGTERM. An error ends it with one line."""
    parser = argparse.ArgumentParser(description="the ingest local stack (detached)")
    parser.add_argument("--port", type=int, default=DEFAULT_MOTO_PORT)
    parser.add_argument("--api-port", type=int, default=DEFAULT_API_PORT)
    parser.add_argument("--moto-fd", type=int, default=None)
    parser.add_argument("--api-fd", type=int, default=None)
    arguments = parser.parse_args(argv)
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    try:
        if arguments.moto_fd is not None and arguments.api_fd is not None:
            listeners = Listeners.adopt(arguments.moto_fd, arguments.api_fd)
        else:
            listeners = reserve_ports(arguments.port, arguments.api_port)
        stack = start_local_stack(listeners=listeners, on_step=print)
    except IngestError as error:
        print(f"error: {error}", flush=True)
        sys.exit(1)
    try:
        save_local_profile(stack)
        log = str(state_dir() / "local.log")
        _write_state(LocalState(os.getpid(), True, stack.endpoint, stack.api_url, _now(), log))
        print(f"serving: moto {stack.endpoint}, API {stack.api_url}", flush=True)
        stopping.wait()
    finally:
        stack.stop()
        state_path().unlink(missing_ok=True)


if __name__ == "__main__":
    main()
