"""Reading answers: the server's own words, status errors, and decoding that fails clearly."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, timezone
from typing import TypeVar

import msgspec

from ._errors import (
    APIError,
    APIErrorDetails,
    ConflictError,
    RateLimitError,
    ResponseError,
    error_for_status,
)
from ._retry import parse_retry_after
from ._transport import Response

__all__ = ["api_error", "decode_body", "outcome_unknown_note", "server_message", "token_refused"]

T = TypeVar("T")

_KEY_REFUSED = "the API key was refused (invalid or revoked)"
_HINTS: dict[int, str] = {
    400: "the tracker refused the request as malformed",
    # Documented (v2 page): 401 "clé API manquante". Live: a wrong key is 401 too (see below).
    401: "the API key is missing or was refused",
    # Documented (v2 page): 403 "clé API invalide".
    403: _KEY_REFUSED,
    404: "not found",
    409: "a torrent with the same info hash is already on the tracker",
    422: "the tracker refused a field",
    429: "rate limit exceeded for this key or IP",
}
_TITLE = re.compile(rb"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)
# The key texts, lowercased. Documented: "Clé API manquante" / "Clé API invalide". Live: 401
# {"error": "Invalid API key"} for a wrong key (IznoCorp/torrent-mate, lacale-api.md, 2026-05);
# Jackett's and Prowlarr's lacale-api definitions match "API key invalide" / "API key
# manquant", their older passkey ones "Passkey invalide" / "Passkey manquant".
_KEY_WORDS = ("api key", "clé api", "cle api", "passkey")
_MISSING_WORDS = ("manquant", "missing", "required", "requis")
_REFUSED_WORDS = ("invalid", "invalide", "unknown", "inconnu")
# Cloudflare's browser challenge ("Just a moment...") comes back as a 403 or 503 HTML page when
# its anti-DDoS mode is on (JigSawFr/lacale-prowlarr-indexer, API_IMPROVEMENTS.md).
_CHALLENGE_MARKERS = (b"just a moment", b"attention required", b"cf-chl", b"challenge-platform")

Scrub = Callable[[str], str]


def outcome_unknown_note(info_hash: str | None) -> str:
    """Return the sentence that tells an uploader what to do when the outcome is unknown."""
    return (
        ". The upload body was sent, so the tracker may or may not have recorded it: search "
        f"for info hash {info_hash} before uploading again"
    )


def server_message(resp: Response) -> str:
    """Extract the human part of a body: a JSON error/message, an HTML title, or text.

    The result comes from the server: pass it through the client's scrubber before showing it.
    """
    body = resp.body[:4096]
    if not body.strip():
        return ""
    if body.lstrip()[:1] in (b"{", b"["):
        try:
            data = msgspec.json.decode(resp.body)
        except (msgspec.DecodeError, RecursionError):
            pass
        else:
            if isinstance(data, dict):
                for field in ("error", "message", "detail"):
                    value = data.get(field)
                    if isinstance(value, str) and value:
                        return value[:300]
    if b"<html" in body.lower() or "html" in resp.content_type:
        title = _TITLE.search(body)
        text = title.group(1).decode("utf-8", "replace").strip() if title else ""
        return f"HTML page{': ' + text[:120] if text else ''}"
    return body[:300].decode("utf-8", "replace").strip()


def api_error(
    resp: Response, *, scrub: Scrub, idempotent: bool, info_hash: str | None, now: float
) -> APIError:
    """Build the error for a non-2xx answer, its class picked by the status table.

    Args:
        resp: The answer.
        scrub: Removes the key from server text.
        idempotent: False for an upload, whose 5xx leaves the outcome unknown.
        info_hash: The uploaded torrent's hash, named in 409 and unknown-outcome messages.
        now: The client's wall-clock time (Unix seconds), which a ``Retry-After`` date is
            read against.

    Returns:
        The error, not raised.
    """
    server = scrub(server_message(resp))
    text = f"{resp.method} {resp.url} -> HTTP {resp.status}: {_hint(resp, server)}"
    if server:
        text += f" (server said: {server})"
    cls = error_for_status(resp.status)
    outcome_unknown = not idempotent and resp.status >= 500
    if outcome_unknown:
        text += outcome_unknown_note(info_hash)
    details: APIErrorDetails = {
        "server_message": server,
        "url": resp.url,
        "outcome_unknown": outcome_unknown,
    }
    if cls is RateLimitError:
        retry_after = parse_retry_after(
            resp.headers.get("Retry-After"), now=datetime.fromtimestamp(now, timezone.utc)
        )
        if retry_after is not None:
            text += f"; retry after {retry_after:g} s"
        return RateLimitError(text, retry_after=retry_after, status=resp.status, **details)
    if cls is ConflictError:
        if info_hash:
            text = f"{text}; info hash {info_hash}"
        return ConflictError(text, info_hash=info_hash, status=resp.status, **details)
    return cls(text, status=resp.status, **details)


def _hint(resp: Response, server: str) -> str:
    """Say what a refusal means, from its status and, where the tracker varies, its text."""
    status = resp.status
    said = server.lower()
    if status == 403 or (status == 503 and _is_challenge(resp)):
        if server.startswith("HTML page"):
            return (
                "a Cloudflare challenge page answered, not the API (its anti-bot protection is "
                "on): retry later, or from another network"
            )
        if "access denied" in said:
            # Live, Jackett issue #16499: 403 {"error":"Access denied"} after heavy use.
            return (
                "the tracker blocked this client (Access denied): too many requests, or a ban "
                "on this key or address; wait before trying again"
            )
    if status in (401, 403) and any(word in said for word in _KEY_WORDS):
        missing = any(word in said for word in _MISSING_WORDS)
        refused = any(word in said for word in _REFUSED_WORDS)
        if missing != refused:  # "invalide ou manquante" says nothing more than the status
            return "no API key reached the server" if missing else _KEY_REFUSED
    return _HINTS.get(status, "server error" if status >= 500 else "refused")


def token_refused(error: APIError) -> bool:
    """Tell whether a refused download-link request may be retried with the key instead.

    401, 403 and 410 can mean the token expired or was refused (the tracker's clock and ours
    may differ); a Cloudflare challenge or a blocked client would refuse the key just as well.
    """
    if error.status not in (401, 403, 410):
        return False
    said = error.server_message.lower()
    return not (said.startswith("html page") or "access denied" in said)


def _is_challenge(resp: Response) -> bool:
    head = resp.body[:8192].lower()
    return any(marker in head for marker in _CHALLENGE_MARKERS)


def decode_body(resp: Response, decoder: Callable[[bytes], T], promised: str, scrub: Scrub) -> T:
    """Decode a 2xx body, or say precisely what came instead.

    Args:
        resp: The answer.
        decoder: One of the module-level msgspec decoders.
        promised: What the endpoint promises, for the message ("a JSON list of torrents").
        scrub: Removes the key from server text.

    Returns:
        The decoded value.

    Raises:
        ResponseError: An HTML page (a Cloudflare challenge?), invalid JSON, or the wrong shape.
    """
    detail = ""
    ctype = resp.headers.get("Content-Type")
    try:
        # The startswith test spares the full media-type parse on the common JSON answer.
        if (ctype is not None and ctype.startswith("application/json")) or (
            resp.content_type != "text/html"
        ):
            return decoder(resp.body)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        detail = str(exc)
    except RecursionError:
        detail = "nested too deeply"
    # Sniff only on failure: the success path must not copy the body. The error is raised
    # outside the except clauses so that msgspec's exception is not chained to it.
    if detail and resp.body[:512].lstrip()[:1] != b"<":
        # A JSON error object with a 200 (an outage answered as success) says what went wrong.
        said = scrub(server_message(resp)) if resp.body.lstrip()[:1] == b"{" else ""
        failure = ResponseError(
            f"{resp.method} {resp.url} answered {resp.status} with a body that is not "
            f"{promised}: {scrub(detail)}{f' (server said: {said})' if said else ''}"
        )
    else:
        failure = ResponseError(
            f"{resp.method} {resp.url} answered {resp.status} with an HTML page "
            f"({scrub(server_message(resp))}) where {promised} was expected; a Cloudflare "
            "challenge or a maintenance page?"
        )
    raise failure
