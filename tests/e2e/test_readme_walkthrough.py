"""The README's walkthrough runs top to bottom, as copied and pasted on a fresh clone.

The shell blocks between the `<!-- walkthrough -->` and `<!-- /walkthrough -->` markers of
README.md are run as one bash script, unchanged, with `set -euo pipefail` (so any command
that fails, fails the test), in a folder that looks like a fresh clone after `make`: a
`.venv` (this interpreter's environment) and the `examples/` folder. It gets its own home
and config folders and no AWS or INGEST settings from this machine. If the README's
commands change, this test runs the new ones: nothing here repeats them.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from support.cli_process import user_environment

REPO = Path(__file__).resolve().parents[2]
WALKTHROUGH = re.compile(r"<!-- walkthrough -->(.*?)<!-- /walkthrough -->", re.DOTALL)
SHELL_BLOCK = re.compile(r"```sh\n(.*?)```", re.DOTALL)


def walkthrough_script(readme: str) -> str:
    """Every ```sh block inside the walkthrough markers, in order, as one script."""
    sections = WALKTHROUGH.findall(readme)
    assert sections, "README.md has no <!-- walkthrough --> section"
    blocks = [block for section in sections for block in SHELL_BLOCK.findall(section)]
    assert blocks, "the README's walkthrough section holds no ```sh block"
    return "\n".join(blocks)


def fresh_clone(root: Path) -> Path:
    """A folder laid out as a clone after `make`: `.venv/bin/ingest` and `examples/`."""
    clone = root / "clone"
    clone.mkdir()
    (clone / ".venv").symlink_to(Path(sys.executable).parent.parent, target_is_directory=True)
    shutil.copytree(REPO / "examples", clone / "examples")
    return clone


def test_the_readme_walkthrough_runs_top_to_bottom(tmp_path: Path) -> None:
    script = walkthrough_script((REPO / "README.md").read_text(encoding="utf-8"))
    clone = fresh_clone(tmp_path)
    environment = user_environment(tmp_path / "home", columns=80)
    try:
        done = subprocess.run(
            ["bash", "-c", "set -euxo pipefail\n" + script],
            cwd=clone,
            env=environment,
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            timeout=300,
        )
    finally:  # whatever happened, no stack is left running
        subprocess.run(
            [str(clone / ".venv" / "bin" / "ingest"), "local", "down"],
            cwd=clone,
            env=environment,
            capture_output=True,
            timeout=60,
        )
    trace = (
        f"stdout:\n{done.stdout[-4000:]}\nstderr (with the commands run):\n{done.stderr[-6000:]}"
    )
    assert done.returncode == 0, trace
    # What the walkthrough promises a reader, seen in what it printed.
    assert "succeeded" in done.stdout, trace
    assert "MRN0001001" in done.stdout, trace


@pytest.mark.parametrize(
    "readme, expected",
    [
        (
            "<!-- walkthrough -->\n```sh\na\n```\ntext\n```sh\nb\n```\n<!-- /walkthrough -->",
            "a\n\nb\n",
        ),
        (
            "```sh\noutside\n```\n<!-- walkthrough -->\n```sh\nin\n```\n<!-- /walkthrough -->",
            "in\n",
        ),
    ],
)
def test_only_the_marked_shell_blocks_are_the_walkthrough(readme: str, expected: str) -> None:
    assert walkthrough_script(readme) == expected
