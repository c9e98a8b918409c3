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
What moto skips by design (bucket and queue policies, function URLs, S3 notifications from
a template, running Lambda code) is the local stack's business, not this module's.

    python -m ingestcli.local.moto_server --port 4566
"""

from __future__ import annotations

import argparse
import socket
import subprocess
import sys
import time
import urllib.request
from typing import Any

_PATCHED = "_ingest_fixed"


def _as_text(value: Any) -> str:
    """A parameter value as CloudFormation compares it: text, lists comma-joined."""
    return ",".join(map(str, value)) if isinstance(value, list) else str(value)


def apply_fixes() -> None:
    """Patch moto's CloudFormation ChangeSet (once; later calls do nothing)."""
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


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def spawn(port: int | None = None, timeout: float = 30.0) -> tuple[subprocess.Popen, str]:
    """Start a fixed moto server in a process of its own; return it and its endpoint once
    it answers. The caller stops it (terminate)."""
    port = port or free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "ingestcli.local.moto_server", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    while True:
        try:
            urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=1).close()
            return server, endpoint
        except OSError:
            if time.monotonic() > deadline or server.poll() is not None:
                server.kill()
                raise RuntimeError(f"the moto server on port {port} did not start") from None
            time.sleep(0.2)


def main(argv: list[str] | None = None) -> None:
    """Run a fixed moto server on 127.0.0.1 until interrupted."""
    parser = argparse.ArgumentParser(description="moto server for the ingest local stack")
    parser.add_argument("--port", type=int, default=4566)
    port = parser.parse_args(argv).port
    apply_fixes()
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    print(f"moto listening on http://127.0.0.1:{port} (data in memory only)", flush=True)
    try:
        import threading

        threading.Event().wait()
    except KeyboardInterrupt:
        server.stop()


if __name__ == "__main__":
    main()
