"""A DynamoDB stand-in on loopback for the ingest benchmarks: it answers BatchWriteItem
(after `delay` seconds, as a throttled table would make the writers wait) and keeps nothing,
so a run measures the handler, not moto holding a million items; every other call (the
providers table, the upload's lease) goes on to moto."""

from __future__ import annotations

import http.server
import json
import threading
import time
import urllib.request


class _Sink(http.server.BaseHTTPRequestHandler):
    moto_endpoint = ""
    delay = 0.0

    def do_POST(self) -> None:
        request = self.rfile.read(int(self.headers["Content-Length"]))
        if self.headers.get("X-Amz-Target", "").endswith("BatchWriteItem"):
            time.sleep(self.delay)
            body = json.dumps({"UnprocessedItems": {}}).encode()
        else:
            forwarded = urllib.request.Request(
                self.moto_endpoint, data=request, headers=dict(self.headers.items())
            )
            with urllib.request.urlopen(forwarded) as answer:
                body = answer.read()
        self.send_response(200)
        self.send_header("Content-Type", "application/x-amz-json-1.0")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_: object) -> None:
        pass


def start_sink(
    moto_endpoint: str, delay: float = 0.0
) -> tuple[http.server.ThreadingHTTPServer, str]:
    """The sink, serving in a thread of its own, and its endpoint URL."""
    handler = type("Sink", (_Sink,), {"moto_endpoint": moto_endpoint, "delay": delay})
    sink = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=sink.serve_forever, daemon=True).start()
    return sink, f"http://127.0.0.1:{sink.server_address[1]}"
