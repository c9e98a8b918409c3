"""A clock and a sleep that only move when slept on: waits and backoffs tested in no time."""

from __future__ import annotations


class FakeTime:
    """`clock()` reads `now`; `sleep(s)` records `s` and moves `now` on by it."""

    def __init__(self, start: float = 0.0) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def clock(self) -> float:
        return self.now
