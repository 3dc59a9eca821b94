"""Saving downloads safely: hostile-name sanitising and atomic, no-clobber writes."""

from __future__ import annotations

import contextlib
import errno
import os
import re
import tempfile
import unicodedata
from collections.abc import AsyncIterable
from pathlib import Path

import anyio.to_thread

from ._errors import DestinationExistsError, LaCaleError, StorageError, ValidationError
from ._options import check_bool
from ._validation import is_utf8

__all__ = [
    "check_destination",
    "check_path",
    "prepare_download",
    "refuse_existing",
    "resolve_destination",
    "safe_filename",
    "save_download",
    "write_atomic",
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
# Errors meaning "this file system has no hard links", where publishing falls back to O_EXCL.
_NO_LINK_ERRNOS = frozenset(
    getattr(errno, name)
    for name in ("EPERM", "EACCES", "ENOTSUP", "EOPNOTSUPP", "ENOSYS", "EMLINK", "EXDEV")
    if hasattr(errno, name)
)
_WRITE_BUFFER = 256 * 1024


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
        ValidationError: Bytes, an int, None or another type; a NUL; a lone surrogate (or
            ``error``, when given).
    """
    text = os.fspath(path) if isinstance(path, (str, os.PathLike)) else path
    if not isinstance(text, str):
        raise error(
            f"{what} path must be a str or an os.PathLike of str, not {type(text).__name__}"
        )
    if "\x00" in text:
        raise error(f"{what} path contains a NUL character")
    if not is_utf8(text):
        raise error(f"{what} path contains characters that cannot be encoded (lone surrogates)")
    return text


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


def _truncate_utf8(text: str, max_bytes: int) -> str:
    encoded = text.encode("utf-8")
    if len(encoded) <= max_bytes:
        return text
    return encoded[:max_bytes].decode("utf-8", errors="ignore")


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
    base = _truncate_utf8(base, _MAX_NAME_BYTES - len(suffix.encode("utf-8"))).rstrip(" .")
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
        raise ValidationError(f"destination folder does not exist: {raw}")
    if not path.parent.is_dir():
        raise ValidationError(f"the folder of the destination file does not exist: {path.parent}")
    if path.name in ("", ".", ".."):
        raise ValidationError(f"not a file path: {raw}")
    return path


class _TempFile:
    """A temp file next to the destination, removed unless it was published."""

    def __init__(self, dest: Path) -> None:
        # Same folder, hence same file system: publishing is a rename or link, never a copy.
        self.fd, name = tempfile.mkstemp(
            dir=dest.parent, prefix=f".{_truncate_utf8(dest.name, 100)}.", suffix=".part"
        )
        self.path = Path(name)
        self.published = False

    def write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            view = view[os.write(self.fd, view) :]

    def finish(self) -> None:
        os.fsync(self.fd)
        self.close()

    def close(self) -> None:
        if self.fd >= 0:
            fd, self.fd = self.fd, -1
            os.close(fd)

    def discard(self) -> None:
        self.close()
        if not self.published:
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()


def _exists(dest: Path) -> DestinationExistsError:
    return DestinationExistsError(
        f"{dest} already exists", option="overwrite", hint="pass overwrite=True to replace it"
    )


def refuse_existing(dest: Path, overwrite: bool) -> None:
    """Refuse, before anything is spent, a file that writing ``dest`` would replace.

    Args:
        dest: The file about to be written.
        overwrite: Whether an existing file may be replaced.

    Raises:
        DestinationExistsError: ``dest`` exists and ``overwrite`` is False.
        OSError: The file system refused to answer (a name too long...).
    """
    if not overwrite and dest.exists():
        raise _exists(dest)


def _publish(tmp: _TempFile, dest: Path, *, overwrite: bool) -> None:
    """Give the finished temp file its final name, without clobbering unless ``overwrite``."""
    if overwrite:
        os.replace(tmp.path, dest)
        tmp.published = True
        return
    try:
        # link() fails with EEXIST instead of replacing: a file that appeared while we were
        # downloading is never clobbered, and dest is complete from the moment it exists.
        os.link(tmp.path, dest)
    except FileExistsError:
        raise _exists(dest) from None
    except OSError as exc:
        if exc.errno not in _NO_LINK_ERRNOS:
            raise
        # No hard links here (FAT, some network shares): claim the name with O_EXCL, then
        # replace the empty placeholder; readers may see it empty, never half-written.
        try:
            os.close(os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        except FileExistsError:
            raise _exists(dest) from None
        os.replace(tmp.path, dest)
        tmp.published = True
        return
    tmp.published = True
    with contextlib.suppress(OSError):
        tmp.path.unlink()


def _check_destination(dest: Path, overwrite: bool) -> None:
    # Fails before anything is downloaded; _publish re-checks atomically at the end.
    if not overwrite and os.path.lexists(dest):
        raise _exists(dest)
    if not dest.parent.is_dir():
        raise ValidationError(f"the folder of the destination file does not exist: {dest.parent}")


def _fsync_dir(folder: Path) -> None:
    # Makes the new directory entry durable; not possible on every platform (Windows).
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


async def write_atomic(
    dest: Path, chunks: bytes | AsyncIterable[bytes], *, overwrite: bool = False
) -> Path:
    """Write a file so that ``dest`` is either absent or complete, never partial.

    Data goes to a temp file in ``dest``'s folder, is fsynced, then published under
    ``dest``. On any error or cancellation the temp file is removed and ``dest`` is left as
    it was. The file is created with mode 0600: a private tracker's .torrent embeds the
    user's passkey in its announce URL.

    Args:
        dest: The final path; its folder must exist.
        chunks: The content, whole or as an async iterable of chunks (such as a response
            body stream); exceptions it raises propagate unchanged.
        overwrite: Replace an existing ``dest`` instead of refusing.

    Returns:
        ``dest``.

    Raises:
        DestinationExistsError: ``dest`` exists (checked before writing and again, atomically,
            when publishing) and ``overwrite`` is False.
        ValidationError: The folder of ``dest`` does not exist, or a chunk is not bytes.
        OSError: The file system failed (disk full, permission denied).
    """
    dest = Path(dest)
    await anyio.to_thread.run_sync(_check_destination, dest, overwrite)
    # Created synchronously (it is tiny): created in a worker thread, a cancellation arriving
    # while the thread runs would lose the handle and leak the file.
    tmp = _TempFile(dest)
    try:
        if isinstance(chunks, (bytes, bytearray, memoryview)):
            await anyio.to_thread.run_sync(tmp.write, bytes(chunks))
        else:
            # Small network chunks are batched so each worker-thread hop writes a useful amount.
            buffer = bytearray()
            async for chunk in chunks:
                if not isinstance(chunk, (bytes, bytearray, memoryview)):
                    raise ValidationError(f"chunks must be bytes, got {type(chunk).__name__}")
                buffer += chunk
                if len(buffer) >= _WRITE_BUFFER:
                    data, buffer = bytes(buffer), bytearray()
                    await anyio.to_thread.run_sync(tmp.write, data)
            if buffer:
                await anyio.to_thread.run_sync(tmp.write, bytes(buffer))
        await anyio.to_thread.run_sync(tmp.finish)
        # Synchronous on purpose: no await between publishing and returning, so a
        # cancellation can never report failure for a file that was in fact published.
        _publish(tmp, dest, overwrite=overwrite)
        _fsync_dir(dest.parent)
    finally:
        # Synchronous too: cleanup must run even inside a cancelled scope.
        tmp.discard()
    return dest


def check_destination(path_or_dir: str | os.PathLike[str], overwrite: bool) -> tuple[Path, bool]:
    """Check, before a download is spent, that ``download_to`` could write its file.

    Args:
        path_or_dir: An existing folder, or a file path in an existing folder.
        overwrite: Whether an existing file may be replaced.

    Returns:
        ``(path, is_folder)``: the folder (the file name comes with the torrent) or the file.

    Raises:
        ValidationError: A folder path (trailing slash) that does not exist.
        DestinationExistsError: The file exists and ``overwrite`` is False.
        StorageError: The folder cannot be written.
        OSError: The file system refused to answer (a name too long...).
    """
    target = Path(path_or_dir)
    if target.is_dir():
        if not os.access(target, os.W_OK | os.X_OK):
            raise StorageError(f"cannot write into folder {target}")
        return target, True
    text = os.fspath(path_or_dir)
    if text.endswith(("/", os.sep)):
        # Path() drops the trailing slash: "new/" would silently become a file named "new".
        raise ValidationError(f"folder {text!r} does not exist")
    target = resolve_destination(target, target.name)
    refuse_existing(target, overwrite)
    if not os.access(target.parent, os.W_OK | os.X_OK):
        raise StorageError(f"cannot write into folder {target.parent}")
    return target, False


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
    check_path(path_or_dir, "destination")
    check_bool(overwrite, "overwrite")
    try:
        return await anyio.to_thread.run_sync(check_destination, path_or_dir, overwrite)
    except LaCaleError:
        raise
    except OSError as exc:
        refused = StorageError(f"cannot write to {path_or_dir!s}: {exc.strerror or exc}")
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
