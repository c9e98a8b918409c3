"""Exit codes, and the one place the core's named errors and an upload's status become a code.

  0  success
  1  the work found problems (invalid rows, a refused header or file), or AWS refused
  2  the command cannot be carried out as given (option, unreadable file, config, token)
  3  the file was sent; its report was not ready (`ingest upload` timed out or was
     interrupted while waiting; `ingest report` of an upload still pending or processing):
     `ingest report UPLOAD_ID` shows it later
130  interrupted (Ctrl-C)

An upload's status, for `ingest upload` and `ingest report` alike (exit_code_for_status):
succeeded 0; partial, failed, abandoned, expired 1; pending, processing 3.

Several files in one `ingest upload` exit with the most serious of their codes, in the order
1 > 2 > 3 > 0 (worst_exit_code): rows that were rejected, or a file refused, are what a script
must not miss, so a usage problem of another file (one too large for the API, say) never hides
them; every file's own outcome is in the summary table. Ctrl-C exits 130 when it stopped a
file before that file was sent; a file already sent is waited for no more (3).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, TypeVar

import typer

from ingestcli.errors import AuthError, ConfigError, IngestError, InputError, UsageError

if TYPE_CHECKING:
    from ingestcli.services.batch import Sent

EXIT_OK = 0
EXIT_PROBLEMS = 1
EXIT_USAGE = 2
EXIT_WAITING = 3
EXIT_INTERRUPTED = 130
_USAGE_ERRORS = (UsageError, InputError, ConfigError, AuthError)
_STATUS_CODES = {
    "succeeded": EXIT_OK,
    "pending": EXIT_WAITING,
    "processing": EXIT_WAITING,
}  # every other status (partial, failed, abandoned, expired, unknown) is EXIT_PROBLEMS
_SEVERITY = (EXIT_PROBLEMS, EXIT_USAGE, EXIT_WAITING, EXIT_OK)  # most serious first

Command = TypeVar("Command", bound=Callable[..., None])


def exit_code_for(error: IngestError) -> int:
    return EXIT_USAGE if isinstance(error, _USAGE_ERRORS) else EXIT_PROBLEMS


def exit_code_for_status(status: object) -> int:
    """The one rule for an upload's status, shared by `ingest upload` and `ingest report`:
    0 every row written, 3 not finished yet, 1 anything else (rows rejected, the file
    refused, abandoned or never arrived)."""
    return _STATUS_CODES.get(str(status), EXIT_PROBLEMS)


def worst_exit_code(codes: Iterable[int]) -> int:
    """The most serious of several files' exit codes (1 > 2 > 3 > 0; see the module doc)."""
    found = set(codes)
    return next((code for code in _SEVERITY if code in found), EXIT_OK)


def exit_code_for_sent(sent: Sent) -> int:
    """One file of `ingest upload`: refused by the check 1; stopped by an error, that
    error's code (130 for Ctrl-C) unless its file had arrived after all (3); sent and not
    waited for 0; else the rule of its upload's status."""
    from ingestcli.services.batch import NOT_SENT, REFUSED, SENT
    from ingestcli.services.upload import ARRIVED

    if sent.status == REFUSED:
        return EXIT_PROBLEMS
    if sent.abandoned is not None and sent.abandoned.outcome == ARRIVED:
        return EXIT_WAITING
    if sent.error is not None and (sent.status == NOT_SENT or sent.abandoned is not None):
        if isinstance(sent.error, IngestError):
            return exit_code_for(sent.error)
        return EXIT_INTERRUPTED
    if sent.error is not None and isinstance(sent.error, IngestError):
        return exit_code_for(sent.error)  # sent, but its report could not be read
    return EXIT_OK if sent.status == SENT else exit_code_for_status(sent.status)


def exit_code_for_batch(outcomes: Iterable[Sent]) -> int:
    """Several files: 130 if Ctrl-C stopped one before it was sent, else the worst of theirs."""
    codes = [exit_code_for_sent(sent) for sent in outcomes]
    return EXIT_INTERRUPTED if EXIT_INTERRUPTED in codes else worst_exit_code(codes)


def reports_errors(command: Command) -> Command:
    """Turn the core's named errors into one line on stderr and their exit code."""

    @functools.wraps(command)
    def run(*args: object, **kwargs: object) -> None:
        from ingestcli.cli.render.output import print_error

        try:
            command(*args, **kwargs)
        except IngestError as error:
            print_error(str(error))
            raise typer.Exit(exit_code_for(error)) from None
        except KeyboardInterrupt:
            print_error("interrupted")
            raise typer.Exit(EXIT_INTERRUPTED) from None

    return run  # type: ignore[return-value]
