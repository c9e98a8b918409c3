"""`ingest --debug`: one log line per AWS request the clients of services/session.py send.

The line names the service, the operation, the HTTP status, AWS's error code and the time
taken, and nothing else: never a parameter, a row value, a key (keys hold MRNs), an
endpoint's query string or an AWS message (messages can quote the values sent).
"""

from __future__ import annotations

import logging
import re
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from botocore.client import BaseClient

logger = logging.getLogger("ingestcli.aws")
_STARTED = "ingestcli_started"
_CODE = re.compile(r"[A-Za-z0-9.]{1,64}")


def enabled() -> bool:
    """Whether to hook clients at all: only when someone listens (`--debug`, a test)."""
    return logger.isEnabledFor(logging.DEBUG)


def log_calls(client: BaseClient) -> None:
    """Log every HTTP attempt this client makes (retries included) at DEBUG."""
    client.meta.events.register("request-created", _request_created)
    client.meta.events.register("response-received", _response_received)


def _request_created(request: object, **_: object) -> None:
    context = getattr(request, "context", None)
    if isinstance(context, dict):
        context[_STARTED] = time.monotonic()


def _response_received(
    event_name: str,
    context: dict | None = None,
    response_dict: dict | None = None,
    parsed_response: dict | None = None,
    exception: BaseException | None = None,
    **_: object,
) -> None:
    """One line per HTTP attempt: names, status, AWS error code, time; never a parameter, a
    value, a key, an endpoint's query string or a message (AWS messages can quote values)."""
    _, service, operation = [*event_name.split(".", 2), "?", "?"][:3]
    context = context if isinstance(context, dict) else {}
    started = context.get(_STARTED)
    took = f"{(time.monotonic() - started) * 1000:.0f} ms" if started else "? ms"
    attempt = (context.get("retries") or {}).get("attempt", 1)
    again = f", attempt {attempt}" if isinstance(attempt, int) and attempt > 1 else ""
    if exception is not None or not response_dict:
        failure = type(exception).__name__ if exception is not None else "no answer"
        logger.debug("%s %s: %s after %s%s", service, operation, failure, took, again)
        return
    status = response_dict.get("status_code")
    error = (parsed_response or {}).get("Error") if isinstance(parsed_response, dict) else None
    code = error.get("Code") if isinstance(error, dict) else None
    named = isinstance(code, str) and _CODE.fullmatch(code) and code != str(status)
    said = f" {code}" if named else ""  # botocore names a bare 503 "503"
    logger.debug("%s %s: HTTP %s%s in %s%s", service, operation, status, said, took, again)
