"""What ``lacale`` remembers between runs, in the user's cache directory.

- ``last-search.json``: the info hashes of the last ``search`` or ``bulk``, so ``download``
  takes a unique prefix of one (the 12 characters a table shows).
- ``meta.json``: the last meta answer fetched (by ``lacale meta`` or an upload), which shell
  completion reads for category and tag slugs without any network request.
- ``sandbox/``: the embedded sandbox's uploads (see :mod:`._sandbox_state`).

The folder is the SDK's (see ``lacale_async._userdir``): ``LACALE_CACHE_DIR`` when set, else the
user's cache folder (``~/.cache/lacale-async`` on Linux), beside the key budget's store.
Everything here is a cache: a file that cannot be read or written is treated as absent, never
as an error of the command.
"""

from __future__ import annotations

import logging
from pathlib import Path

import msgspec

from .._atomic import replace_file
from .._errors import ConfigurationError
from .._models import Meta
from .._userdir import user_cache_dir

__all__ = [
    "load_hashes",
    "load_meta",
    "sandbox_dir",
    "save_hashes",
    "save_meta",
    "write_file",
]

logger = logging.getLogger("lacale_async.cli")

_HASHES = "last-search.json"
_META = "meta.json"
_hashes_decoder = msgspec.json.Decoder(list[str])
_meta_decoder = msgspec.json.Decoder(Meta)


def sandbox_dir() -> Path:
    """Return the folder that keeps the embedded sandbox's uploads."""
    return user_cache_dir() / "sandbox"


def write_file(path: Path, data: bytes) -> bool:
    """Replace ``path`` with ``data`` atomically (a temporary file, then a rename).

    Args:
        path: The file; its folder is created when missing (private to the user).
        data: The new content.

    Returns:
        True when written; False (logged at DEBUG) when the file system refused.
    """
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        replace_file(path, data)
    except OSError as exc:
        logger.debug("cannot write %s: %s", path, exc)
        return False
    return True


def _cached(name: str) -> Path | None:
    # A cache: a LACALE_CACHE_DIR no folder can have means nothing is remembered, never a
    # failed command (shell completion included); the commands that need it say why.
    try:
        return user_cache_dir() / name
    except ConfigurationError as exc:
        logger.debug("no cache folder: %s", exc)
        return None


def _read(name: str) -> bytes | None:
    path = _cached(name)
    if path is None:
        return None
    try:
        return path.read_bytes()
    except OSError:
        return None


def _keep(name: str, data: bytes) -> None:
    path = _cached(name)
    if path is not None:
        write_file(path, data)


def save_hashes(hashes: list[str]) -> None:
    """Remember the info hashes of the results just shown (in their order)."""
    _keep(_HASHES, msgspec.json.encode(hashes))


def load_hashes() -> list[str]:
    """Return the info hashes of the last search, or an empty list when none was kept."""
    data = _read(_HASHES)
    if data is None:
        return []
    try:
        return _hashes_decoder.decode(data)
    except msgspec.DecodeError:
        return []


def save_meta(meta: Meta) -> None:
    """Remember a meta answer for shell completion."""
    _keep(_META, msgspec.json.encode(meta))


def load_meta() -> Meta | None:
    """Return the remembered meta answer, or None when none (or an unreadable one) is kept."""
    data = _read(_META)
    if data is None:
        return None
    try:
        return _meta_decoder.decode(data)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None
