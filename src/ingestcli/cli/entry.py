"""The `ingest` console script: Ctrl-C at any moment is one line and exit 130, never a traceback.

At module level this imports only `sys` (already loaded by the interpreter), so the import of
the app (typer, rich: most of start-up) runs inside main()'s try: a Ctrl-C before any
command's own handler can catch it ends here too. Ctrl-C is put off while an import runs
(see _on_interrupt), and ignored once the command is done, so the interpreter's shutdown
cannot be interrupted either. Only the interpreter's own start-up (site.py, a few ms) comes
before this module can do anything.
"""

from __future__ import annotations

import sys

TYPE_CHECKING = False  # typing itself is too heavy to import before the try below
if TYPE_CHECKING:
    from types import FrameType
    from typing import NoReturn

EXIT_INTERRUPTED = 130  # the same as cli.exits.EXIT_INTERRUPTED, without importing typer
RETRY_SECONDS = 0.005


def main() -> None:
    """Run the app; a KeyboardInterrupt from its import or its run becomes interrupted()."""
    try:
        try:
            import signal

            signal.signal(signal.SIGINT, _on_interrupt)
            from ingestcli.cli.app import main as run_app

            run_app()
        finally:  # the command has finished: it exits as it would, Ctrl-C or not
            _ignore_interrupts()
    except KeyboardInterrupt:
        interrupted()


def interrupted() -> NoReturn:
    """Say so in one line and exit 130; a second Ctrl-C cannot break the goodbye."""
    _ignore_interrupts()
    try:
        sys.stderr.write("error: interrupted\n")
        sys.stderr.flush()
    except (OSError, ValueError):  # stderr closed or gone: the exit code still says it
        pass
    raise SystemExit(EXIT_INTERRUPTED)


def _on_interrupt(_signal: int, frame: FrameType | None) -> None:
    """Python's own Ctrl-C (raise KeyboardInterrupt), put off while an import runs.

    Raised inside the import system's clean-up callbacks, a KeyboardInterrupt is swallowed
    and printed ("Exception ignored in: ... Traceback ...") and the Ctrl-C is lost; so while
    any frame of the import system is on the stack, look again in a few milliseconds.
    """
    import signal

    while frame is not None:
        name = frame.f_code.co_filename
        if "importlib._bootstrap" in name or "importlib/_bootstrap" in name:
            signal.signal(signal.SIGALRM, _on_interrupt)
            signal.setitimer(signal.ITIMER_REAL, RETRY_SECONDS)
            return
        frame = frame.f_back
    raise KeyboardInterrupt


def _ignore_interrupts() -> None:
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.setitimer(signal.ITIMER_REAL, 0)  # a Ctrl-C put off by _on_interrupt is dropped
