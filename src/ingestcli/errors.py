"""The errors the core raises. Only cli.py turns them into one line and an exit code.

Exit codes (documented in the README): 0 success, 1 the work found problems or AWS
refused, 2 the user's command cannot be carried out as given (options, unreadable file).
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_PROBLEMS = 1
EXIT_USAGE = 2


class IngestError(Exception):
    """An error a user can cause and fix; the message says what to do."""

    exit_code = EXIT_PROBLEMS


class UsageError(IngestError):
    """An option or argument that cannot work as given."""

    exit_code = EXIT_USAGE


class InputError(IngestError):
    """A file that cannot be opened or read."""

    exit_code = EXIT_USAGE


class ConfigError(IngestError):
    """The configuration file or a setting in it cannot be used."""

    exit_code = EXIT_USAGE


class AwsError(IngestError):
    """AWS refused or cannot be reached: no credentials, no region, a missing permission."""


class DeployError(IngestError):
    """A deploy or destroy that failed, with the reasons CloudFormation gave."""


class NotFound(IngestError):
    """What was asked for does not exist (yet): a report of an unknown or unfinished upload."""


class AuthError(IngestError):
    """The upload API refused the token: missing, wrong, revoked, or not allowed to do this."""

    exit_code = EXIT_USAGE
