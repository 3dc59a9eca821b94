"""A wrapper that keeps the API key out of reprs, logs and tracebacks."""

from __future__ import annotations

__all__ = ["Secret"]


class Secret:
    """Holds a credential; every way of printing it shows ``***``."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """Return the key itself, for the one place that puts it on the wire."""
        return self._value

    def scrub(self, text: str) -> str:
        """Return ``text`` with every occurrence of the key replaced by ``***``."""
        return text.replace(self._value, "***") if self._value in text else text

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __reduce__(self) -> tuple[object, ...]:
        # Pickling would write the key into whatever stores the pickle; refuse loudly.
        raise TypeError("a Secret cannot be pickled")
