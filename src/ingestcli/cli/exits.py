"""Exit codes, and the one place the core's named errors become one line and a code.

  0  success
  1  the work found problems (invalid rows, a refused header or file), or AWS refused
  2  the command cannot be carried out as given (option, unreadable file, config, token)
130  interrupted (Ctrl-C)
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TypeVar

import typer

from ingestcli.errors import AuthError, ConfigError, IngestError, InputError, UsageError

EXIT_OK = 0
EXIT_PROBLEMS = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
_USAGE_ERRORS = (UsageError, InputError, ConfigError, AuthError)

Command = TypeVar("Command", bound=Callable[..., None])


def exit_code_for(error: IngestError) -> int:
    return EXIT_USAGE if isinstance(error, _USAGE_ERRORS) else EXIT_PROBLEMS


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
