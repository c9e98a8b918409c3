"""A Lambda function-URL handler served over HTTP on loopback, for the local stack and tests.

Each request becomes the payload-2.0 event a function URL would send, and the handler's
answer becomes the HTTP response, so `ingest upload` talks to the same handler code locally
as in AWS. Invocations run one at a time, as in one Lambda execution environment, so a
handler may keep per-environment state without locks. Nothing here logs a request body or
header: bodies and tokens stay out of the terminal.
"""

from __future__ import annotations

import base64
import ipaddress
import json
import logging
import socket
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from ingestcli.errors import UsageError

Handler = Callable[[dict[str, Any], Any], Any]
MAX_BODY_BYTES = 1 << 20
logger = logging.getLogger("ingestcli.local.api_server")


class LambdaContext:
    """The part of Lambda's context object a handler uses."""

    function_name = "ingest-api-local"
    memory_limit_in_mb = 256

    def __init__(self, timeout: float) -> None:
        self.aws_request_id = str(uuid.uuid4())
        self._deadline = time.monotonic() + timeout

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def loopback_host(host: str) -> str:
    """The address to bind, refusing anything but loopback: the local API has test tokens."""
    if host == "localhost":
        return "127.0.0.1"
    try:
        if ipaddress.ip_address(host).is_loopback:
            return host
    except ValueError:
        pass
    raise UsageError(f"the local API listens on loopback only (127.0.0.1 or ::1), not {host}")


def _joined(pairs: list[tuple[str, str]]) -> dict[str, str]:
    """Repeated names joined with commas, as function URLs pass headers and query values."""
    joined: dict[str, str] = {}
    for name, value in pairs:
        joined[name] = f"{joined[name]},{value}" if name in joined else value
    return joined


def build_event(
    method: str, target: str, headers: list[tuple[str, str]], body: bytes, source_ip: str
) -> dict[str, Any]:
    """The payload-2.0 event a function URL sends for this request."""
    parts = urlsplit(target)
    lowered = [(name.lower(), value) for name, value in headers]
    header_map = _joined([(name, value) for name, value in lowered if name != "cookie"])
    now = datetime.now(UTC)
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": parts.path or "/",
        "rawQueryString": parts.query,
        "headers": header_map,
        "requestContext": {
            "accountId": "anonymous",
            "apiId": "local",
            "domainName": header_map.get("host", "localhost"),
            "http": {
                "method": method,
                "path": parts.path or "/",
                "protocol": "HTTP/1.1",
                "sourceIp": source_ip,
                "userAgent": header_map.get("user-agent", ""),
            },
            "requestId": str(uuid.uuid4()),
            "routeKey": "$default",
            "stage": "$default",
            "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "timeEpoch": int(now.timestamp() * 1000),
        },
        "isBase64Encoded": False,
    }
    cookies = [value for name, value in lowered if name == "cookie"]
    if cookies:
        event["cookies"] = [c.strip() for value in cookies for c in value.split(";") if c.strip()]
    if parts.query:
        event["queryStringParameters"] = _joined(parse_qsl(parts.query, keep_blank_values=True))
    if body:
        try:
            event["body"] = body.decode("utf-8")
        except UnicodeDecodeError:
            event["body"] = base64.b64encode(body).decode("ascii")
            event["isBase64Encoded"] = True
    return event


def route_shape(target: str) -> str:
    """The route a request target matches, as the API names it (`/uploads`,
    `/uploads/{upload_id}`), or `/{unknown}`: never a segment of the path itself, which may
    carry what a caller misplaced there (a token)."""
    path = urlsplit(target).path.rstrip("/") or "/"
    if path in ("/", "/uploads", "/provider"):
        return path
    if path.startswith("/uploads/") and path.count("/") == 2:
        return "/uploads/{upload_id}"
    if path.startswith("/uploads/") and path.count("/") == 3 and path.endswith("/abandon"):
        return "/uploads/{upload_id}/abandon"
    return "/{unknown}"


def _error_body(code: str, message: str) -> bytes:
    return json.dumps({"error": {"code": code, "message": message}}).encode()


def build_response(result: Any) -> tuple[int, list[tuple[str, str]], bytes]:
    """Status, headers and body from a handler's result, read as function URLs read it: a dict
    with statusCode is a response; anything else is sent as JSON with 200."""
    if not (isinstance(result, dict) and "statusCode" in result):
        return 200, [("Content-Type", "application/json")], json.dumps(result).encode()
    status = int(result["statusCode"])
    if not 100 <= status <= 599:
        raise ValueError(f"statusCode {status} is not an HTTP status")
    headers = [(str(name), str(value)) for name, value in (result.get("headers") or {}).items()]
    headers += [("Set-Cookie", str(cookie)) for cookie in result.get("cookies") or []]
    body = result.get("body") or ""
    if not isinstance(body, str):
        raise TypeError("the handler's body is not a string")
    data = base64.b64decode(body) if result.get("isBase64Encoded") else body.encode("utf-8")
    if not any(name.lower() == "content-type" for name, _ in headers):
        headers.append(("Content-Type", "application/json"))
    return status, headers, data


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 60  # seconds a client may stall mid-request before its connection is dropped
    server: _Server

    def do_request(self) -> None:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            self._reply_error(411, "length_required", "send the body with a Content-Length")
            return
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length < 0:
            self._reply_error(400, "bad_request", "the Content-Length is not a number")
            return
        if length > self.server.max_body:
            self._reply_error(413, "payload_too_large", "the request body is too large")
            return
        body = self.rfile.read(length)
        event = build_event(
            self.command, self.path, list(self.headers.items()), body, self.client_address[0]
        )
        try:
            with self.server.invoke_lock:
                result = self.server.handler(event, LambdaContext(self.server.timeout_seconds))
            status, headers, data = build_response(result)
        except Exception:
            logger.exception("the handler failed on %s %s", self.command, route_shape(self.path))
            self._reply_error(500, "internal_error", "internal error: see the API's log")
            return
        self._reply(status, headers, data)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = do_request

    def _reply_error(self, status: int, code: str, message: str) -> None:
        self.close_connection = True  # a body we did not read may still be on the wire
        headers = [("Content-Type", "application/json"), ("Connection", "close")]
        self._reply(status, headers, _error_body(code, message))

    def _reply(self, status: int, headers: list[tuple[str, str]], data: bytes) -> None:
        self.send_response(status)
        for name, value in headers:
            if name.lower() not in ("content-length", "transfer-encoding"):
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Method, route shape and status only: a path may carry what a caller misplaced there
        (a token), so no part of it is logged; query, headers and body never are."""
        route = route_shape(getattr(self, "path", "") or "")
        logger.info("%s %s %s", getattr(self, "command", None) or "-", route, code)

    def log_message(self, format: str, *args: Any) -> None:
        """The standard library's messages quote the raw request line: not logged."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(
        self,
        address: tuple[str, int],
        handler: Handler,
        max_body: int,
        timeout: float,
        listener: socket.socket | None = None,
    ) -> None:
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, _RequestHandler, bind_and_activate=listener is None)
        if listener is not None:  # bound and listening already (local.ports)
            self.socket.close()
            self.socket, self.server_address = listener, listener.getsockname()
        self.handler = handler
        self.max_body = max_body
        self.timeout_seconds = timeout
        self.invoke_lock = threading.Lock()

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hung up or stalled: noted quietly, not a traceback on the terminal."""
        logger.debug("local API: a connection from %s failed", client_address[0], exc_info=True)


class ApiServer:
    """Serves `handler(event, context)` at http://127.0.0.1:<port>/ until stopped; `timeout`
    is the Lambda timeout the context counts down from, `max_body` the largest body taken,
    `listener` a loopback socket bound and listening already, served instead of `port`."""

    def __init__(
        self,
        handler: Handler,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        max_body: int = MAX_BODY_BYTES,
        timeout: float = 30.0,
        listener: socket.socket | None = None,
    ) -> None:
        self._handler = handler
        self._address = (loopback_host(host), port)
        self._listener = listener
        self._max_body = max_body
        self._timeout = timeout
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._url: str | None = None

    @property
    def url(self) -> str:
        """The base URL, e.g. http://127.0.0.1:8123, once started."""
        if self._url is None:
            raise RuntimeError("the local API is not running: call start()")
        return self._url

    def start(self) -> str:
        """Bind (port 0: any free port), serve in a daemon thread, and return the base URL."""
        if self._server is not None:
            raise RuntimeError("the local API is already running")
        server = _Server(
            self._address, self._handler, self._max_body, self._timeout, self._listener
        )
        host, port = server.server_address[:2]
        url = f"http://[{host}]:{port}" if ":" in str(host) else f"http://{host}:{port}"
        self._server, self._url = server, url
        self._thread = threading.Thread(
            target=server.serve_forever, args=(0.1,), name="local-api", daemon=True
        )
        self._thread.start()
        return url

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = self._thread = self._url = None

    def __enter__(self) -> ApiServer:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
