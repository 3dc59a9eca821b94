"""The standard streams of the ``lacale`` command: never a crash for what is written on them."""

from __future__ import annotations

import contextlib
import errno
import io
import os
import sys

from rich.console import Console

__all__ = ["EXIT_BROKEN_PIPE", "PipeSafeConsole", "harden_streams", "silence_stdout"]

EXIT_BROKEN_PIPE = 141
"""The reader of stdout went away (``| head``), as a shell reports a process killed by SIGPIPE."""


def harden_streams() -> None:
    """Make stdout and stderr replace the characters their encoding cannot represent.

    A torrent title or a query in Japanese must not crash the command on a cp1252 console or
    with ``PYTHONIOENCODING=ascii``: it is shown as ``?`` instead.
    """
    for stream in (sys.stdout, sys.stderr):
        if isinstance(stream, io.TextIOWrapper) and stream.errors == "strict":
            # A stream that cannot be reconfigured (already written to by C code, detached)
            # keeps its behaviour; nothing better can be done for it.
            with contextlib.suppress(io.UnsupportedOperation, ValueError, OSError):
                stream.reconfigure(errors="replace")


def silence_stdout() -> None:
    """Point stdout's file descriptor at the null device once its reader has gone away.

    Python flushes stdout at exit; into a closed pipe that flush would print "Exception
    ignored ... BrokenPipeError". Whatever is still buffered goes nowhere instead.
    """
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, ValueError, io.UnsupportedOperation):
        # Not a real file (a test runner's buffer): nothing will fail at exit.
        return
    with contextlib.suppress(OSError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, fd)
        finally:
            os.close(devnull)


class PipeSafeConsole(Console):
    """A rich console that reports a closed pipe like any other write does.

    rich's own reaction is ``SystemExit(1)``; raising ``BrokenPipeError`` lets the command's
    handler end quietly with :data:`EXIT_BROKEN_PIPE`, as it does for plain writes.
    """

    def on_broken_pipe(self) -> None:
        """Stop writing, then raise ``BrokenPipeError``."""
        self.quiet = True
        raise BrokenPipeError(errno.EPIPE, os.strerror(errno.EPIPE))
