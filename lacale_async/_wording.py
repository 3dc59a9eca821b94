"""Texts that name the SDK's settings: in Python's terms, or in a front end's own.

A message that names a setting (``key_rate``, ``budget_share``...) is kept as a
:class:`Worded`: a function of :class:`Names`. ``str()`` words it for Python callers; a front
end (the ``lacale`` command, whose user cannot pass ``key_rate=``) words the same message
with its own names, from the structure rather than by rewriting the text.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["PYTHON", "Names", "Worded", "typed"]

# The environment variables the SDK reads for a setting, which a Python text mentions too.
_ENV = {"quota_store": "LACALE_QUOTA_STORE", "key_rate": "LACALE_KEY_RATE"}


def typed(value: float) -> str:
    """Return ``value`` as a caller types it: ``0.5``, ``1``, ``1234567`` (not ``1.23457e+06``)."""
    return format(value, ".15g")


class Names:
    """How a text names a setting; this base names each as the Python parameter it is."""

    def name(self, setting: str) -> str:
        """Return what the text calls ``setting`` (``key_rate``)."""
        return setting

    def called(self, setting: str) -> str:
        """Return ``setting`` with the variable that also sets it: ``quota_store (or ...)``."""
        env = _ENV.get(setting)
        return f"{setting} (or {env})" if env is not None else setting

    def assign(self, setting: str, value: float | None) -> str:
        """Return ``setting`` given ``value`` (``budget_share=0.5``, ``key_rate=None``)."""
        return f"{setting}={'None' if value is None else typed(value)}"

    def advise(self, setting: str, value: float | None) -> str:
        """Return the advice to give ``setting`` ``value`` (``pass quota_store=None``)."""
        return f"pass {self.assign(setting, value)}"


PYTHON = Names()
"""The names of a Python caller: each setting's parameter."""


class Worded:
    """A text naming settings, written on demand for a :class:`Names`.

    Args:
        write: Takes the names, then ``args``; returns the text. A module-level function
            (with picklable ``args``) keeps an error holding it picklable.
        args: What ``write`` needs besides the names.
    """

    __slots__ = ("_args", "_write")

    def __init__(self, write: Callable[..., str], *args: Any) -> None:
        self._write = write
        self._args = args

    def text(self, names: Names = PYTHON) -> str:
        """Return the text with ``names``' names (Python's by default)."""
        return self._write(names, *self._args)

    def __str__(self) -> str:
        return self.text()

    def __repr__(self) -> str:
        return f"Worded({self.text()!r})"
