"""What an AWS error says, read in one place: its code, never its message (which may quote a
value from a request, and requests carry patient data).

Duck-typed on `error.response`, as botocore's ClientError carries it, so moto's errors and
test doubles read the same way.
"""

from __future__ import annotations

NOT_FOUND = frozenset({"404", "NoSuchKey", "NotFound", "NoSuchVersion"})
CONDITION_FAILED = "ConditionalCheckFailedException"


def error_code(error: BaseException) -> str | None:
    """AWS's error code of a ClientError, or None for any other exception."""
    response = getattr(error, "response", None)
    if not isinstance(response, dict):
        return None
    code = response.get("Error", {}).get("Code")
    return str(code) if code else None


def error_name(error: BaseException) -> str:
    """For logs and reports: AWS's error code, or else the exception's class name."""
    return error_code(error) or type(error).__name__


def is_missing(error: BaseException) -> bool:
    """S3's ways of saying the object (or that version) is not there; a HEAD has no body,
    so only its status says so."""
    if error_code(error) in NOT_FOUND:
        return True
    response = getattr(error, "response", None)
    return isinstance(response, dict) and (
        response.get("ResponseMetadata", {}).get("HTTPStatusCode") == 404
    )


def is_precondition_failure(error: BaseException) -> bool:
    """S3 refused a read pinned by If-Match: the object at the key is no longer that one."""
    if error_code(error) == "PreconditionFailed":
        return True
    response = getattr(error, "response", None)
    return isinstance(response, dict) and (
        response.get("ResponseMetadata", {}).get("HTTPStatusCode") == 412
    )


def is_condition_failure(error: BaseException) -> bool:
    """DynamoDB refused a conditional write: the condition, not the request, failed."""
    return error_code(error) == CONDITION_FAILED
