"""The named errors the package raises for what a user can cause and fix.

Each message says what to do. Which exit code each one means is the CLI's business
(cli/exits.py); nothing outside cli/ knows about exit codes.
"""

from __future__ import annotations


class IngestError(Exception):
    """An error a user can cause and fix; the message says what to do."""


class UsageError(IngestError):
    """An option or argument that cannot work as given."""


class InputError(IngestError):
    """A file that cannot be opened or read."""


class ConfigError(IngestError):
    """The configuration file or a setting in it cannot be used."""


class AwsError(IngestError):
    """AWS refused or cannot be reached: no credentials, no region, a missing permission."""


class DeployError(IngestError):
    """A deploy or destroy that failed, with the reasons CloudFormation gave."""


class NotFound(IngestError):
    """What was asked for does not exist (yet): a report of an unknown or unfinished upload."""


class AuthError(IngestError):
    """The upload API refused the token: missing, wrong, revoked, or not allowed to do this."""
