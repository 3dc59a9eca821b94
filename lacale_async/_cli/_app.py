"""The ``lacale`` group and :func:`command`, the decorator every subcommand is declared with.

A subcommand is a function taking the :class:`~._session.Settings` first, then its own
arguments; :func:`command` gives it the global options and the sectioned ``--help``. It is
registered in one place: the ``COMMANDS`` tuple of :mod:`._commands`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import click

from .._version import __version__
from ._options import LacaleCommand, LacaleGroup, add_global, settings
from ._streams import harden_streams

__all__ = ["cli", "command"]


def command(
    name: str | None = None, **attrs: Any
) -> Callable[[Callable[..., None]], click.Command]:
    """Declare a ``lacale`` subcommand: global options added, Settings passed first.

    Args:
        name: The command's name; the function's name when None.
        **attrs: Further ``click.command`` arguments.

    Returns:
        A decorator turning the function into a ``click.Command`` (not yet registered).
    """

    def decorate(f: Callable[..., None]) -> click.Command:
        @functools.wraps(f)
        def with_settings(*args: Any, **kwargs: Any) -> None:
            f(settings(click.get_current_context()), *args, **kwargs)

        return click.command(name, cls=LacaleCommand, **attrs)(add_global()(with_settings))

    return decorate


@click.group(
    cls=LacaleGroup,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@add_global(on_group=True)
@click.version_option(__version__, prog_name="lacale")
def cli() -> None:
    """Search, upload and download on the La Cale tracker.

    Run it with no key to try everything against an embedded sandbox tracker. Global
    options go before or after the command: 'lacale search dune --json'.
    """
    harden_streams()
