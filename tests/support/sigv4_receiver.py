"""A loopback stand-in for S3's PUT that checks what moto never does: the SigV4 signature of
a presigned URL, recomputed with botocore's own signer and the signing credentials, over
exactly the headers the URL signed as the client sent them; the x-amz-checksum-sha256 of the
body; and If-None-Match: * (one object a key). Accepted bodies are kept by path."""

from __future__ import annotations

import base64
import hashlib
import hmac
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from botocore.auth import S3SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials


def expected_signature(method: str, url: str, headers: dict[str, str], credentials: Any) -> str:
    """The signature S3 would compute for this request: the URL's own X-Amz-* parameters,
    the headers it names in X-Amz-SignedHeaders with the values received."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    found = dict(query)
    unsigned = urlencode([(k, v) for k, v in query if k != "X-Amz-Signature"], quote_via=quote)
    named = found["X-Amz-SignedHeaders"].split(";")
    request = AWSRequest(
        method=method,
        url=urlunsplit(parts._replace(query=unsigned)),
        headers={name: headers[name] for name in named if name in headers},
    )
    request.context["timestamp"] = found["X-Amz-Date"]
    region = found["X-Amz-Credential"].split("/")[2]
    auth = S3SigV4QueryAuth(credentials, "s3", region, expires=int(found["X-Amz-Expires"]))
    canonical = auth.canonical_request(request)
    return auth.signature(auth.string_to_sign(request, canonical), request)


class _Handler(BaseHTTPRequestHandler):
    server: SigV4Receiver

    def do_PUT(self) -> None:
        body = self.rfile.read(int(self.headers.get("content-length", "0")))
        headers = {name.lower(): value for name, value in self.headers.items()}
        url = f"http://{headers['host']}{self.path}"
        status, code = self.server.judge(url, headers, body)
        self.send_response(status)
        answer = f"<Error><Code>{code}</Code></Error>".encode() if code else b""
        self.send_header("content-length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class SigV4Receiver(ThreadingHTTPServer):
    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.credentials: dict[str, Credentials] = {}  # access key id -> its credentials
        self.stored: dict[str, bytes] = {}
        self.refused: list[str] = []  # the codes answered, in order
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def trust(self, key_id: str, secret: str, token: str | None = None) -> None:
        self.credentials[key_id] = Credentials(key_id, secret, token)

    def judge(self, url: str, headers: dict[str, str], body: bytes) -> tuple[int, str]:
        query = dict(parse_qsl(urlsplit(url).query, keep_blank_values=True))
        credentials = self.credentials.get(query.get("X-Amz-Credential", "").split("/")[0])
        if credentials is None or "X-Amz-Signature" not in query:
            return self._refuse(403, "AccessDenied")
        signature = expected_signature("PUT", url, headers, credentials)
        if not hmac.compare_digest(signature, query["X-Amz-Signature"]):
            return self._refuse(403, "SignatureDoesNotMatch")
        declared = headers.get("x-amz-checksum-sha256")
        if declared and declared != base64.b64encode(hashlib.sha256(body).digest()).decode():
            return self._refuse(400, "BadDigest")
        path = urlsplit(url).path
        with self._lock:
            if headers.get("if-none-match") == "*" and path in self.stored:
                return self._refuse(412, "PreconditionFailed")
            self.stored[path] = body
        return 200, ""

    def _refuse(self, status: int, code: str) -> tuple[int, str]:
        self.refused.append(code)
        return status, code

    def __enter__(self) -> SigV4Receiver:
        threading.Thread(target=self.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.shutdown()
        self.server_close()
