"""The hostile corpus (tests/hostile): each case's bytes and verdict, and a deadline per test.

tests/hostile/ holds the small files, byte for byte, and recipes.py, which builds the big
ones at test time; expected.json gives each case's verdict with a one-line note (see
tests/hostile/README.md).
"""

from __future__ import annotations

import importlib.util
import json
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from support.paths import HOSTILE

EXPECTED: dict[str, dict[str, Any]] = json.loads(
    (HOSTILE / "expected.json").read_text(encoding="utf-8")
)
FILES = sorted(name for name in EXPECTED if name.endswith(".csv"))
BIG = sorted(name for name in EXPECTED if not name.endswith(".csv"))
SECONDS_PER_TEST = 120  # far above any case's run time on a loaded machine: a hang, not slowness

_spec = importlib.util.spec_from_file_location("hostile_recipes", HOSTILE / "recipes.py")
assert _spec is not None and _spec.loader is not None
recipes = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(recipes)
RECIPES: dict[str, Any] = recipes.RECIPES


def body_of(name: str, for_lambda: bool = False) -> bytes:
    """A case's bytes: the file, or what its recipe builds (the Lambda's variant if asked)."""
    if name.endswith(".csv"):
        return (HOSTILE / name).read_bytes()
    params = EXPECTED[name].get("lambda", {}).get("params", {}) if for_lambda else {}
    return RECIPES[name](**params)


def expected_for(name: str, for_lambda: bool = False) -> dict[str, Any]:
    """A case's verdict: header error, counts, duplicates, and line -> codes (int lines)."""
    case = dict(EXPECTED[name])
    if for_lambda:
        case.update(
            (key, value)
            for key, value in case.get("lambda", {}).items()
            if key not in ("params", "why")
        )
    return {
        "header_error": case["header_error"],
        "rows": case["rows"],
        "valid": case["valid"],
        "invalid": case["invalid"],
        "duplicates": case.get("duplicates", 0),
        "errors": {int(line): codes for line, codes in case["errors"].items()},
    }


@contextmanager
def deadline(seconds: int = SECONDS_PER_TEST) -> Iterator[None]:
    """Fail the block if it runs past `seconds` instead of hanging the suite."""
    if not hasattr(signal, "SIGALRM"):  # not on Windows: no watchdog there
        yield
        return

    def expire(_signum: int, _frame: object) -> None:
        raise TimeoutError(f"the test ran for more than {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
