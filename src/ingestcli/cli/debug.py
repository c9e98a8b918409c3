"""`ingest --debug` (or INGEST_DEBUG=1): our own loggers, at DEBUG, on stderr.

Only the `ingestcli` loggers are turned up: they log names, codes, statuses and timings
(services/session.py logs each AWS call, services/api_client.py each API request), never a
value. botocore's and urllib3's own DEBUG logs print request parameters and bodies, row
values and signed URLs among them, so they stay off, whatever --debug says.
"""

from __future__ import annotations

import logging
import sys

LOGGER = "ingestcli"
FORMAT = "debug: %(name)s: %(message)s"


class _CurrentStderr(logging.StreamHandler):
    """Writes to whatever sys.stderr is when a record comes (a test runner swaps it)."""

    def __init__(self) -> None:
        super().__init__()

    @property
    def stream(self):  # type: ignore[override]
        return sys.stderr

    @stream.setter
    def stream(self, _value: object) -> None:
        pass


def enable_debug_logging() -> logging.Handler:
    """Send the `ingestcli` loggers' DEBUG records to stderr, once however often called."""
    logger = logging.getLogger(LOGGER)
    for handler in list(logger.handlers):
        if isinstance(handler, _CurrentStderr):
            logger.removeHandler(handler)
    handler = _CurrentStderr()
    handler.setFormatter(logging.Formatter(FORMAT))
    handler.setLevel(logging.DEBUG)
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    return handler


def disable_debug_logging() -> None:
    """Undo enable_debug_logging (for a process that runs more than one command)."""
    logger = logging.getLogger(LOGGER)
    for handler in list(logger.handlers):
        if isinstance(handler, _CurrentStderr):
            logger.removeHandler(handler)
    logger.setLevel(logging.NOTSET)
