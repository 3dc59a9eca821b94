"""How cached values travel through Redis: msgspec JSON with a format tag, typed per namespace.

JSON rather than MessagePack so that a ``redis.asyncio.Redis`` created with
``decode_responses=True`` still reads entries back (it decodes every reply as UTF-8, which
MessagePack bytes are not). The encoders and decoders are built once, here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar

import msgspec

from .._models import Meta, Torrent, without_secrets

__all__ = ["CODECS", "Codec", "CodecError"]

V = TypeVar("V")

# Bumped whenever the stored layout changes, so a fleet running two SDK versions side by side
# treats the other version's entries as misses instead of decoding them wrongly.
_TAG = b"lc1:"


class CodecError(Exception):
    """A stored entry could not be decoded (another format version, or corrupt)."""


class Codec(Generic[V]):
    """Encode values of one type to tagged JSON bytes and back.

    Args:
        kind: The type of the values, as msgspec understands it (``tuple[Torrent, ...]``).
        stored: What of a value goes to Redis (all of it by default).
    """

    __slots__ = ("_decoder", "_encoder", "_stored")

    def __init__(self, kind: Any, stored: Callable[[V], V] | None = None) -> None:
        self._encoder = msgspec.json.Encoder()
        self._decoder: msgspec.json.Decoder[V] = msgspec.json.Decoder(kind)
        self._stored = stored

    def encode(self, value: V) -> bytes:
        """Return the bytes stored in Redis for ``value``.

        Args:
            value: A value of this codec's type.

        Returns:
            The format tag followed by the JSON encoding.
        """
        stored = value if self._stored is None else self._stored(value)
        return _TAG + self._encoder.encode(stored)

    def decode(self, data: bytes | str) -> V:
        """Return the value stored as ``data``.

        Args:
            data: What Redis returned (``str`` when the client decodes responses).

        Returns:
            The decoded value.

        Raises:
            CodecError: ``data`` lacks the format tag or does not decode to this type.
        """
        if isinstance(data, str):
            try:
                raw = data.encode()
            except UnicodeEncodeError:
                # A lone surrogate: a client decoding with errors="surrogateescape" read bytes
                # no SDK wrote (entries are UTF-8 JSON), so the entry is of no known format.
                raise CodecError("unknown cache entry format") from None
        else:
            raw = data
        if not isinstance(raw, bytes) or not raw.startswith(_TAG):
            raise CodecError("unknown cache entry format")
        try:
            return self._decoder.decode(raw[len(_TAG) :])
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            raise CodecError(f"corrupt cache entry: {exc}") from None
        except RecursionError:
            raise CodecError("corrupt cache entry: nested too deeply") from None


def _shareable(torrents: tuple[Torrent, ...]) -> tuple[Torrent, ...]:
    # Redis is another server: no download token, no key echoed in a link goes there.
    return tuple(without_secrets(t) for t in torrents)


CODECS: dict[str, Codec[Any]] = {
    "search": Codec[tuple[Torrent, ...]](tuple[Torrent, ...], _shareable),
    "meta": Codec[Meta](Meta),
}
"""The codec of each cache namespace the client uses."""
