"""What the sandbox remembers about the traffic it saw: requests and uploads."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

__all__ = ["SECRET_PARAMS", "AuthVia", "RecordedRequest", "UploadRecord", "redact_query"]

AuthVia = Literal["header", "apikey", "passkey", "form"]
"""Where the key came from: ``X-Api-Key``, ``?apikey=``, ``?passkey=`` or the upload form."""

SECRET_PARAMS = frozenset({"apikey", "api_key", "passkey", "key", "token"})
"""Query parameters whose values are credentials and are never recorded."""


def redact_query(pairs: Iterable[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    """Return query pairs with every credential value replaced by ``***``."""
    return tuple((k, "***" if k.lower() in SECRET_PARAMS else v) for k, v in pairs)


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    """One request as the sandbox saw it; never holds the key itself.

    Attributes:
        method: HTTP method.
        path: URL path, without the query.
        endpoint: ``"search"``, ``"meta"``, ``"upload"``, ``"download"``, or None for an
            unknown path.
        query: Query pairs in order, credentials replaced by ``***``.
        arrived_at: Arrival time on the sandbox clock.
        status: Status sent, or None when the connection was dropped without an answer.
        client_ip: The client address (or the forwarded one, when trusted).
        key_name: The name of the key that authenticated it ("default"...), None when no
            valid key was given.
        auth_via: Where a key was found, valid or not; None when there was none.
        fault: The kind of injected fault that shaped the answer, if any.
        user_agent: The ``User-Agent`` header, if any.
    """

    method: str
    path: str
    endpoint: str | None
    query: tuple[tuple[str, str], ...]
    arrived_at: float
    status: int | None
    client_ip: str | None
    key_name: str | None
    auth_via: AuthVia | None
    fault: str | None = None
    user_agent: str | None = None

    def param(self, name: str) -> list[str]:
        """Return every value of the query parameter ``name``, in order."""
        return [v for k, v in self.query if k == name]


@dataclass(frozen=True, slots=True)
class UploadRecord:
    """An accepted upload and what the form carried.

    Attributes:
        id: The new torrent's id.
        slug: The new torrent's slug.
        info_hash: Its info hash (v1, or v2 for a pure v2 torrent).
        title: The ``title`` field.
        category_id: The ``categoryId`` field.
        tag_ids: The ``tags`` fields, in order.
        description: The ``description`` field, if sent.
        tmdb_id: The ``tmdbId`` field, if sent.
        tmdb_type: The ``tmdbType`` field, if sent.
        cover_url: The ``coverUrl`` field, if sent.
        nfo: The ``nfoFile`` content, if sent.
        torrent: The uploaded .torrent bytes.
        torrent_filename: The file name the client gave the .torrent part.
        source_flag: True when ``info.source`` was ``lacale``.
        key_name: Name of the key that uploaded it.
    """

    id: str
    slug: str
    info_hash: str
    title: str
    category_id: str
    tag_ids: tuple[str, ...]
    description: str | None
    tmdb_id: str | None
    tmdb_type: str | None
    cover_url: str | None
    nfo: bytes | None
    torrent: bytes = field(repr=False)
    torrent_filename: str | None
    source_flag: bool
    key_name: str
