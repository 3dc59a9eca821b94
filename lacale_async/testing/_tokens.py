"""The live profile's download tokens: short-lived JWTs that download one torrent without a key.

The live tracker's ``downloadLink`` is ``<origin>/api/download/<infoHash>?token=<JWT>``, a
per-answer, time-bound token (IznoCorp/torrent-mate, ``docs/reference/lacale-api.md``,
2026-05). Its claims are not public: the sandbox signs its own (HS256) with the key's name, the
info hash and ``iat``/``exp``, so a client can read ``exp`` and the sandbox can honour it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac

import msgspec

__all__ = ["TokenSigner"]

_HEADER = base64.urlsafe_b64encode(b'{"alg":"HS256","typ":"JWT"}').rstrip(b"=").decode()


class _Claims(msgspec.Struct, frozen=True):
    sub: str
    ih: str
    iat: int
    exp: int


_CLAIMS_DECODER = msgspec.json.Decoder(_Claims)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class TokenSigner:
    """Mints and checks download tokens with one secret.

    Args:
        secret: The HMAC key; derived from the seed, so the same sandbox settings and the same
            wall clock give byte-identical answers.
        ttl: Seconds a token stays valid.
    """

    def __init__(self, secret: bytes, ttl: float) -> None:
        self._secret = secret
        self._ttl = ttl

    def __repr__(self) -> str:
        return f"TokenSigner(ttl={self._ttl:g})"

    def _sign(self, signing_input: str) -> str:
        return _b64(hmac.new(self._secret, signing_input.encode(), hashlib.sha256).digest())

    def mint(self, key_name: str, info_hash: str, now: float) -> str:
        """Return a token for ``key_name`` to download ``info_hash`` until ``now + ttl``."""
        claims = _Claims(sub=key_name, ih=info_hash.lower(), iat=int(now), exp=int(now + self._ttl))
        signing_input = f"{_HEADER}.{_b64(msgspec.json.encode(claims))}"
        return f"{signing_input}.{self._sign(signing_input)}"

    def check(self, token: str, info_hash: str, now: float) -> str | None:
        """Return the key name a valid, unexpired token for ``info_hash`` carries, else None."""
        parts = token.split(".")
        if len(parts) != 3:
            return None
        signing_input = f"{parts[0]}.{parts[1]}"
        if not token.isascii() or not hmac.compare_digest(self._sign(signing_input), parts[2]):
            return None
        try:
            claims = _CLAIMS_DECODER.decode(_unb64(parts[1]))
        except (binascii.Error, ValueError, msgspec.DecodeError):
            return None
        if claims.ih != info_hash.lower() or claims.exp <= now:
            return None
        return claims.sub
