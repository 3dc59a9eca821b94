"""A wrapper that keeps the API key out of reprs, logs and tracebacks."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable, Iterable
from urllib.parse import quote, quote_plus

from yarl import URL

from ._errors import redact_url

__all__ = ["Secret", "wire_forms", "wire_secret"]

# A key cut off at the end of a text (servers and the SDK truncate echoes) is removed from this
# many characters on: shorter tails match ordinary words too often to be worth hiding.
_MIN_TAIL = 4
# A key cut off inside a text ("b'X-Api-Key: sk_live_01...'") is removed from this many
# characters on, wherever it stands: eight random characters never make an ordinary word.
_MIN_PREFIX = 8
# A vendor's lead ("sk_live_", "lcsb_") is no secret and appears in ordinary text: the eight
# characters are counted after it.
# A match of any kind (whole form, start, tail) begins with a form's first characters: this
# many of them (no more than the shortest tail) tell quickly that a text holds none.
_NEEDLE = _MIN_TAIL
_LEAD = re.compile(r"(?:[a-z0-9]{1,12}[_-])*")


# JSON encoders that escape more than json.dumps does: PHP's json_encode writes "/" as "\/"
# (and "&" raw), Go's encoding/json writes "&", "<" and ">" as \u0026, \u003c and \u003e
# (and "/" raw). A key holding both needs each spelling on its own.
_JSON_PHP = str.maketrans({"/": "\\/"})
_JSON_GO = str.maketrans({"&": "\\u0026", "<": "\\u003c", ">": "\\u003e"})


def _echo_forms(form: str) -> set[str]:
    """The ways a server commonly re-encodes a value it echoes: URL-quoting, JSON, HTML, repr."""
    as_json = json.dumps(form)[1:-1]
    as_html = html.escape(form)
    return {
        form,
        quote(form, safe=""),
        quote(form),
        quote_plus(form),
        as_json,
        as_json.translate(_JSON_PHP),
        as_json.translate(_JSON_GO),
        as_json.translate(_JSON_PHP).translate(_JSON_GO),
        as_html,
        # Jinja2 and PHP's htmlspecialchars spell "'" as &#39; and &#039;, not &#x27;.
        as_html.replace("&#x27;", "&#39;"),
        as_html.replace("&#x27;", "&#039;"),
        # aiohttp's parse errors show the bytes they refused through repr(), once or twice.
        _backslashed(form),
        _backslashed(_backslashed(form)),
    }


def _needles(forms: tuple[str, ...]) -> re.Pattern[str] | None:
    """The forms' first characters as one pattern, or None when they are not all ASCII."""
    needles = sorted({form[:_NEEDLE] for form in forms})
    if not all(n.isascii() for n in needles):
        return None
    return re.compile("|".join(map(re.escape, needles)), re.IGNORECASE)


def _lead(form: str) -> int:
    found = _LEAD.match(form)
    return found.end() if found else 0


def _common_end(text: str, start: int, form: str) -> int:
    """Where ``text`` stops spelling ``form`` (lowercased) from ``start`` on, ignoring case."""
    end = start
    for expected in form:
        if end == len(text) or text[end].lower() != expected:
            break
        end += 1
    return end


def _backslashed(text: str) -> str:
    """``text`` as the inside of a ``'...'`` repr writes it (the key is printable ASCII)."""
    return text.replace("\\", "\\\\").replace("'", "\\'")


class Secret:
    """Holds a credential; every way of printing it shows ``***``.

    Args:
        value: The credential.
        wire_forms: The value as the transport encodes it on the wire (see
            ``wire_forms``); each is scrubbed too, with the usual re-encodings of
            it a server may echo. Matching ignores case, so ``%2b`` goes with ``%2B``.
    """

    __slots__ = ("_forms", "_needles", "_pattern", "_prefixes", "_value")

    def __init__(self, value: str, wire_forms: Iterable[str] = ()) -> None:
        self._value = value
        forms: set[str] = set()
        for form in {value, *wire_forms}:
            forms |= _echo_forms(form)
        forms.discard("")
        # Longest first, so a form containing another is replaced whole.
        self._forms = tuple(sorted((f.lower() for f in forms), key=len, reverse=True))
        self._pattern = re.compile("|".join(map(re.escape, self._forms)), re.IGNORECASE)
        starts = set()
        for form in self._forms:
            size = _lead(form) + _MIN_PREFIX
            if len(form) > size:
                starts.add(form[:size])
        self._prefixes = (
            re.compile("|".join(map(re.escape, sorted(starts))), re.IGNORECASE) if starts else None
        )
        self._needles = _needles(self._forms)

    def reveal(self) -> str:
        """Return the key itself, for the one place that puts it on the wire."""
        return self._value

    def found_in(self, text: str) -> bool:
        """Return True when ``text`` holds the key whole, in any form it is known in."""
        return self._pattern.search(text) is not None

    def scrub(self, text: str, *, cut_tail: bool = True) -> str:
        """Return ``text`` with the key, in any form it is known in, replaced by ``***``.

        Args:
            text: The text to scrub.
            cut_tail: A text that ends with the start of a form (at least four characters)
                loses that tail too: an echo cut at a length limit must not leave the first
                half of the key. False for an exact value (a hash, a name in a JSON field),
                where four characters match ordinary data far too often; whole forms and
                runs that begin like one (eight characters on) are still replaced.
        """
        if not self.might_hold(text, cut_tail=cut_tail):
            return text
        text = self._cut_starts(self._pattern.sub("***", text))
        if not cut_tail:
            return text
        tail = text[-max(map(len, self._forms)) :].lower()
        for form in self._forms:
            for size in range(min(len(form), len(tail)), _MIN_TAIL - 1, -1):
                if tail.endswith(form[:size]):
                    return text[:-size] + "***"
        return text

    def might_hold(self, text: str, *, cut_tail: bool = True) -> bool:
        """False when :meth:`scrub` would surely return ``text`` unchanged (a quick check).

        Every match (whole form, eight-character start, four-character tail) begins with a
        form's first characters: a text without any of them is left as is, without the
        regexes and the tail loop (most strings of a big output). The check is a regex with
        the same IGNORECASE matching as the forms', so it never misses a form or a start.
        The tail rule compares with ``str.lower``, which IGNORECASE does not quite follow
        outside ASCII ("\u017f" goes with "s"): there only ASCII text is checked quickly.
        """
        if self._needles is None or (cut_tail and not text.isascii()):
            return True
        return self._needles.search(text) is not None

    def _cut_starts(self, text: str) -> str:
        """Replace each run of text that begins like a form (its first 8 characters or more)."""
        if self._prefixes is None:
            return text
        parts: list[str] = []
        done = 0
        found = self._prefixes.search(text)
        while found is not None:
            start = found.start()
            end = max(_common_end(text, start, form) for form in self._forms)
            parts += (text[done:start], "***")
            done = end
            found = self._prefixes.search(text, end)
        parts.append(text[done:])
        return "".join(parts)

    def redact(self, text: str) -> str:
        """Return ``text`` without the key and without any credential query parameter.

        The key goes first: redacting ``apikey=...`` first would stop at an ``&`` inside the
        key and leave the rest of it.
        """
        return redact_url(self.scrub(text))

    def after(self, scrub: Callable[[str], str]) -> Callable[[str], str]:
        """Return ``scrub`` followed by :meth:`redact`: a scrubber that also removes this one."""
        return lambda text: self.redact(scrub(text))

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __reduce__(self) -> tuple[object, ...]:
        # Pickling would write the key into whatever stores the pickle; refuse loudly.
        raise TypeError("a Secret cannot be pickled")


def wire_forms(value: str) -> frozenset[str]:
    """Return ``value`` in every form the transport can put it on the wire.

    The header and the multipart ``passkey`` field carry it raw; aiohttp encodes ``params``
    with yarl's ``URL.extend_query``, and a followed redirect's query is rebuilt with
    ``URL.with_query``. The forms come from those same calls, so the scrubber learns how a
    key is encoded without a hand-kept list of characters.
    """
    probe = URL("http://localhost/")
    encoded = (probe.extend_query({"k": value}), probe.with_query({"k": value}))
    return frozenset({value, *(url.raw_query_string.partition("=")[2] for url in encoded)})


def wire_secret(value: str) -> Secret:
    """Return ``value`` as a :class:`Secret` scrubbed in every form the transport sends it."""
    return Secret(value, wire_forms(value))
