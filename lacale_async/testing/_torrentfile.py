"""Real, deterministic .torrent files for catalogue entries, built without any payload."""

from __future__ import annotations

import hashlib
import random
from collections.abc import Sequence
from dataclasses import dataclass

import bencode2

__all__ = ["ANNOUNCE_URL", "BuiltTorrent", "build_torrent", "piece_length_for"]

ANNOUNCE_URL = "https://tracker.la-cale.space/announce"
"""Placeholder announce URL: the real one carries a user's passkey, which the sandbox never has."""

_MIN_PIECE = 256 * 1024
_MAX_PIECES = 512


@dataclass(frozen=True, slots=True)
class BuiltTorrent:
    """A bencoded torrent and its v1 info hash (SHA-1 of the bencoded ``info`` dict)."""

    data: bytes
    info_hash: str


def piece_length_for(size: int) -> int:
    """Return a power-of-two piece length giving at most a few hundred pieces.

    Real torrents of this size would use more pieces; fewer keep the catalogue cheap to build.

    Args:
        size: Total payload size in bytes.

    Returns:
        The piece length in bytes, at least 256 KiB.
    """
    length = _MIN_PIECE
    while size > length * _MAX_PIECES:
        length *= 2
    return length


def build_torrent(
    name: str,
    files: Sequence[tuple[str, int]],
    *,
    rng: random.Random,
    creation_date: int,
    source: str = "lacale",
) -> BuiltTorrent:
    """Build a private torrent whose piece hashes are drawn from ``rng``.

    The pieces hash no real data, but the file is valid bencode with a real info dict, so its
    info hash is genuine and clients can parse it.

    Args:
        name: ``info.name``; with several files, the folder name.
        files: ``(relative path, length)`` pairs; one pair with path == name makes a
            single-file torrent.
        rng: The generator the piece hashes come from.
        creation_date: Unix time in seconds for ``creation date``.
        source: ``info.source``, the tracker's flag.

    Returns:
        The bytes and their info hash.
    """
    total = sum(length for _, length in files)
    piece_length = piece_length_for(total)
    pieces = max(1, -(-total // piece_length))
    info: dict[str, object] = {
        "name": name,
        "piece length": piece_length,
        "pieces": rng.randbytes(20 * pieces),
        "private": 1,
        "source": source,
    }
    if len(files) == 1 and files[0][0] == name:
        info["length"] = files[0][1]
    else:
        info["files"] = [{"length": length, "path": path.split("/")} for path, length in files]
    info_bytes: bytes = bencode2.bencode(info)
    # "info" sorts after every other top-level key, so the file is the header dict with the
    # already-encoded info dict spliced in before its closing "e": no second encoding pass.
    header: bytes = bencode2.bencode(
        {
            "announce": ANNOUNCE_URL,
            "created by": "lacale_async sandbox",
            "creation date": creation_date,
        }
    )
    data = header[:-1] + b"4:info" + info_bytes + b"e"
    return BuiltTorrent(data, hashlib.sha1(info_bytes, usedforsecurity=False).hexdigest())
