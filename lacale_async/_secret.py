"""A wrapper that keeps the API key out of reprs, logs and tracebacks."""

from __future__ import annotations

from urllib.parse import quote, quote_plus

__all__ = ["Secret"]


class Secret:
    """Holds a credential; every way of printing it shows ``***``."""

    __slots__ = ("_forms", "_value")

    def __init__(self, value: str) -> None:
        self._value = value
        # The key as it can appear in text a server echoes back: raw, or URL-encoded.
        self._forms = tuple(
            sorted({value, quote(value, safe=""), quote_plus(value), quote(value)}, key=len)[::-1]
        )

    def reveal(self) -> str:
        """Return the key itself, for the one place that puts it on the wire."""
        return self._value

    def scrub(self, text: str) -> str:
        """Return ``text`` with the key, raw or URL-encoded, replaced by ``***``."""
        for form in self._forms:
            if form in text:
                text = text.replace(form, "***")
        return text

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __reduce__(self) -> tuple[object, ...]:
        # Pickling would write the key into whatever stores the pickle; refuse loudly.
        raise TypeError("a Secret cannot be pickled")
