"""`ingest check`'s verdicts, without AWS: which link an error breaks and what to look at, and
why a report did not come (from what the runner observed afterwards).

Pure functions over plain data, so the reasoning is tested without a stack (the runner,
services/check.py, gathers the observations). No message carries a row value or a token:
only ids, names of resources, codes and counts.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ingestcli.errors import AuthError, AwsError, IngestError, NotFound, UsageError
from ingestcli.services.api_client import ApiUnavailable
from ingestcli.services.s3_put import PutFailed

# How the session module words a denial: "AWS denied s3:PutObject: your credentials ...".
_DENIED = re.compile(r"AWS denied (\S+):")
# A file comes as one PUT (s3:ObjectCreated:Put) or in parts (a multipart upload's
# completion: s3:ObjectCreated:CompleteMultipartUpload); the queue must hear of both.
_ALL_CREATED = "s3:ObjectCreated:*"
_CREATED_EVENTS = frozenset({"s3:ObjectCreated:Put", "s3:ObjectCreated:CompleteMultipartUpload"})
# notification_problem()'s answer when only files sent in parts go unannounced: not why one
# PUT's report is missing, but a broken link all the same.
PARTS_UNANNOUNCED = (
    "announces files sent in one PUT (s3:ObjectCreated:Put) but not files sent in parts "
    "(s3:ObjectCreated:CompleteMultipartUpload) for *.csv keys"
)
_API_LINKS = ("api", "upload", "report")
_LOOK_AT = {
    "stack": "--stack-name, --region, --profile and your AWS credentials",
    "provider": "the providers table (stack output ProvidersTable) and your credentials",
    "records": "the records table (stack output RecordsTable) and your credentials",
}


class Broken(Exception):
    """A link that does not hold: what happened, and where an operator looks first."""

    def __init__(self, detail: str, look_at: str = "") -> None:
        super().__init__(detail)
        self.detail, self.look_at = detail, look_at


def denied_call(error: BaseException) -> str | None:
    """The call AWS denied (`dynamodb:PutItem`, or an operation name), if `error` is a denial."""
    if not isinstance(error, AwsError):
        return None
    found = _DENIED.match(str(error))
    return found.group(1) if found else None


def broken_by(link: str, error: IngestError, places: Mapping[str, str]) -> Broken:
    """The verdict on `link` when one of its calls raised `error`. `places` names what to
    look at: api_url, api_url_source, api_logs, ingest_logs, signer_role, bucket."""
    call = denied_call(error)
    if call is not None:
        return Broken(
            f"a role denied {call}: the credentials this command runs with lack it",
            f"the IAM policy of your (the operator's) credentials: it must allow {call} on "
            "the stack's resources",
        )
    api = f"{places.get('api_url', '?')} ({places.get('api_url_source', '?')})"
    api_logs = places.get("api_logs", "the API function's log group")
    if isinstance(error, ApiUnavailable) and "(HTTP 5" in str(error):
        return Broken(
            f"the API fails: {error}",
            f"{api_logs} (its error_type): a role denied is the usual cause, so check the API "
            "role's permissions on the tables, the bucket and the signer role",
        )
    if isinstance(error, ApiUnavailable):
        return Broken(
            f"API not reachable: {error}",
            f"the API URL {api}; on AWS the function URL (AuthType NONE, and both "
            "lambda:InvokeFunctionUrl and lambda:InvokeFunction permissions for everyone), "
            f"then {api_logs}",
        )
    if isinstance(error, PutFailed):
        return Broken(
            f"PUT refused: {error}",
            f"the signer role {places.get('signer_role', '(SignerRoleArn)')} and its "
            f"s3:PutObject on {places.get('bucket', 'the bucket')}, the bucket policy, and "
            "this machine's clock",
        )
    if isinstance(error, AuthError):
        return Broken(
            f"token refused: {error}",
            "the API function's PROVIDERS_TABLE setting and its role's dynamodb:GetItem on "
            f"the providers table, then {api_logs}",
        )
    if link in _API_LINKS and (
        isinstance(error, NotFound | UsageError) or "does not look like" in str(error)
    ):
        return Broken(f"the API refused: {error}", f"the API URL {api}, then {api_logs}")
    return Broken(str(error), _LOOK_AT.get(link, api_logs if link in _API_LINKS else ""))


def notification_problem(configuration: Mapping[str, Any], queue_arn: str, key: str) -> str:
    """Why the bucket's notification configuration would not send to the queue the event of
    a file created at `key`, sent in one PUT or in parts; "" when it would, for both: an
    entry with s3:ObjectCreated:*, or entries naming both s3:ObjectCreated:Put and
    s3:ObjectCreated:CompleteMultipartUpload."""
    queues = configuration.get("QueueConfigurations") or []
    if not queues:
        return "has no queue"
    ours = [entry for entry in queues if entry.get("QueueArn") == queue_arn]
    if not ours:
        return "sends to another queue only"
    sent = {
        event
        for entry in ours
        if _filter_matches(entry.get("Filter") or {}, key)
        for event in entry.get("Events") or []
    }
    if _ALL_CREATED in sent or sent >= _CREATED_EVENTS:
        return ""
    if "s3:ObjectCreated:Put" in sent:
        return PARTS_UNANNOUNCED
    return "does not send ObjectCreated events for *.csv keys to it"


def _filter_matches(filter_: Mapping[str, Any], key: str) -> bool:
    rules = filter_.get("Key", {}).get("FilterRules", []) or []
    for rule in rules:
        name, value = str(rule.get("Name", "")).lower(), str(rule.get("Value", ""))
        if name == "prefix" and not key.startswith(value):
            return False
        if name == "suffix" and not key.endswith(value):
            return False
    return True


@dataclass(frozen=True)
class Observations:
    """What the runner saw once the report failed to come in time. None: could not tell
    (the `unknown` texts say why)."""

    waited: float
    last_status: str  # pending or processing, from the API
    object_exists: bool | None
    notification: str | None  # notification_problem(): "" reaches the queue
    queue_visible: int | None
    queue_in_flight: int | None
    dead_letters_before: int | None
    dead_letters_after: int | None
    unknown: tuple[str, ...] = ()


def no_report(seen: Observations, places: Mapping[str, str], *, in_parts: bool = False) -> Broken:
    """The broken link behind a report that did not come within the time: told apart by
    what the bucket, the queues and the upload's status show. A notification that misses
    only files sent in parts is the cause for a file sent `in_parts`; it did not stop a
    file sent in one PUT, and is named besides."""
    verdict = _no_report(seen, places, in_parts)
    if in_parts or seen.notification != PARTS_UNANNOUNCED:
        return verdict
    bucket = places.get("bucket", "the bucket")
    return Broken(
        f"{verdict.detail}; besides, bucket {bucket}'s notification configuration "
        f"{PARTS_UNANNOUNCED}: it must send s3:ObjectCreated:*",
        verdict.look_at,
    )


def _no_report(seen: Observations, places: Mapping[str, str], in_parts: bool) -> Broken:
    bucket, key = places.get("bucket", "the bucket"), places.get("key", "the file")
    ingest_logs = places.get("ingest_logs", "the ingest function's log group")
    waited = f"{seen.waited:g} s"
    unknown = f" (could not tell: {'; '.join(seen.unknown)})" if seen.unknown else ""
    if seen.last_status == "processing":
        return Broken(
            f"ingest unfinished: the upload is still processing after {waited}",
            f"{ingest_logs} (errors, timeouts), and the queue; a longer --timeout",
        )
    if seen.object_exists is False:
        return Broken(
            f"the PUT was answered but {key} is not in bucket {bucket}",
            f"the bucket's lifecycle rules and anything else that deletes from {bucket}",
        )
    if seen.notification and (in_parts or seen.notification != PARTS_UNANNOUNCED):
        return Broken(
            f"no S3 notification to the queue: the file arrived, but no report came within "
            f"{waited}, and bucket {bucket}'s notification configuration "
            f"{seen.notification}",
            f"the bucket's notification (`aws s3api get-bucket-notification-configuration "
            f"--bucket {bucket}`): it must send s3:ObjectCreated:* for the suffix .csv to "
            f"the queue {places.get('queue_arn', '')}; `ingest deploy` puts it back",
        )
    before, after = seen.dead_letters_before, seen.dead_letters_after
    if before is not None and after is not None and after > before:
        return Broken(
            f"ingest failed: the dead-letter queue grew from {before} to {after} while "
            f"waiting {waited}",
            f"{ingest_logs}, then the dead-letter queue {places.get('dlq_url', '')}",
        )
    if seen.queue_visible:
        return Broken(
            f"the queue holds {seen.queue_visible} message(s) that nothing receives: no "
            f"report within {waited}",
            "the ingest function's SQS event source mapping (enabled?) and its role's "
            f"sqs:ReceiveMessage on the queue, then {ingest_logs}",
        )
    if seen.queue_in_flight:
        return Broken(
            f"ingest unfinished: the ingest function holds {seen.queue_in_flight} "
            f"message(s) but wrote no report within {waited}",
            f"{ingest_logs} (errors, timeouts); a longer --timeout",
        )
    return Broken(
        f"no report within {waited}: the file arrived and the bucket notifies the queue, "
        f"but the queue shows nothing{unknown}",
        "the queue policy (it must let s3.amazonaws.com send from the bucket), the KMS key "
        f"policy if the stack has one, then {ingest_logs}",
    )


def report_problem(
    report: Mapping[str, Any], rows: int, places: Mapping[str, str]
) -> Broken | None:
    """A report that does not show every row of the canary file written, as a verdict."""
    status = str(report.get("status", ""))
    written = report.get("written")
    if status == "succeeded" and written == rows:
        return None
    codes = ", ".join(sorted(str(code) for code in (report.get("error_counts") or {})))
    ingest_logs = places.get("ingest_logs", "the ingest function's log group")
    said = f" ({codes})" if codes else ""
    if status in ("failed", "partial"):
        return Broken(
            f"ingest failed: the report says {status}, {written} of {rows} rows written{said}",
            f"the report's error codes, then {ingest_logs}",
        )
    return Broken(
        f"the upload ended {status or 'without a status'}, {written} of {rows} rows written{said}",
        ingest_logs,
    )
