"""How long to wait before trying again: exponential, capped, with jitter, so that clients
retrying at once spread out instead of failing together again (AWS's advice)."""

from __future__ import annotations

import random
from collections.abc import Callable


def backoff_delay(
    attempt: int, *, base: float, cap: float, jitter: Callable[[], float] = random.random
) -> float:
    """Seconds before retry number `attempt` (0 for the first retry): the share `jitter()`
    of base * 2**attempt, never more than `cap`. The default is full jitter (any share)."""
    return jitter() * min(cap, base * 2**attempt)


def half_to_full() -> float:
    """Equal jitter: at least half the pause, for a client whose retry should not be instant."""
    return random.uniform(0.5, 1.0)
