"""Reading .torrent files: validation, info hashes, the La Cale source flag, download integrity."""

from __future__ import annotations

import hashlib
import json
from typing import Any, Literal, get_args

import bencode2
import msgspec

from ._errors import IntegrityError, InvalidTorrentError, LaCaleError, ValidationError
from ._options import describe
from ._validation import check_text, is_info_hash

__all__ = [
    "SOURCE_FLAG",
    "SourcePolicy",
    "TorrentInfo",
    "apply_source_flag",
    "check_source_policy",
    "info_hash_v1",
    "info_hash_v2",
    "parse_torrent",
    "verify_torrent",
]

SOURCE_FLAG = "lacale"
"""The ``info.source`` value La Cale expects; without it users must re-download the torrent."""

SourcePolicy = Literal["set", "refuse", "keep"]
"""What :func:`apply_source_flag` does when ``info.source`` is not the expected flag."""

_POLICIES: frozenset[str] = frozenset(get_args(SourcePolicy))
_MAX_DETAIL = 160

# Indirection so a test can swap in a lenient decoder and prove the canonical check works.
_bdecode = bencode2.bdecode
_bencode = bencode2.bencode


class TorrentInfo(msgspec.Struct, frozen=True):
    """What the SDK needs to know about a torrent file.

    Attributes:
        name: ``info.name`` decoded as UTF-8 (undecodable bytes replaced).
        info_hash_v1: SHA-1 of the bencoded info dict, 40 lowercase hex; None for a pure v2
            torrent.
        info_hash_v2: SHA-256 of the bencoded info dict, 64 lowercase hex; only for torrents
            whose info dict has ``meta version`` 2 (v2 and hybrid), else None.
        source: ``info.source`` decoded as UTF-8, or None when absent.
        private: True when ``info.private`` is 1.
        total_size: Sum of the file lengths in bytes.
    """

    name: str
    info_hash_v1: str | None
    info_hash_v2: str | None
    source: str | None
    private: bool
    total_size: int

    @property
    def info_hash(self) -> str:
        """Return the v1 info hash when there is one, else the v2 one."""
        ih = self.info_hash_v1 if self.info_hash_v1 is not None else self.info_hash_v2
        # parse_torrent never builds a TorrentInfo without at least one hash.
        assert ih is not None
        return ih


def _short(text: str) -> str:
    return text if len(text) <= _MAX_DETAIL else text[: _MAX_DETAIL - 3] + "..."


def _decode(data: bytes) -> tuple[dict[bytes, Any], dict[bytes, Any], bytes]:
    """Decode a torrent and return (top-level dict, info dict, info dict bytes as in ``data``)."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise InvalidTorrentError(f"a torrent must be bytes, not {type(data).__name__}")
    if len(data) == 0:
        raise InvalidTorrentError("not a torrent file: the data is empty")
    try:
        top = _bdecode(data)
    except (ValueError, TypeError, OverflowError, RecursionError) as exc:
        raise InvalidTorrentError(
            f"not a torrent file: the data is not valid bencode ({_short(str(exc))})"
        ) from None
    if not isinstance(top, dict):
        raise InvalidTorrentError(
            f"not a torrent file: the top level is {_kind(top)}, not a dictionary"
        )
    info = top.get(b"info")
    if info is None:
        raise InvalidTorrentError("not a torrent file: there is no 'info' dictionary")
    if not isinstance(info, dict):
        raise InvalidTorrentError(f"invalid torrent: 'info' is {_kind(info)}, not a dictionary")
    # The info hash is the hash of the info dict's bytes as they appear in the file, but the
    # decoder hands back objects, not spans. Instead of slicing spans out with a second
    # parser, we only accept canonical bencode (sorted unique keys, no leading zeros...):
    # then re-encoding is byte-for-byte the input, so the re-encoded info dict IS the span.
    # bencode2 already rejects every non-canonical form; the round-trip check below keeps
    # that guarantee even if the decoder ever becomes lenient. Clients and trackers hash the
    # raw bytes, so a non-canonical file would get different hashes from different tools:
    # refusing it is safer than guessing.
    if _bencode(top) != data:
        raise InvalidTorrentError(
            "invalid torrent: non-canonical bencode (unsorted or duplicate keys, padded numbers);"
            " re-create the torrent with a standard tool"
        )
    return top, info, _bencode(info)


def _kind(value: object) -> str:
    if isinstance(value, dict):
        return "a dictionary"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, bytes):
        return "a string"
    return f"a {type(value).__name__}"


def _text(value: bytes) -> str:
    return value.decode("utf-8", errors="replace")


def _require_int(container: dict[bytes, Any], key: bytes, where: str, *, minimum: int) -> int:
    value = container.get(key)
    if value is None:
        raise InvalidTorrentError(f"invalid torrent: {where} has no '{key.decode()}'")
    if not isinstance(value, int) or isinstance(value, bool):
        raise InvalidTorrentError(
            f"invalid torrent: {where} '{key.decode()}' is {_kind(value)}, not an integer"
        )
    if value < minimum:
        raise InvalidTorrentError(
            f"invalid torrent: {where} '{key.decode()}' is {value}, below {minimum}"
        )
    return value


def _v1_total_size(info: dict[bytes, Any]) -> int:
    """Validate the v1 fields of an info dict and return the sum of its file lengths."""
    pieces = info.get(b"pieces")
    if not isinstance(pieces, bytes):
        what = "missing" if pieces is None else f"{_kind(pieces)}, not a string"
        raise InvalidTorrentError(f"invalid torrent: info 'pieces' is {what}")
    if len(pieces) % 20:
        raise InvalidTorrentError(
            f"invalid torrent: info 'pieces' is {len(pieces)} bytes, not a multiple of 20"
        )
    has_length = b"length" in info
    files = info.get(b"files")
    if has_length == (files is not None):
        raise InvalidTorrentError(
            "invalid torrent: info must have exactly one of 'length' (single file) and 'files'"
        )
    if has_length:
        return _require_int(info, b"length", "info", minimum=0)
    if not isinstance(files, list):
        raise InvalidTorrentError(f"invalid torrent: info 'files' is {_kind(files)}, not a list")
    if not files:
        raise InvalidTorrentError("invalid torrent: info 'files' is empty")
    total = 0
    for index, entry in enumerate(files):
        where = f"files[{index}]"
        if not isinstance(entry, dict):
            raise InvalidTorrentError(f"invalid torrent: {where} is {_kind(entry)}, not a dict")
        total += _require_int(entry, b"length", where, minimum=0)
        path = entry.get(b"path")
        if not isinstance(path, list) or not path:
            raise InvalidTorrentError(f"invalid torrent: {where} 'path' is not a non-empty list")
        if not all(isinstance(part, bytes) for part in path):
            raise InvalidTorrentError(f"invalid torrent: {where} 'path' holds a non-string part")
    return total


def _v2_total_size(file_tree: object) -> int:
    """Validate a BEP 52 ``file tree`` and return the sum of its file lengths."""
    if not isinstance(file_tree, dict):
        what = "missing" if file_tree is None else f"{_kind(file_tree)}, not a dictionary"
        raise InvalidTorrentError(f"invalid torrent: info 'file tree' is {what}")
    total = 0
    files = 0
    # Iterative walk: the decoder allows nesting deeper than Python's recursion limit.
    stack: list[dict[bytes, Any]] = [file_tree]
    while stack:
        node = stack.pop()
        for key, child in node.items():
            if not isinstance(child, dict):
                raise InvalidTorrentError(
                    f"invalid torrent: 'file tree' entry {_short(_text(key))!r} is not a dictionary"
                )
            if key == b"":
                total += _require_int(child, b"length", "a 'file tree' file", minimum=0)
                files += 1
            else:
                stack.append(child)
    if files == 0:
        raise InvalidTorrentError("invalid torrent: info 'file tree' holds no file")
    return total


def _build_info(info: dict[bytes, Any], info_bytes: bytes) -> TorrentInfo:
    name = info.get(b"name")
    if not isinstance(name, bytes):
        what = "missing" if name is None else f"{_kind(name)}, not a string"
        raise InvalidTorrentError(f"invalid torrent: info 'name' is {what}")
    _require_int(info, b"piece length", "info", minimum=1)
    meta_version = info.get(b"meta version", 1)
    if meta_version not in (1, 2) or isinstance(meta_version, bool):
        raise InvalidTorrentError(
            f"invalid torrent: unsupported info 'meta version' {_short(repr(meta_version))}"
        )
    is_v2 = meta_version == 2
    # Any v1 field makes it a v1 (or hybrid) torrent; a v2 torrent without them is pure v2.
    is_v1 = not is_v2 or any(k in info for k in (b"pieces", b"length", b"files"))
    v2_size = _v2_total_size(info.get(b"file tree")) if is_v2 else 0
    total_size = _v1_total_size(info) if is_v1 else v2_size
    source = info.get(b"source")
    if source is not None and not isinstance(source, bytes):
        raise InvalidTorrentError(f"invalid torrent: info 'source' is {_kind(source)}")
    private = info.get(b"private", 0)
    if not isinstance(private, int):
        raise InvalidTorrentError(f"invalid torrent: info 'private' is {_kind(private)}")
    return TorrentInfo(
        name=_text(name),
        info_hash_v1=hashlib.sha1(info_bytes, usedforsecurity=False).hexdigest() if is_v1 else None,
        info_hash_v2=hashlib.sha256(info_bytes).hexdigest() if is_v2 else None,
        source=None if source is None else _text(source),
        private=private == 1,
        total_size=total_size,
    )


def parse_torrent(data: bytes) -> TorrentInfo:
    """Validate a .torrent file and return its name, info hashes, source flag and size.

    Args:
        data: The whole .torrent file.

    Returns:
        The parsed :class:`TorrentInfo`.

    Raises:
        InvalidTorrentError: ``data`` is not canonical bencode, has no ``info`` dict, or a
            field has the wrong type (``name`` not a string, ``length`` not an integer,
            ``pieces`` not a multiple of 20 bytes...). Also a ``ValueError``.
    """
    _top, info, info_bytes = _decode(data)
    return _build_info(info, info_bytes)


def info_hash_v1(data: bytes) -> str:
    """Return the v1 (SHA-1) info hash of a torrent file.

    Args:
        data: The whole .torrent file.

    Returns:
        40 lowercase hex characters.

    Raises:
        InvalidTorrentError: ``data`` is not a valid torrent, or is a pure v2 torrent, which
            has no v1 info hash.
    """
    ih = parse_torrent(data).info_hash_v1
    if ih is None:
        raise InvalidTorrentError("a pure v2 torrent has no v1 info hash; use info_hash_v2()")
    return ih


def info_hash_v2(data: bytes) -> str | None:
    """Return the v2 (SHA-256) info hash of a torrent file, or None for a v1-only torrent.

    Args:
        data: The whole .torrent file.

    Returns:
        64 lowercase hex characters, or None when the info dict has no ``meta version`` 2.

    Raises:
        InvalidTorrentError: ``data`` is not a valid torrent.
    """
    return parse_torrent(data).info_hash_v2


def check_source_policy(policy: object, error: type[LaCaleError] = ValidationError) -> SourcePolicy:
    """Return ``policy`` when it is a :data:`SourcePolicy`, else raise ``error`` naming all three.

    ``error`` is ``ValidationError`` for a call's argument, ``ConfigurationError`` for an option.
    """
    if isinstance(policy, str) and policy in _POLICIES:
        return policy  # type: ignore[return-value]  # one of the Literal's values
    raise error(f"source_policy must be 'set', 'refuse' or 'keep', not {describe(policy)}")


def apply_source_flag(
    data: bytes, policy: SourcePolicy = "set", source: str = SOURCE_FLAG
) -> tuple[bytes, TorrentInfo]:
    """Make sure a torrent carries the tracker's source flag before it is uploaded.

    Args:
        data: The whole .torrent file.
        policy: ``"set"`` writes ``info.source = source`` when it differs (this changes the
            info hash, so the re-encoded bytes must be the ones seeded); ``"refuse"`` raises
            instead; ``"keep"`` leaves the torrent as it is.
        source: The expected flag, ``"lacale"`` by default.

    Returns:
        ``(bytes to upload, their TorrentInfo)``. When nothing changes, the bytes are the
        ``data`` object itself.

    Raises:
        InvalidTorrentError: ``data`` is not a valid torrent.
        ValidationError: ``policy`` is unknown, ``source`` is empty, or ``policy`` is
            ``"refuse"`` and the flag is missing or different.
    """
    check_source_policy(policy)
    if not isinstance(source, str) or not source:
        raise ValidationError("the source flag must be a non-empty string")
    check_text(source, "the source flag")  # written into the torrent as UTF-8
    top, info, info_bytes = _decode(data)
    parsed = _build_info(info, info_bytes)
    if policy == "keep" or parsed.source == source:
        return data, parsed
    if policy == "refuse":
        found = "has no source flag" if parsed.source is None else f"has source {parsed.source!r}"
        raise ValidationError(
            f"torrent {parsed.name!r} {found}, but the tracker requires source {source!r}:"
            f" re-create it with the source set (e.g. `mktorrent -s {source}`,"
            f" `torf --source {source}`)",
            option="source_policy",
            hint="or upload with source_policy='set' and seed the re-encoded file it returns",
        )
    info[b"source"] = source.encode("utf-8")
    new_data: bytes = _bencode(top)
    return new_data, _build_info(info, _bencode(info))


def _looks_like(data: bytes) -> str | None:
    """Name what a body that is not a torrent most likely is, or None when it is unrecognised."""
    if not data:
        return "an empty body"
    head = bytes(data[:512]).lstrip().lower()
    if head.startswith((b"<!doctype html", b"<html")) or b"<html" in head or b"<body" in head:
        return "an HTML page (a login, error or Cloudflare page?)"
    if head.startswith((b"{", b"[")):
        try:
            doc = json.loads(bytes(data))
        except (ValueError, RecursionError):
            return "truncated or invalid JSON"
        # Key names only: values may echo request details that must not end up in a message.
        if isinstance(doc, dict):
            keys = ", ".join(sorted(str(k) for k in doc)[:5])
            return f"a JSON document (keys: {_short(keys)})"
        return "a JSON document"
    if head.startswith(b"<"):
        return "an XML document"
    return None


def verify_torrent(data: bytes, expected_info_hash: str) -> TorrentInfo:
    """Check that downloaded bytes are the torrent that was asked for.

    A 40-hex ``expected_info_hash`` also matches a pure v2 torrent whose SHA-256 hash starts
    with it, the truncated form BEP 52 uses wherever a 20-byte hash is expected.

    Args:
        data: The downloaded body.
        expected_info_hash: The v1 (40 hex) or v2 (64 hex) info hash, any case.

    Returns:
        The parsed :class:`TorrentInfo`.

    Raises:
        ValidationError: ``expected_info_hash`` is not 40 or 64 hexadecimal characters.
        IntegrityError: ``data`` is not a torrent (the message says what it looks like), or
            none of its info hashes equals ``expected_info_hash``.
    """
    if not is_info_hash(expected_info_hash):
        raise ValidationError("an info hash must be 40 or 64 hexadecimal characters")
    expected = str.lower(expected_info_hash)
    try:
        parsed = parse_torrent(data)
    except InvalidTorrentError as exc:
        looks = _looks_like(data) if isinstance(data, (bytes, bytearray)) else None
        raise IntegrityError(
            f"the file downloaded for {expected} is not a torrent: {looks or exc}"
        ) from exc
    v1, v2 = parsed.info_hash_v1, parsed.info_hash_v2
    if expected in (v1, v2) or (v1 is None and v2 is not None and v2[:40] == expected):
        return parsed
    got = " and ".join(f"{h} ({label})" for label, h in (("v1", v1), ("v2", v2)) if h)
    raise IntegrityError(
        f"the downloaded torrent {_short(parsed.name)!r} has info hash {got}, expected {expected}"
    )
