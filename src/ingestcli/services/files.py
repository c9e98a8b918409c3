"""Opening the user's files (or standard input) for the commands that read them."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO

from ingestcli.errors import InputError

STDIN = "-"


def display_name(path: str) -> str:
    return "<stdin>" if path == STDIN else path


def size_of(path: str) -> int | None:
    """The file's size in bytes, or None for standard input and other streams."""
    if path == STDIN:
        return None
    try:
        return os.stat(path).st_size
    except OSError:
        return None


@contextmanager
def open_binary(path: str) -> Iterator[IO[bytes]]:
    """Open a path, or `-` for standard input, for reading bytes; errors become InputError."""
    if path == STDIN:
        yield sys.stdin.buffer
        return
    try:
        stream = open(path, "rb")  # noqa: SIM115 - closed below, after the caller is done
    except IsADirectoryError:
        raise InputError(f"{path} is a folder: give the path of a CSV file") from None
    except FileNotFoundError:
        raise InputError(f"{path} does not exist: check the path") from None
    except PermissionError:
        raise InputError(f"{path} cannot be read: permission denied") from None
    except OSError as exc:
        raise InputError(f"{path} cannot be opened: {exc.strerror}") from None
    with stream:
        try:
            yield stream
        except OSError as exc:
            raise InputError(f"{path} could not be read to the end: {exc.strerror}") from None
