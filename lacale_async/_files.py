"""Saving downloads safely: hostile-name sanitising, destinations checked before sending."""

from __future__ import annotations

import os
import re
import unicodedata
from pathlib import Path

import anyio.to_thread

from ._atomic import refuse_existing, require_folder, truncate_utf8, write_atomic
from ._errors import LaCaleError, StorageError, ValidationError
from ._options import check_bool
from ._validation import is_utf8

__all__ = [
    "check_destination",
    "check_path",
    "expand_home",
    "prepare_download",
    "require_writable",
    "resolve_destination",
    "safe_filename",
    "save_download",
]

_MAX_NAME_BYTES = 200
# Characters Windows refuses in a file name (the separators among them are handled first).
_WINDOWS_FORBIDDEN = re.compile(r'[<>:"/\\|?*]')
# Device names Windows resolves whatever the extension ("CON.torrent" is still the console).
_WINDOWS_RESERVED = frozenset(
    {"CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"}
    | {f"{dev}{n}" for dev in ("COM", "LPT") for n in (*"123456789", "¹", "²", "³")}
)
# Control, format (bidi overrides that disguise an extension) and surrogate code points:
# none belongs in a file name, and surrogates cannot even be encoded for the file system.
_DROPPED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})


def check_path(path: object, what: str, error: type[LaCaleError] = ValidationError) -> str:
    """Return ``path`` as text when the file system can be asked about it.

    Checked before anything is sent: a NUL made ``open()`` raise ValueError, and a lone
    surrogate failed only when the temp file was named, after the download.

    Args:
        path: A ``str`` or an ``os.PathLike`` giving one.
        what: What the path is for, in the message ("torrent", "destination").
        error: What to raise: ValidationError for a method's argument, ConfigurationError
            for an option or an environment variable.

    Raises:
        ValidationError: Bytes, an int, None or another type; an empty path; a NUL; a lone
            surrogate (or ``error``, when given).
    """
    text = os.fspath(path) if isinstance(path, (str, os.PathLike)) else path
    if not isinstance(text, str):
        raise error(
            f"{what} path must be a str or an os.PathLike of str, not {type(text).__name__}"
        )
    if not text:
        # Path("") is "." (the working folder): an empty path is an unset setting instead.
        raise error(f"{what} path is empty")
    if "\x00" in text:
        raise error(f"{what} path contains a NUL character")
    if not is_utf8(text):
        raise error(f"{what} path contains characters that cannot be encoded (lone surrogates)")
    return text


def expand_home(path: str, what: str, error: type[LaCaleError] = ValidationError) -> Path:
    """Return ``path`` with a leading ``~`` or ``~user`` turned into that home folder.

    Args:
        path: A path checked by :func:`check_path`.
        what: What the path is for, in the message.
        error: What to raise (as for :func:`check_path`).

    Raises:
        ValidationError: ``~user`` names no user, or ``~`` has no home to stand for (or
            ``error``, when given).
    """
    try:
        return Path(path).expanduser()
    except RuntimeError:  # pathlib's way of saying it: "Could not determine home directory."
        raise error(f"{what} path {path!r} starts with a ~ that names no home folder") from None


def _clean(name: str) -> str:
    """Reduce ``name`` to one harmless path component (possibly empty)."""
    name = unicodedata.normalize("NFC", name)
    name = "".join(c for c in name if unicodedata.category(c) not in _DROPPED_CATEGORIES)
    # Keep only the last real component: a name must never carry a directory with it.
    parts = [p for p in re.split(r"[/\\]", name) if p.strip() not in ("", ".", "..")]
    name = parts[-1] if parts else ""
    name = _WINDOWS_FORBIDDEN.sub("_", name)
    # Leading dots hide the file (or spell "..");  Windows drops trailing dots and spaces.
    return name.lstrip(" .").rstrip(" .")


def safe_filename(name: str, *, default: str = "download", suffix: str = ".torrent") -> str:
    """Turn a server- or torrent-provided name into a file name that stays in its folder.

    Directories, path separators, control and bidi characters, leading dots and characters
    or device names Windows refuses are removed; the result is at most 200 UTF-8 bytes and
    ends with ``suffix``. ``"../../etc/passwd"`` becomes ``"passwd.torrent"``.

    Args:
        name: The untrusted name.
        default: The stem used when nothing usable is left of ``name``.
        suffix: Extension to ensure; an existing one in another case is normalised to it.
            ``""`` for none.

    Returns:
        A non-empty file name without any directory part.

    Raises:
        ValidationError: ``suffix`` is not empty and not a plain extension such as ``".torrent"``.
    """
    if suffix and (len(suffix) < 2 or suffix[0] != "." or _clean(suffix[1:]) != suffix[1:]):
        raise ValidationError(
            f"suffix must be empty or a plain extension like '.torrent': {suffix!r}"
        )
    base = _clean(name if isinstance(name, str) else "")
    if suffix and base.lower().endswith(suffix.lower()):
        base = base[: -len(suffix)].rstrip(" .")
    if not base:
        base = _clean(default) or "download"
    if base.split(".", 1)[0].strip().upper() in _WINDOWS_RESERVED:
        base = "_" + base
    base = truncate_utf8(base, _MAX_NAME_BYTES - len(suffix.encode("utf-8"))).rstrip(" .")
    return (base or "download") + suffix


def resolve_destination(path_or_dir: str | os.PathLike[str], suggested_name: str) -> Path:
    """Decide where a download is saved.

    Args:
        path_or_dir: An existing directory (the file goes inside it, named after
            ``suggested_name``) or the path of the file itself.
        suggested_name: Untrusted name (server header or torrent name), sanitised with
            :func:`safe_filename`.

    Returns:
        The destination file path, always directly inside the given folder.

    Raises:
        ValidationError: The directory, or the parent of the file path, does not exist, or
            the path names something that is not a regular file location.
    """
    raw = os.fspath(path_or_dir)
    path = Path(raw)
    if path.is_dir():
        name = safe_filename(suggested_name)
        # safe_filename already guarantees a single plain component; this re-check is the
        # invariant callers rely on. (Not via resolve(): an existing symlink at the name is
        # fine, write_atomic never writes through it.)
        if Path(name).name != name or name in (".", ".."):
            raise ValidationError("the download name would leave the destination folder")
        return path / name
    if raw.endswith((os.sep, "/")) or (os.altsep is not None and raw.endswith(os.altsep)):
        # Path() drops the trailing slash: "new/" names a folder, never a file named "new".
        require_folder(path)
    require_folder(path.parent)
    if path.name in ("", ".", ".."):
        raise ValidationError(f"not a file path: {raw}")
    return path


def check_destination(path_or_dir: str | os.PathLike[str], overwrite: bool) -> tuple[Path, bool]:
    """Check, before a download is spent, that ``download_to`` could write its file.

    Args:
        path_or_dir: An existing folder, or a file path in an existing folder.
        overwrite: Whether an existing file may be replaced.

    Returns:
        ``(path, is_folder)``: the folder (the file name comes with the torrent) or the file.

    Raises:
        ValidationError: The folder, or the file's folder, does not exist or is a file.
        DestinationExistsError: The file exists and ``overwrite`` is False.
        StorageError: The folder cannot be written.
        OSError: The file system refused to answer (a name too long...).
    """
    target = Path(path_or_dir)
    if target.is_dir():
        require_writable(target)
        return target, True
    target = resolve_destination(path_or_dir, target.name)
    refuse_existing(target, overwrite)
    require_writable(target.parent)
    return target, False


def require_writable(folder: Path) -> None:
    """Refuse a folder this process cannot create files in, before anything is spent.

    Raises:
        StorageError: ``folder`` is not writable (a read-only file system, for root too).
    """
    if not os.access(folder, os.W_OK | os.X_OK):
        raise StorageError(f"cannot write into folder {folder}")


async def prepare_download(
    path_or_dir: str | os.PathLike[str], overwrite: bool
) -> tuple[Path, bool]:
    """Check ``download_to``'s destination and flag, then (off the event loop) the folder.

    Run before anything is downloaded: a request (and rate budget) is never spent on a file
    that could not be written.

    Raises:
        ValidationError: A path that is not text or holds a NUL or a lone surrogate; see
            :func:`check_destination`.
        ConfigurationError: ``overwrite`` is not a bool.
        DestinationExistsError: The file exists and ``overwrite`` is False.
        StorageError: The folder cannot be written, or the file system refused to answer.
    """
    # Read once: a path-like read again could name another file than the one checked.
    text = check_path(path_or_dir, "destination")
    check_bool(overwrite, "overwrite")
    try:
        return await anyio.to_thread.run_sync(check_destination, text, overwrite)
    except LaCaleError:
        raise
    except OSError as exc:
        refused = StorageError(f"cannot write to {text}: {exc.strerror or exc}")
    raise refused


async def save_download(
    target: Path, *, is_dir: bool, name: str, body: bytes, overwrite: bool
) -> Path:
    """Write a verified download where :func:`prepare_download` said, atomically.

    Args:
        target: The file, or the folder to save into as ``name`` (sanitised).
        is_dir: Whether ``target`` is the folder.
        name: The torrent's name (or its info hash).
        body: The torrent bytes.
        overwrite: Replace an existing file.

    Returns:
        The path written.

    Raises:
        DestinationExistsError: The file appeared meanwhile and ``overwrite`` is False.
        StorageError: The file system refused the write.
    """
    try:
        if is_dir:
            target = resolve_destination(target, name)
        return await write_atomic(target, body, overwrite=overwrite)
    except LaCaleError:
        raise
    except OSError as exc:
        failure = StorageError(f"cannot write {target}: {exc.strerror or exc}")
    raise failure
