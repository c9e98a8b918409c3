"""Throughput and memory of the streaming validator, as ratios to plain csv.reader.

    python benchmarks/validate_bench.py            # 100k and 1M rows, plus frictionless
    python benchmarks/validate_bench.py --rows 100000 --no-peer

Each measurement runs in its own process (so peak RSS is its own), baseline and validator
alternate, and the ratio is taken per round: the machine is shared and noisy, so only
ratios measured in the same run mean anything.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

COLUMNS = [
    "medical_record_number",
    "date_time",
    "encounter_type",
    "department",
    "attending_npi",
    "diagnosis_code",
    "systolic_bp",
    "diastolic_bp",
    "heart_rate",
    "temperature_c",
    "note",
]
ENCOUNTERS = ["outpatient", "inpatient", "emergency", "telehealth", "lab"]
DEPARTMENTS = ["cardiology", "oncology", "pediatrics", "primary care", "radiology", "ED"]
DIAGNOSES = ["E11.9", "I10", "J45.909", "M54.5", "Z00.00", "F41.1", "K21.9", "N39.0"]
NOTES = ["", "follow-up in 2 weeks", "patient reports improvement", 'refill, "as needed"']
OFFSETS = ["-05:00", "-04:00", "-07:00", "+00:00", "+01:00", "+05:30"]
BAD_SHARE = 0.005
PEER_ROWS = 100_000


def _date_time(rng: random.Random, moment: datetime) -> str:
    """Mostly offsets and Z, as exports write them; some with fractions or basic format."""
    pick = rng.random()
    offset = OFFSETS[int(pick * 100) % len(OFFSETS)]
    if pick < 0.55:
        return moment.strftime("%Y-%m-%dT%H:%M:%S") + offset
    if pick < 0.80:
        return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    if pick < 0.92:
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    if pick < 0.97:
        return moment.strftime("%Y-%m-%d %H:%M:%S") + offset
    return moment.strftime("%Y%m%dT%H%M%S") + offset.replace(":", "")


def _bad_row(rng: random.Random, row: list[str]) -> list[str]:
    kind = rng.randrange(5)
    if kind == 0:
        row[1] = row[1][:10]  # a date without a time
    elif kind == 1:
        row[1] = row[1].replace("-", "/", 2)  # not ISO 8601
    elif kind == 2:
        row[0] = row[0] + "#1"  # a character an MRN may not hold
    elif kind == 3:
        row[0] = ""
    else:
        row = row[:-2]  # too few fields
    return row


def generate(path: Path, rows: int, seed: int = 20261125) -> None:
    """A seeded, realistic clinical CSV (about 100 bytes a row) with a small share of bad rows."""
    rng = random.Random(seed)
    start = datetime(2022, 1, 1, tzinfo=UTC)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(COLUMNS)
        for _ in range(rows):
            moment = start + timedelta(seconds=rng.randrange(3 * 365 * 86400))
            row = [
                f"MRN{rng.randrange(10**7):07d}",
                _date_time(rng, moment.replace(microsecond=rng.randrange(10**6))),
                rng.choice(ENCOUNTERS),
                rng.choice(DEPARTMENTS),
                str(rng.randrange(10**9, 10**10)),
                rng.choice(DIAGNOSES),
                str(rng.randrange(90, 180)),
                str(rng.randrange(50, 110)),
                str(rng.randrange(45, 140)),
                f"{rng.uniform(35.5, 39.5):.1f}",
                rng.choice(NOTES),
            ]
            if rng.random() < BAD_SHARE:
                row = _bad_row(rng, row)
            writer.writerow(row)


def _measure(kind: str, path: str) -> dict[str, float]:
    """Run in a child process: time one pass over the file, report rows and peak RSS."""
    if kind == "ingest":
        from ingestcli.core.summary import summarize
    elif kind == "frictionless":
        from frictionless import validate
    started = time.perf_counter()  # imports are start-up cost, not throughput
    if kind == "csv_reader":
        with open(path, newline="", encoding="utf-8") as handle:
            rows = sum(1 for _ in csv.reader(handle)) - 1
    elif kind == "ingest":
        with open(path, "rb") as handle:
            rows = summarize(handle).rows
    elif kind == "straightforward":
        rows = _straightforward(path)
    elif kind == "frictionless":
        os.chdir(os.path.dirname(path))  # frictionless refuses absolute paths as unsafe
        report = validate(os.path.basename(path), limit_errors=10**9)
        rows = report.tasks[0].stats["rows"]
    else:
        raise SystemExit(f"unknown measurement {kind}")
    seconds = time.perf_counter() - started
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"rows": rows, "seconds": seconds, "peak_rss_mb": peak_kib / 1024}


def _straightforward(path: str) -> int:
    """The loop one writes first (regex, fromisoformat, UTC, strftime): a reference point."""
    import re

    mrn_rule = re.compile(r"[A-Za-z0-9._-]{1,64}")
    rows = 0
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        mrn_at, date_time_at = header.index("medical_record_number"), header.index("date_time")
        for fields in reader:
            rows += 1
            if len(fields) != len(header) or not mrn_rule.fullmatch(fields[mrn_at].strip()):
                continue
            try:
                moment = datetime.fromisoformat(fields[date_time_at])
            except ValueError:
                continue
            if moment.tzinfo is not None:
                moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return rows


def _child(kind: str, path: Path) -> dict[str, float]:
    result = subprocess.run(
        [sys.executable, __file__, "--measure", kind, str(path)],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(result.stdout)


def _slice(source: Path, target: Path, rows: int) -> None:
    with source.open(encoding="utf-8") as reader, target.open("w", encoding="utf-8") as writer:
        for number, line in enumerate(reader):
            if number > rows:
                break
            writer.write(line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--no-peer", action="store_true", help="skip frictionless")
    parser.add_argument("--measure", nargs=2, metavar=("KIND", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(_measure(*args.measure)))
        return
    with tempfile.TemporaryDirectory(prefix="ingest-bench-") as folder:
        largest = None
        for rows in args.rows:
            path = Path(folder) / f"clinical-{rows}.csv"
            generate(path, rows)
            largest = path
            _compare_with_csv_reader(path, rows, args.rounds)
        if not args.no_peer and largest is not None:
            _compare_with_frictionless(largest, Path(folder) / "slice.csv", PEER_ROWS)


def _rate(measurement: dict[str, float]) -> float:
    return measurement["rows"] / measurement["seconds"]


def _compare_with_csv_reader(path: Path, rows: int, rounds: int) -> None:
    ratios, baselines, ours, references = [], [], [], []
    for _ in range(rounds):
        baselines.append(_child("csv_reader", path))
        ours.append(_child("ingest", path))
        references.append(_child("straightforward", path))
        ratios.append(_rate(ours[-1]) / _rate(baselines[-1]))
    best_baseline = max(map(_rate, baselines))
    best_ours = max(map(_rate, ours))
    print(
        f"{rows:>9,} rows, {path.stat().st_size / 1e6:.0f} MB: csv.reader {best_baseline:,.0f} "
        f"rows/s, ingest {best_ours:,.0f} rows/s; ratio of best rates "
        f"{best_ours / best_baseline:.2f}, median per-round ratio "
        f"{statistics.median(ratios):.2f} ({', '.join(f'{r:.2f}' for r in ratios)}); "
        f"peak RSS ingest {max(m['peak_rss_mb'] for m in ours):.0f} MB, "
        f"csv.reader {max(m['peak_rss_mb'] for m in baselines):.0f} MB; the straightforward "
        f"loop's ratio of best rates {max(map(_rate, references)) / best_baseline:.2f}"
    )


def _compare_with_frictionless(source: Path, target: Path, rows: int) -> None:
    _slice(source, target, rows)
    peer = _child("frictionless", target)
    mine = _child("ingest", target)
    print(
        f"{rows:>9,} rows: frictionless validate {peer['seconds']:.1f} s "
        f"({_rate(peer):,.0f} rows/s), ingest {mine['seconds']:.2f} s: ingest is "
        f"{_rate(mine) / _rate(peer):.0f}x faster"
    )


if __name__ == "__main__":
    main()
