"""Entry point of the ``lacale`` console script, outside the ``lacale_async`` package.

Importing ``lacale_async`` takes about half a second (aiohttp, msgspec...). A console script
that pointed into the package would import it before any code of ours could catch Ctrl-C, and
Ctrl-C in that first half second would print a ``KeyboardInterrupt`` traceback. This module
imports nothing heavy, so the whole start-up runs under the handler: exit 130, one line.
"""

from __future__ import annotations

import sys


def main() -> None:
    """Run ``lacale``; Ctrl-C while the package loads exits 130 without a traceback."""
    try:
        from lacale_async._cli import main as run
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        raise SystemExit(130) from None
    run()
