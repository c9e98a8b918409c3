"""`ingest upload` of a large file to the local stack, as a ratio to boto3's `upload_file`.

    python benchmarks/upload_bench.py                         # 1 GiB, 3 rounds: 4-7 minutes
    python benchmarks/upload_bench.py --size-mb 256 --rounds 5

Each round, in an order that alternates, and each in a fresh process (its own peak RSS):
boto3's upload_file with its default TransferConfig to the local stack's moto server and
bucket, at a key outside every provider's prefix (the baseline); `ingest upload FILE
--no-wait` as a provider runs it (16 MiB parts, 8 at a time); and the same with boto3's
settings (`--part-size 8MB --part-jobs 10`). The bucket's notification is removed before
timing, so the stack never ingests the file; every version an upload stored is deleted after
it; the stack is stopped at the end, whatever happened. See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from upload_bench_child import children_cpu, client, cpu_seconds, moto_pid, peak_mb
from validate_bench import COLUMNS, DEPARTMENTS, DIAGNOSES, ENCOUNTERS, _date_time

MIB = 1024**2
PROVIDER = "bench-clinic"
CHILD = str(Path(__file__).with_name("upload_bench_child.py"))
NOTE_BYTES = 1900  # a progress note's length: about 2 KB a row
SENTENCES = [
    "Patient seen for follow-up of chronic conditions",
    "reports improvement since the last visit, sleeping better",
    'denies chest pain, shortness of breath or "dizziness"',
    "medication list reviewed with the patient and reconciled",
    "blood pressure rechecked after five minutes at rest",
    "labs ordered: CBC, CMP, lipid panel, HbA1c",
    "counselled on diet, exercise and smoking cessation",
    "no known drug allergies; immunisations up to date",
    "family history of type 2 diabetes and hypertension",
    "return in 3 months, sooner if symptoms worsen",
    "plan discussed with the attending, who agrees",
    "patient verbalised understanding of the plan",
]
MEASURES = ("boto3", "ingest", "ingest_8mb_10")
INGEST_ARGS = {"ingest": [], "ingest_8mb_10": ["--part-size", "8MB", "--part-jobs", "10"]}
PUT_LINE = re.compile(r"PUT S3 part \d+ -> (\d+) in (\d+) ms")
API_LINE = re.compile(r"ingestcli\.api_client: (\w+) (\S+) -> (\d+) in (\d+) ms")


def _notes(rng: random.Random, count: int) -> list[str]:
    """`count` free-text notes of about NOTE_BYTES, with commas and quotes, as EHRs export."""
    notes = []
    for _ in range(count):
        text, target = [], rng.randrange(NOTE_BYTES - 300, NOTE_BYTES + 300)
        while sum(map(len, text)) < target:
            text.append(rng.choice(SENTENCES) + rng.choice([". ", "; ", ", "]))
        notes.append("".join(text).strip())
    return notes


def generate(path: Path, size: int, seed: int = 20261130) -> int:
    """A seeded clinical CSV of at least `size` bytes whose every row is valid (`ingest
    upload` refuses a file with invalid rows), about 2 KB a row; returns its rows."""
    rng = random.Random(seed)
    notes = _notes(rng, 1000)
    start = datetime(2022, 1, 1, tzinfo=UTC)
    rows = 0
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(COLUMNS)
        while handle.tell() < size:
            batch = []
            for _ in range(1000):
                moment = start + timedelta(seconds=rng.randrange(3 * 365 * 86400))
                batch.append([
                    f"MRN{rng.randrange(10**7):07d}",
                    _date_time(rng, moment.replace(microsecond=rng.randrange(10**6))),
                    rng.choice(ENCOUNTERS), rng.choice(DEPARTMENTS),
                    str(rng.randrange(10**9, 10**10)), rng.choice(DIAGNOSES),
                    str(rng.randrange(90, 180)), str(rng.randrange(50, 110)),
                    str(rng.randrange(45, 140)), f"{rng.uniform(35.5, 39.5):.1f}",
                    rng.choice(notes),
                ])  # fmt: skip
            writer.writerows(batch)
            rows += len(batch)
    return rows


def _user_env(home: Path) -> dict[str, str]:
    """A fresh provider's environment: its own home, config and state folders, none of this
    machine's AWS_ or INGEST_ settings, and no AWS profiles (the local stack needs none)."""
    kept = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "INGEST_"))}
    return kept | {
        "HOME": str(home), "XDG_CONFIG_HOME": str(home / "config"),
        "XDG_STATE_HOME": str(home / "state"), "NO_COLOR": "1", "COLUMNS": "120",
        "AWS_CONFIG_FILE": str(home / "missing"),
        "AWS_SHARED_CREDENTIALS_FILE": str(home / "missing"), "INGEST_PROFILE": "local",
    }  # fmt: skip


def _ingest(env: dict[str, str], *arguments: str, stdin: str | None = None) -> str:
    """`ingest ARGUMENTS...` as the operator or the provider: its stdout, or the run ends."""
    done = subprocess.run(
        [sys.executable, "-m", "ingestcli", *arguments], input=stdin, env=env,
        capture_output=True, text=True, timeout=300, cwd=env["HOME"],
    )  # fmt: skip
    if done.returncode != 0:
        raise SystemExit(f"ingest {' '.join(arguments)}: exit {done.returncode}\n{done.stderr}")
    return done.stdout


def _child(env: dict[str, str], servers: dict[str, int], *arguments: str) -> tuple[dict, str]:
    """One measurement in a fresh process: what it wrote, its wall time from start to exit,
    the CPU seconds it and each server used meanwhile, and its stderr (`--debug` lines)."""
    result = Path(env["HOME"]) / "result.json"
    result.unlink(missing_ok=True)
    before = {name: cpu_seconds(pid) for name, pid in servers.items()}
    client_before, started = children_cpu(), time.perf_counter()
    done = subprocess.run(
        [sys.executable, CHILD, str(result), *arguments], env=env,
        capture_output=True, text=True, timeout=3600, cwd=env["HOME"],
    )  # fmt: skip
    found = {"wall_seconds": time.perf_counter() - started}
    found["client_cpu"] = children_cpu() - client_before
    for name, pid in servers.items():
        found[f"{name}_cpu"] = cpu_seconds(pid) - before[name]
    if done.returncode != 0 or not result.exists():
        raise SystemExit(f"{arguments[0]}: exit {done.returncode}\n{done.stderr[-3000:]}")
    return json.loads(result.read_text()) | found, done.stderr


def _clear(s3, bucket: str) -> list[dict]:
    """Delete every version, delete marker and open multipart upload in the bucket (the stack
    is this benchmark's alone); return the object versions that were there."""
    found = []
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
        found += page.get("Versions", [])
        for entry in page.get("Versions", []) + page.get("DeleteMarkers", []):
            s3.delete_object(Bucket=bucket, Key=entry["Key"], VersionId=entry["VersionId"])
    for upload in s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []):
        s3.abort_multipart_upload(Bucket=bucket, Key=upload["Key"], UploadId=upload["UploadId"])
    return found


def _breakdown(stderr: str) -> dict[str, float]:
    """From `ingest --debug`'s lines: the part PUTs (count, mean ms) and the API's answers
    (seconds) to open the upload, to hand out part URLs, and to complete it."""
    puts = [int(ms) for status, ms in PUT_LINE.findall(stderr) if status.startswith("2")]
    routes = {"open": 0, "urls": 0, "complete": 0}
    for method, route, _, ms in API_LINE.findall(stderr):
        if method == "POST" and route == "/uploads":
            routes["open"] += int(ms)
        elif method == "POST" and route.endswith(("/parts", "/complete")):
            routes["urls" if route.endswith("/parts") else "complete"] += int(ms)
    return {f"{name}_seconds": ms / 1000 for name, ms in routes.items()} | {
        "puts": len(puts),
        "put_ms_mean": statistics.fmean(puts) if puts else 0.0,
    }


def _measure(kind: str, env: dict, servers: dict[str, int], s3, bucket: str, path: Path) -> dict:
    """One upload in a process of its own, checked to have landed whole, then deleted."""
    if kind == "boto3":
        endpoint = s3.meta.endpoint_url
        found, _ = _child(env, servers, "boto3", endpoint, bucket, str(path))
    else:
        arguments = ["--debug", "upload", str(path), "--no-wait", "--format", "json"]
        found, stderr = _child(env, servers, "ingest", *arguments, *INGEST_ARGS[kind])
        if found["exit"] != 0:
            raise SystemExit(f"{kind}: exit {found['exit']}\n{stderr[-3000:]}")
        if not {"check_seconds", "send_seconds"} <= found.keys():
            raise SystemExit(f"{kind}: the check or the send in parts never ran: {found}")
        found |= _breakdown(stderr)
    stored = _clear(s3, bucket)
    sizes = [entry["Size"] for entry in stored]
    if sizes != [path.stat().st_size] or "-" not in stored[0]["ETag"]:
        raise SystemExit(f"{kind}: the bucket held {sizes}, not one object in parts")
    found["object_parts"] = int(stored[0]["ETag"].strip('"').rsplit("-", 1)[1])
    found["parts_seconds"] = (
        found["send_seconds"] - found["open_seconds"] - found["complete_seconds"]
    )
    return found


def _stack(env: dict[str, str]) -> tuple[object, str, dict[str, int]]:
    """Start the local stack, register the provider and log it in; return an S3 client on
    its moto server, the uploads bucket (its notification removed) and the servers' pids."""
    _ingest(env, "local", "up", "--detach", "--port", "0", "--api-port", "0")
    status = json.loads(_ingest(env, "local", "status", "--format", "json"))
    token = _ingest(env, "provider", "add", PROVIDER)
    _ingest(env, "login", "--token-stdin", stdin=token)
    s3 = client("s3", status["endpoint"])
    outputs = client("cloudformation", status["endpoint"]).describe_stacks(
        StackName="ingest-local"
    )["Stacks"][0]["Outputs"]
    bucket = next(o["OutputValue"] for o in outputs if o["OutputKey"] == "UploadsBucket")
    # This measures the upload only: without a notification no event reaches the queue,
    # and the stack never ingests the file.
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={})
    left = s3.get_bucket_notification_configuration(Bucket=bucket)
    if any(name.endswith("Configurations") for name in left):
        raise SystemExit(f"the bucket's notification is still there: {sorted(left)}")
    return s3, bucket, {"api": status["pid"], "moto": moto_pid(status["pid"])}


def _line(kind: str, round_: int, found: dict) -> str:
    text = (
        f"round {round_} {kind:<13} whole {found['wall_seconds']:5.1f} s, send "
        f"{found['send_seconds']:5.1f} s = open {found['open_seconds']:.1f} + parts "
        f"{found['parts_seconds']:4.1f} + complete {found['complete_seconds']:4.1f}"
    )
    if "check_seconds" in found:
        text += (
            f"; check {found['check_seconds']:4.1f} s; CPU s: check {found['check_cpu']:.1f}, "
            f"send {found['send_cpu']:.1f}; {found['puts']} PUTs, "
            f"{found['put_ms_mean']:.0f} ms each; part URLs {found['urls_seconds']:.1f} s"
        )
    return text + (
        f"\n        {found['object_parts']} parts; CPU s: client {found['client_cpu']:.1f}, "
        f"moto {found['moto_cpu']:.1f}, API+worker {found['api_cpu']:.1f}; "
        f"peak RSS {found['peak_mb']:.0f} MB"
    )


def _ratio(results: dict[str, list[dict]], kind: str, field: str) -> str:
    """boto3's time ÷ `kind`'s, per round: `kind`'s speed as a share of boto3's."""
    values = [b[field] / i[field] for b, i in zip(results["boto3"], results[kind], strict=True)]
    shown = ", ".join(f"{value:.2f}" for value in values)
    return f"{statistics.median(values):.2f} (rounds {shown})"


def _summary(results: dict[str, list[dict]]) -> None:
    print("\nspeed as a share of boto3's upload_file's (boto3's time / ingest's), median:")
    for kind, label in (("ingest", "ingest, 16 MiB x 8"), ("ingest_8mb_10", "ingest, 8 MiB x 10")):
        print(f"  send, {label}: {_ratio(results, kind, 'send_seconds')}")
        print(f"    of which the parts (open and complete left out): "
              f"{_ratio(results, kind, 'parts_seconds')}")  # fmt: skip
    whole = _ratio(results, "ingest", "wall_seconds")
    print(f"  whole process, `ingest upload --no-wait` against boto3's: {whole}")
    print("median over the rounds:      peak RSS   complete   moto CPU   client CPU")
    for kind in MEASURES:
        row = [statistics.median(r[f] for r in results[kind]) for f in
               ("peak_mb", "complete_seconds", "moto_cpu", "client_cpu")]  # fmt: skip
        print(f"  {kind:<26} {row[0]:5.0f} MB {row[1]:8.1f} s {row[2]:8.1f} s {row[3]:10.1f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--size-mb", type=int, default=1024, help="the file's size in MiB (over 64: in parts)"
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--file", type=Path, help="upload this CSV instead of generating one")
    args = parser.parse_args()
    if args.size_mb <= 64 or args.rounds < 1:
        parser.error("--size-mb must be over 64 (ingest's threshold for parts), --rounds 1 or more")
    with tempfile.TemporaryDirectory(prefix="upload-bench-") as name:
        folder = Path(name)
        path = args.file.resolve() if args.file else folder / "visits.csv"
        if not args.file:
            started = time.perf_counter()
            rows = generate(path, args.size_mb * MIB)
            print(f"generated {path.stat().st_size:,} bytes, {rows:,} rows, in "
                  f"{time.perf_counter() - started:.0f} s", flush=True)  # fmt: skip
        (folder / "home").mkdir()
        env = _user_env(folder / "home")
        results: dict[str, list[dict]] = {kind: [] for kind in MEASURES}
        try:
            s3, bucket, servers = _stack(env)
            _clear(s3, bucket)
            for round_ in range(1, args.rounds + 1):
                for kind in MEASURES if round_ % 2 else MEASURES[::-1]:
                    found = _measure(kind, env, servers, s3, bucket, path)
                    results[kind].append(found)
                    print(_line(kind, round_, found), flush=True)
            print(f"moto's peak RSS: {peak_mb(servers['moto']):,.0f} MB", flush=True)
        finally:
            subprocess.run(
                [sys.executable, "-m", "ingestcli", "local", "down"], env=env,
                capture_output=True, timeout=120,
            )  # fmt: skip
        _summary(results)


if __name__ == "__main__":
    main()
