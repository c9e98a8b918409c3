"""`ingest check`: a post-deploy smoke test, run by an operator against a deployed stack.

A canary provider (a fresh `ingest-canary-<random>` id, added with a fresh token) sends a
3-row file through the real API and a presigned PUT, as `ingest upload` does, waits for its
report and reads the rows back through the support query; then sends it again in parts, the
way large files go (one part: the last part of an upload may be under S3's 5 MiB), and waits
for that report too; then everything it left is deleted (check_cleanup.py), whatever
happened, Ctrl-C included. Each link of that chain gets
a verdict: it holds, it is broken (what happened and what to look at, check_verdicts.py),
or it was not reached.

Plan first, then execute, as deploy/ does: `plan_check` (check_plan.py) turns the stack's
description into a CheckPlan, and `CheckRunner` runs it. `run_check` does both and is what
the CLI calls; verdicts reach it one by one, as each link is decided.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ingestcli.deploy.stack import StackNotFound, describe_stack
from ingestcli.errors import IngestError
from ingestcli.services.api_client import ApiClient
from ingestcli.services.check_cleanup import clean_up
from ingestcli.services.check_observe import depth, observe, queue_arn
from ingestcli.services.check_plan import (
    BROKEN,
    CLEANED,
    DEFAULT_TIMEOUT,
    HOLDS,
    LEFT,
    LINKS,
    NOT_RUN,
    ROWS,
    CheckOutcome,
    CheckPlan,
    Verdict,
    plan_check,
)
from ingestcli.services.check_verdicts import Broken, broken_by, no_report, report_problem
from ingestcli.services.session import aws_errors

OnVerdict = Callable[[Verdict], None]
HEADER = "medical_record_number,date_time,note\r\n"


@dataclass(frozen=True)
class CheckClients:
    """The operator's boto3 clients, pointed at the stack's region and endpoint."""

    cloudformation: Any
    s3: Any
    sqs: Any
    dynamodb: Any


def run_check(
    clients: CheckClients,
    stack_name: str,
    *,
    api_url: tuple[str, str] | None = None,
    fallback_api_url: tuple[str, str] | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    on_plan: Callable[[CheckPlan], None] = lambda _plan: None,
    on_verdict: OnVerdict = lambda _verdict: None,
) -> CheckOutcome:
    """Plan, then run every link, then clean up; each verdict goes to `on_verdict` as it is
    reached. `api_url` and `fallback_api_url` are (url, where it came from): see plan_check.
    Ctrl-C still cleans up, then goes on as KeyboardInterrupt."""
    outcome = CheckOutcome(stack_name)

    def record(verdict: Verdict) -> None:
        (outcome.links if verdict.link in LINKS else outcome.cleanup).append(verdict)
        on_verdict(verdict)

    try:
        with aws_errors():
            stack = describe_stack(clients.cloudformation, stack_name)
        if stack is None:
            raise StackNotFound.seen_by(clients.cloudformation, stack_name)
        plan = plan_check(
            stack, api_url=api_url, fallback_api_url=fallback_api_url, timeout=timeout
        )
    except (Broken, IngestError) as error:
        if isinstance(error, StackNotFound):
            found = Broken(f"stack not found: {error}", "--stack-name, --region and --profile")
        else:
            found = error if isinstance(error, Broken) else broken_by("stack", error, {})
        record(Verdict("stack", BROKEN, found.detail, found.look_at))
        for link in LINKS[1:]:
            record(Verdict(link, NOT_RUN, "not reached"))
        return outcome
    outcome.canary = plan.canary
    on_plan(plan)
    record(Verdict("stack", HOLDS, f"{plan.stack_name} is {stack['StackStatus']}"))
    CheckRunner(clients, plan, outcome, record).run()
    return outcome


@contextmanager
def _canary_file() -> Iterator[Path]:
    """The canary's 3-row file, in a folder of its own that is gone afterwards."""
    with tempfile.TemporaryDirectory(prefix="ingest-check-") as folder:
        path = Path(folder) / "ingest-check.csv"
        rows = "".join(f"{mrn},{when},ingest check\r\n" for mrn, when in ROWS)
        path.write_text(HEADER + rows, encoding="utf-8")
        yield path


class CheckRunner:
    """Runs a CheckPlan's links in order: the first broken one stops the chain, and the
    clean-up runs whatever happened."""

    def __init__(
        self, clients: CheckClients, plan: CheckPlan, outcome: CheckOutcome, record: OnVerdict
    ) -> None:
        self.clients, self.plan, self.outcome, self.record = clients, plan, outcome, record
        self.places = plan.places()
        self.added = False
        self.client: ApiClient | None = None
        self.key = ""
        self.dead_letters: int | None = None

    def run(self) -> None:
        steps = (
            self._provider, self._api, self._upload, self._report, self._records, self._parts
        )  # fmt: skip
        try:
            for link, step in zip(LINKS[1:], steps, strict=True):
                try:
                    detail = step()
                except Broken as broken:
                    self.record(Verdict(link, BROKEN, broken.detail, broken.look_at))
                except IngestError as error:
                    found = broken_by(link, error, self.places)
                    self.record(Verdict(link, BROKEN, found.detail, found.look_at))
                else:
                    self.record(Verdict(link, HOLDS, detail))
                    continue
                for later in LINKS[LINKS.index(link) + 1 :]:
                    self.record(Verdict(later, NOT_RUN, "not reached"))
                break
        finally:
            if self.added:  # a provider never added left nothing, and may not be ours
                for step, done, detail, hint in clean_up(
                    self.clients.dynamodb, self.clients.s3, self.plan.outputs, self.plan.canary
                ):
                    state = CLEANED if done else LEFT
                    self.record(Verdict(f"cleanup {step}", state, detail, hint))

    def _provider(self) -> str:
        from ingestcli.services.providers import ProviderRegistry

        table = self.plan.outputs["ProvidersTable"]
        _provider, token = ProviderRegistry(self.clients.dynamodb, table).add(
            self.plan.canary, canary=True
        )
        self.added = True
        source = self.plan.api_url_source
        self.client = ApiClient(self.plan.api_url, token, url_source=source)
        return f"{self.plan.canary} added to {table} with a fresh token"

    def _api(self) -> str:
        assert self.client is not None
        answer = self.client.provider_settings()
        if answer.get("provider") != self.plan.canary:
            raise Broken(
                "the API answered for another provider than the canary's token",
                f"the API function's PROVIDERS_TABLE setting ({self.plan.api_url})",
            )
        return f"{self.plan.api_url} ({self.plan.api_url_source}) took the canary's token"

    def _upload(self) -> str:
        from ingestcli.services.upload import upload

        assert self.client is not None
        self.dead_letters = depth(self.clients.sqs, self.plan.outputs["DeadLetterQueueUrl"])[0]
        with _canary_file() as path:
            sent = upload(self.client, str(path))
        self.outcome.upload_id, self.key = sent["upload_id"], sent.get("key") or ""
        return f"{len(ROWS)} rows sent as upload {sent['upload_id']}"

    def _parts(self) -> str:
        """The file again as an upload in parts: opened by the API, its one part PUT to a
        presigned URL, listed and completed, ingested, reported: the way large files go."""
        from ingestcli.core.multipart import MIN_PART_BYTES
        from ingestcli.services.parts import upload_in_parts
        from ingestcli.services.read_once import check_and_hash

        assert self.client is not None
        with _canary_file() as path:
            digest = check_and_hash(str(path), part_size=MIN_PART_BYTES)[1]
            sent = upload_in_parts(self.client, str(path), digest, resume_folder=path.parent)
        done = self._await_report(sent["upload_id"], sent.get("key") or "", in_parts=True)
        return f"{len(ROWS)} rows sent in parts as upload {sent['upload_id']}; {done}"

    def _report(self) -> str:
        assert self.outcome.upload_id
        return self._await_report(self.outcome.upload_id, self.key, in_parts=False)

    def _await_report(self, upload_id: str, key: str, *, in_parts: bool) -> str:
        from ingestcli.services.waiting import WaitTimeout, wait_for_report

        assert self.client is not None
        started = time.monotonic()
        try:
            report = wait_for_report(self.client, upload_id, timeout=self.plan.timeout)
        except WaitTimeout as late:
            seen = observe(
                self.clients.s3,
                self.clients.sqs,
                self.plan.outputs,
                key,
                waited=self.plan.timeout,
                last_status=str(late.document.get("status", "")),
                dead_letters_before=self.dead_letters,
            )
            arn = queue_arn(self.clients.sqs, self.plan.outputs["QueueUrl"])
            places = self.places | {"key": key, "queue_arn": arn}
            raise no_report(seen, places, in_parts=in_parts) from None
        found = report_problem(report, len(ROWS), self.places)
        if found is not None:
            raise found
        took = time.monotonic() - started
        return f"{report['status']}: {report['written']} of {len(ROWS)} rows written ({took:.1f} s)"

    def _records(self) -> str:
        from ingestcli.services.support import records

        table = self.plan.outputs["RecordsTable"]
        back = 0
        for mrn, _when in ROWS:
            found = records(self.clients.dynamodb, table, self.plan.canary, mrn, limit=5)
            back += sum(1 for row in found if row.get("upload_id") == self.outcome.upload_id)
        if back != len(ROWS):
            raise Broken(
                f"{back} of {len(ROWS)} rows came back from {table}, which the report "
                "counted as written",
                "the ingest function's RECORDS_TABLE setting, and the table itself",
            )
        return f"{back} of {len(ROWS)} rows came back from {table}"
