"""The ingest function's log lines: one JSON object each, with ids, counts, durations and
error codes only, never a value from a file (values are patient data)."""

from __future__ import annotations

import json
import logging
from typing import Any

logger = logging.getLogger("ingest")
logger.setLevel(logging.INFO)


def log(event: str, **fields: Any) -> None:
    logger.info(json.dumps({"event": event, **fields}, default=str))
