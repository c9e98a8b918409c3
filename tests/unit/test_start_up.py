"""Start-up as a shell sees it: Ctrl-C at any moment, and shell completion, offline.

The console script runs as a child process on a local file (no AWS, no network), so these
tests live in the unit tier.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

SCRIPT = Path(sys.executable).parent / "ingest"
CSV = "medical_record_number,date_time,note\nA1,2024-03-01T14:30:00Z,x\n"
INTERRUPTED = "error: interrupted\n"
EXIT_INTERRUPTED = 130


def _environment(tmp_path: Path) -> dict[str, str]:
    kept = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "INGEST_"))}
    return kept | {"HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path / "config")}


def _start_up_seconds(environment: dict[str, str]) -> float:
    """How long the interpreter takes to start and find our package, before main() runs:
    Python's own start-up (site.py) cannot be guarded by anything of ours."""
    took = []
    for _ in range(3):
        started = time.monotonic()
        subprocess.run(
            [sys.executable, "-c", "import ingestcli.cli.entry"], env=environment, check=True
        )
        took.append(time.monotonic() - started)
    return max(took)


@pytest.mark.parametrize("delay_ms", [0, 20, 50, 100, 200])
def test_ctrl_c_at_any_moment_is_one_line_and_exit_130(tmp_path: Path, delay_ms: int) -> None:
    """SIGINT at 0 ms lands before Python has a handler: the process dies of it, silently (a
    shell shows 130). The other delays count from the end of the interpreter's own start-up:
    imports, parsing, the command, shutdown; each ends in one line and 130, or in the
    command's own result if it finished first; never a traceback."""
    path = tmp_path / "visits.csv"
    path.write_text(CSV, encoding="utf-8")
    environment = _environment(tmp_path)
    delay = delay_ms / 1000 + (_start_up_seconds(environment) if delay_ms else 0.0)
    for _ in range(3):
        child = subprocess.Popen(
            [str(SCRIPT), "validate", str(path), "--format", "json"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=environment,
        )
        time.sleep(delay)
        child.send_signal(signal.SIGINT)
        stdout, stderr = child.communicate(timeout=60)
        assert "Traceback" not in stderr, stderr
        if child.returncode == EXIT_INTERRUPTED:
            assert stderr == INTERRUPTED
        elif child.returncode == -signal.SIGINT:  # before Python installed its handler
            assert (stdout, stderr) == ("", "")
        else:  # it finished first
            assert child.returncode == 0, stderr
            assert '"valid": 1' in stdout


def test_ctrl_c_while_the_app_is_imported(tmp_path: Path) -> None:
    """The same, made certain: KeyboardInterrupt raised while typer is being imported."""
    code = (
        "import sys\n"
        "class Interrupt:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'typer':\n"
        "            raise KeyboardInterrupt\n"
        "sys.meta_path.insert(0, Interrupt())\n"
        "sys.argv = ['ingest', 'validate', 'visits.csv']\n"
        "from ingestcli.cli.entry import main\n"
        "main()\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=_environment(tmp_path),
        check=False,
    )
    assert (done.returncode, done.stdout, done.stderr) == (130, "", INTERRUPTED)


def test_the_console_script_is_the_tiny_entry_module() -> None:
    """pyproject.toml's [project.scripts], as installed: what the shell runs."""
    from importlib.metadata import entry_points

    (script,) = entry_points(group="console_scripts", name="ingest")
    assert script.value == "ingestcli.cli.entry:main"
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import ingestcli.cli.entry"],
        capture_output=True,
        text=True,
        check=True,
    )
    imported = {line.split("|")[-1].strip() for line in done.stderr.splitlines()[1:]}
    assert imported & {"typer", "click", "rich", "typing", "enum", "signal"} == set()


# --- shell completion ----------------------------------------------------------------------


def test_show_completion_prints_a_script_offline(tmp_path: Path) -> None:
    done = subprocess.run(
        [str(SCRIPT), "--show-completion"],
        capture_output=True,
        text=True,
        env=_environment(tmp_path) | {"SHELL": "/bin/bash"},
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    assert "_INGEST_COMPLETE" in done.stdout
    assert "complete" in done.stdout


@pytest.mark.parametrize(
    ("words", "word", "expected"),
    [
        ("ingest prov", 1, ["provider"]),
        ("ingest provider r", 2, ["revoke", "rotate"]),
        ("ingest lo", 1, ["local", "login"]),
    ],
)
def test_completion_answers_a_shell(
    tmp_path: Path, words: str, word: int, expected: list[str]
) -> None:
    """What bash's completion function asks the script, and what it gets back."""
    done = subprocess.run(
        [str(SCRIPT)],
        capture_output=True,
        text=True,
        env=_environment(tmp_path)
        | {"_INGEST_COMPLETE": "complete_bash", "COMP_WORDS": words, "COMP_CWORD": str(word)},
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert sorted(done.stdout.split()) == expected
