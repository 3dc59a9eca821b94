"""The ``lacale`` command line (``pip install 'lacale-async[cli]'`` for click and rich).

Only this package imports click and rich; the SDK itself never does. ``main`` is the console
script's entry point: without the extra it prints how to install it and exits 2.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

__all__ = ["main"]

_EXTRA_MODULES = frozenset({"click", "rich"})
_HINT = "lacale: the command line needs click and rich: pip install 'lacale-async[cli]'"


def main(argv: Sequence[str] | None = None) -> None:
    """Run the ``lacale`` command.

    Args:
        argv: Arguments without the program name; ``sys.argv[1:]`` when None.

    Raises:
        SystemExit: Always, with the command's exit code.
    """
    try:
        from ._commands import cli
    except ImportError as exc:
        if (exc.name or "").split(".")[0] not in _EXTRA_MODULES:
            raise
        print(_HINT, file=sys.stderr)
        raise SystemExit(2) from None
    cli.main(args=list(argv) if argv is not None else None, prog_name="lacale")
