"""moto in server mode on loopback, with the fixes the local stack needs.

moto (5.2.x) stands in for AWS locally, but its CloudFormation change sets differ from the
real service in ways that break `ingest deploy`; this module is the one place that fixes
them, for a moto server started here and for moto in-process (tests):
- a change set is diffed on the template text only, so an update that changes only a
  parameter (new code, a new MaxReceiveCount) shows no changes;
- executing one never recomputes the stack's outputs (a stack created from a CREATE change
  set has none, an UPDATE keeps stale ones), nor stores its new template and parameters;
- resources are diffed against the parameters given when the stack was created only, so an
  UPDATE that keeps the other values (UsePreviousValue) "modifies" every resource that
  refers to them, and moto fails halfway through.
It also makes moto's S3 events name the object version a PUT made (`versionId`), as AWS's
always do for a versioned bucket: moto's carry none, so the ingest Lambda's versioned read
path (GetObject with VersionId, with Range on continuation) would never run locally. The
version is the one of the very object the event is about, taken as moto sends the event,
so a second PUT at the same key cannot slip in between.
What moto skips by design (bucket and queue policies, function URLs, S3 notifications and
versioning from a template, running Lambda code) is the local stack's business, not this
module's.

    python -m ingestcli.local.moto_server --port 4566     (0: any free port)
"""

from __future__ import annotations

import argparse
import socket
import subprocess
import sys
import time
import urllib.request
from typing import Any

from ingestcli.errors import IngestError

_PATCHED = "_ingest_fixed"


def _as_text(value: Any) -> str:
    """A parameter value as CloudFormation compares it: text, lists comma-joined."""
    return ",".join(map(str, value)) if isinstance(value, list) else str(value)


def apply_fixes() -> None:
    """Patch moto's CloudFormation ChangeSet and its S3 events (once; later calls do
    nothing)."""
    _fix_change_sets()
    _fix_s3_events()


def _fix_s3_events() -> None:
    """An S3 event for an object of a versioned bucket names its version, as on AWS."""
    from moto.s3 import notifications

    original = notifications._get_s3_event  # a missing name fails loudly, at start
    if getattr(original, _PATCHED, False):
        return

    def event_with_version(event_name: str, bucket: Any, key: Any, *rest: Any) -> Any:
        event = original(event_name, bucket, key, *rest)
        version = getattr(key, "version_id", None)
        if bucket.is_versioned and version and version != "null":
            for record in event["Records"]:
                record["s3"]["object"].setdefault("versionId", version)
        return event

    event_with_version.__wrapped__ = original  # moto's own, for the test of its defect
    setattr(event_with_version, _PATCHED, True)
    notifications._get_s3_event = event_with_version


def _fix_change_sets() -> None:
    from moto.cloudformation import models  # imported here: it takes seconds to load

    change_set = models.ChangeSet
    if getattr(change_set.apply, _PATCHED, False):
        return
    original_apply = change_set.apply
    original_diff = change_set.diff

    def compare_with_resolved_parameters(self: models.ChangeSet) -> None:
        resource_map = self.stack.resource_map
        resolved = resource_map.resolved_parameters  # every value, defaults included
        resource_map.input_parameters = {k: _as_text(v) for k, v in resolved.items()}
        self.parameters = {k: _as_text(v) for k, v in self.parameters.items()}

    def diff_with_parameters(self: models.ChangeSet) -> list[models.Change]:
        changes = original_diff(self)
        if self.change_set_type != "UPDATE":
            return changes
        compare_with_resolved_parameters(self)
        listed = {change.logical_resource_id for change in changes}
        resource_map = self.stack.resource_map
        modified = resource_map.build_resource_diff(self.template_dict, self.parameters)
        for name in modified["Modify"]:
            if name not in listed:
                kind = self.template_dict["Resources"][name]["Type"]
                changes.append(models.Change("Modify", name, kind))
        return changes

    def apply_and_refresh_stack(self: models.ChangeSet) -> None:
        compare_with_resolved_parameters(self)
        original_apply(self)
        stack = self.stack
        stack.template = self.template
        stack._parse_template()  # a CREATE starts from an empty template dict
        stack.description = stack.template_dict.get("Description")
        stack.parameters = self.parameters
        stack.output_map = stack._create_output_map()

    setattr(apply_and_refresh_stack, _PATCHED, True)
    change_set.diff = diff_with_parameters
    change_set.apply = apply_and_refresh_stack


class MotoDidNotStart(IngestError):
    """The moto server's process ended, or never answered, as it started."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def spawn(
    port: int | None = None, timeout: float = 30.0, *, listener: socket.socket | None = None
) -> tuple[subprocess.Popen, str]:
    """Start a fixed moto server in a process of its own, serving on `listener` (taken over
    here) or on `port` (bound here first: a busy one raises PortUnavailable at once); return
    the process and its endpoint once it answers. The caller stops it (terminate)."""
    from ingestcli.local.ports import reserve

    listener = listener or reserve(port or 0)
    port = listener.getsockname()[1]
    try:
        server = subprocess.Popen(
            [sys.executable, "-m", "ingestcli.local.moto_server", "--fd", str(listener.fileno())],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            pass_fds=(listener.fileno(),),
        )
    finally:
        listener.close()  # the server's process holds the port now
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    while True:
        try:
            urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=1).close()
            return server, endpoint  # the socket is ours: what answers is our server
        except OSError:
            if server.poll() is not None:
                raise MotoDidNotStart(
                    f"the moto server on port {port} exited as it started "
                    f"(code {server.returncode}): run `python -m ingestcli.local.moto_server "
                    "--port 0` to see why"
                ) from None
            if time.monotonic() > deadline:
                server.kill()
                server.wait()
                raise MotoDidNotStart(
                    f"the moto server on port {port} did not answer in {timeout:.0f} s"
                ) from None
            time.sleep(0.2)


def main(argv: list[str] | None = None) -> None:
    """Run a fixed moto server on 127.0.0.1 until interrupted: on `--port`, or on the
    listening socket `--fd` a parent bound and passed down (spawn)."""
    parser = argparse.ArgumentParser(description="moto server for the ingest local stack")
    parser.add_argument("--port", type=int, default=4566)
    parser.add_argument("--fd", type=int, default=None, help="a listening socket to serve on")
    arguments = parser.parse_args(argv)
    if arguments.fd is None:
        from ingestcli.local.ports import PortUnavailable, reserve

        try:
            listener = reserve(arguments.port)
        except PortUnavailable as error:
            print(f"error: {error}", file=sys.stderr)
            sys.exit(2)
    else:
        listener = socket.socket(fileno=arguments.fd)
    apply_fixes()
    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )
    from werkzeug.serving import make_server

    port = listener.getsockname()[1]
    app = DomainDispatcherApplication(create_backend_app)
    # Served in this thread on the socket bound before: no bind here that could fail (moto's
    # ThreadedMotoServer waits forever when its thread cannot bind).
    handler, fd = MotoRequestHandler, listener.fileno()
    server = make_server("127.0.0.1", port, app, threaded=True, request_handler=handler, fd=fd)
    listener.close()  # the server holds its own duplicate
    print(f"moto listening on http://127.0.0.1:{port} (data in memory only)", flush=True)
    server.serve_forever()  # until Ctrl-C (werkzeug returns quietly) or SIGTERM


if __name__ == "__main__":
    main()
