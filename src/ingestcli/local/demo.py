"""`ingest demo`: the whole pipeline, end to end, on this machine, in about half a minute.

It starts the local stack on free loopback ports, plays the operator, the provider and
support in turn with the same core code the commands run, and stops everything again.
Nothing is kept: the stack's data lives in memory, the sample file in a temporary folder.
"""

from __future__ import annotations

import random
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from rich.rule import Rule

from ingestcli.cli.render.output import stderr, stdout

PROVIDER = "demo-clinic"
TIME_ZONE = "America/Chicago"
PATIENT = "MRN-100234"
HEADER = "medical_record_number,date_time,encounter_type,department,systolic_bp,heart_rate,note"
ENCOUNTERS = ("office visit", "follow-up", "telehealth", "lab draw", "vaccination")
DEPARTMENTS = ("family medicine", "cardiology", "pediatrics", "endocrinology")
NOTES = ("routine check", "BP recheck in 2 weeks", '"fasting, 12h"', "no concerns", "refill")


def sample_csv(rows: int = 24, seed: int = 7) -> str:
    """A realistic small file: offsets, a time without one (read in the clinic's zone), a
    patient seen several times, and two bad rows (a bad date, a bad MRN)."""
    chooser = random.Random(seed)
    start = datetime(2024, 3, 4, 8, 15, tzinfo=UTC)
    lines = [HEADER]
    for n in range(rows):
        mrn = PATIENT if n % 5 == 0 else f"MRN-{100300 + n * 7}"
        moment = start + timedelta(hours=n * 9, minutes=chooser.randrange(60))
        offset = chooser.choice(("-06:00", "-05:00", "Z"))
        shift = {"-06:00": -6, "-05:00": -5, "Z": 0}[offset]
        when = (moment + timedelta(hours=shift)).strftime("%Y-%m-%dT%H:%M:%S") + offset
        if n == 7:
            when = (moment - timedelta(hours=6)).strftime("%Y-%m-%d %H:%M")  # no offset
        elif n == 8:
            when = "2024-02-30T09:40:00-06:00"  # a day February never has
        elif n == 15:
            mrn = "MRN#100405"  # '#' is never allowed in an MRN
        line = [
            mrn,
            when,
            chooser.choice(ENCOUNTERS),
            chooser.choice(DEPARTMENTS),
            str(chooser.randrange(105, 150)),
            str(chooser.randrange(55, 95)),
            chooser.choice(NOTES),
        ]
        lines.append(",".join(line))
    return "\n".join(lines) + "\n"


@contextmanager
def _section(title: str, command: str | None = None) -> Iterator[None]:
    stdout.print(Rule(f"[bold]{title}[/]", align="left"))
    if command:
        stdout.print(f"[dim]$ {command}[/]")
    yield
    stdout.print()


def run_demo() -> None:
    """Every step in order; raises (and stops the stack) if any step fails."""
    from ingestcli.cli.render.query import render_records_table
    from ingestcli.cli.render.upload import render_report, render_upload_result
    from ingestcli.cli.render.validate import render_summary
    from ingestcli.local.stack import session, start_local_stack
    from ingestcli.services.api_client import ApiClient
    from ingestcli.services.providers import ProviderRegistry
    from ingestcli.services.support import ProvidersTable, records
    from ingestcli.services.upload import check_before_upload, upload, wait_for_report

    with _section("1. Start the local stack", "ingest local up"):
        stack = start_local_stack(0, 0, on_step=lambda step: stderr.print(f"  • {step}"))
    with stack, tempfile.TemporaryDirectory(prefix="ingest-demo-") as folder:
        stdout.print(f"AWS stands in as moto at {stack.endpoint}; the API at {stack.api_url}.")
        stdout.print("[dim]Its data lives in memory only and is gone when the demo ends.[/]\n")
        dynamodb = session().client("dynamodb", endpoint_url=stack.endpoint)

        with _section(
            "2. Operator: onboard a provider",
            f"ingest provider add {PROVIDER} --timezone {TIME_ZONE}",
        ):
            registry = ProviderRegistry(dynamodb, stack.outputs["ProvidersTable"])
            _provider, token = registry.add(PROVIDER, TIME_ZONE)
            stdout.print(f"{PROVIDER} gets an upload token, shown once ({token[:20]}…);")
            stdout.print("only its SHA-256 is stored. The provider needs no AWS credentials.")

        path = Path(folder) / "visits.csv"
        path.write_text(sample_csv(), "utf-8")
        with _section("3. Provider: a sample file", f"head -4 {path.name}"):
            for line in path.read_text("utf-8").splitlines()[:4]:
                stdout.print(f"  {line}", markup=False)
            stdout.print("  … 24 visits; one has a date that does not exist, one a bad MRN.")

        with _section(
            "4. Provider: check it before it leaves the clinic",
            f"ingest validate {path.name} --assume-tz {TIME_ZONE}",
        ):
            from ingestcli.core.date_time import resolve_time_zone

            render_summary(check_before_upload(str(path), resolve_time_zone(TIME_ZONE)), path.name)

        with _section(
            "5. Provider: upload it and wait for the report",
            f"ingest upload {path.name} --allow-invalid --wait",
        ):
            client = ApiClient(stack.api_url, token)
            sent = upload(client, str(path))
            render_upload_result(sent)
            render_report(wait_for_report(client, sent["upload_id"], timeout=60))
            stdout.print(
                "The two bad rows are rejected with their line and reason; the "
                "others are in DynamoDB."
            )

        with _section(
            "6. Support: one patient's records",
            f"ingest query --provider {PROVIDER} --mrn {PATIENT}",
        ):
            found = records(
                dynamodb,
                stack.outputs["RecordsTable"],
                PROVIDER,
                PATIENT,
                providers=ProvidersTable(dynamodb, stack.outputs["ProvidersTable"]),
            )
            render_records_table(found)

        with _section("7. Stop the local stack", "ingest local down"):
            pass
    stdout.print(
        "Stopped; nothing was kept. Next: `ingest local up` for a stack that stays "
        "up, then the README's commands with --profile local."
    )
