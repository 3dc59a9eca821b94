"""The ``lacale`` command line (``pip install 'lacale-async[cli]'`` for click and rich).

Only this package imports click and rich; the SDK itself never does. ``main`` is the console
script's entry point: without the extra it prints how to install it and exits 2.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import click

__all__ = ["EXIT_INTERRUPTED", "interrupted", "main"]

EXIT_INTERRUPTED = 130
"""Ctrl-C, as a shell reports a process killed by SIGINT (also in ``._exit``)."""

_EXTRA_MODULES = frozenset({"click", "rich"})
_HINT = "lacale: the command line needs click and rich: pip install 'lacale-async[cli]'"


def interrupted() -> SystemExit:
    """Say "interrupted" on stderr and return the exit to raise: Ctrl-C outside a command."""
    try:
        sys.stderr.write("interrupted\n")
        sys.stderr.flush()
    except (OSError, ValueError):  # stderr closed: nothing left to tell
        pass
    return SystemExit(EXIT_INTERRUPTED)


def main(argv: Sequence[str] | None = None) -> None:
    """Run the ``lacale`` command.

    Ctrl-C at any point, imports and argument parsing included, ends with exit code 130 and
    no traceback.

    Args:
        argv: Arguments without the program name; ``sys.argv[1:]`` when None.

    Raises:
        SystemExit: Always, with the command's exit code.
    """
    try:
        try:
            from ._commands import cli
        except ImportError as exc:
            if (exc.name or "").split(".")[0] not in _EXTRA_MODULES:
                raise
            print(_HINT, file=sys.stderr)
            raise SystemExit(2) from None
        import click

        try:
            # Not standalone: click's own mode answers a Ctrl-C that lands while it parses or
            # dispatches with "Aborted!" and exit 1; here it becomes 130 like everywhere else.
            code = cli.main(
                args=list(argv) if argv is not None else None,
                prog_name="lacale",
                standalone_mode=False,
            )
        except click.exceptions.Abort:
            raise interrupted() from None
        except click.ClickException as exc:
            _show(exc)
            raise SystemExit(exc.exit_code) from None
        raise SystemExit(code if isinstance(code, int) else 0)
    except KeyboardInterrupt:
        raise interrupted() from None


def _show(exc: click.ClickException) -> None:
    """Print click's own error, cleaned: it quotes what was typed (a file name) as it is."""
    import io

    from ._sanitize import clean

    shown = io.StringIO()
    exc.show(file=shown)
    sys.stderr.write(clean(shown.getvalue(), multiline=True))
