"""Entry point of the ``lacale`` console script, outside the ``lacale_async`` package.

Importing ``lacale_async`` takes about half a second (aiohttp, msgspec...). A console script
that pointed into the package would import it before any code of ours could catch Ctrl-C, and
Ctrl-C in that first half second would print a ``KeyboardInterrupt`` traceback. This module
imports nothing heavy, so the whole start-up runs under the handler: exit 130, one line.

Ctrl-C is also held back while the package loads (where the platform can): a
``KeyboardInterrupt`` raised inside a C extension's import-time work (msgspec building its
decoders) crashed the interpreter with a segmentation fault about once in 150 tries. The
signal held back is raised as soon as the import ends, so it still stops the command at once.
"""

from __future__ import annotations

import contextlib
import signal
import sys


def main() -> None:
    """Run ``lacale``; Ctrl-C while the package loads exits 130 without a traceback."""
    try:
        held = _hold_ctrl_c()
        try:
            from lacale_async._cli import main as run

            # The command's own modules too, and the codec `bulk -` reads with: a Ctrl-C
            # landing in an import after this is raised in the import lock's weakref
            # callback, where CPython prints it as "Exception ignored" and drops it.
            with contextlib.suppress(ImportError):  # no cli extra: run() says what to install
                import encodings.utf_8_sig  # noqa: F401

                import lacale_async._cli._commands  # noqa: F401
        finally:
            if held:
                # Unblocking runs the handler of a Ctrl-C held meanwhile: KeyboardInterrupt
                # is raised here, inside this try.
                signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
        run()  # inside the try too: a Ctrl-C before its own handler is set up is ours
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        raise SystemExit(130) from None


def _hold_ctrl_c() -> bool:
    """Block SIGINT in this thread (POSIX); True when it was blocked here."""
    if not hasattr(signal, "pthread_sigmask"):
        return False  # Windows: no signal mask; the handler above still catches Ctrl-C
    before = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    return signal.SIGINT not in before
