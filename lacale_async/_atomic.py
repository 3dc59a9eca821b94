"""Atomic, no-clobber writes: a file is absent, the old one or the new one, never partial."""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import tempfile
from collections.abc import AsyncIterable
from pathlib import Path

import anyio.to_thread

from ._errors import DestinationExistsError, StorageError, ValidationError

__all__ = ["refuse_existing", "replace_file", "require_folder", "truncate_utf8", "write_atomic"]

# Errors meaning "this file system has no hard links", where publishing falls back to O_EXCL.
_NO_LINK_ERRNOS = frozenset(
    getattr(errno, name)
    for name in ("EPERM", "EACCES", "ENOTSUP", "EOPNOTSUPP", "ENOSYS", "EMLINK", "EXDEV")
    if hasattr(errno, name)
)
_WRITE_BUFFER = 256 * 1024


def truncate_utf8(text: str, max_bytes: int) -> str:
    """Return ``text`` cut to at most ``max_bytes`` of UTF-8, on a character boundary."""
    encoded = text.encode("utf-8")
    if len(encoded) <= max_bytes:
        return text
    return encoded[:max_bytes].decode("utf-8", errors="ignore")


class _TempFile:
    """A temp file next to the destination, removed unless it was published."""

    def __init__(self, dest: Path) -> None:
        # Same folder, hence same file system: publishing is a rename or link, never a copy.
        self.fd, name = tempfile.mkstemp(
            dir=dest.parent, prefix=f".{truncate_utf8(dest.name, 100)}.", suffix=".part"
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
        StorageError: ``dest`` is not a regular file (a device, a pipe, a folder, a link to
            one): publishing renames over it, which would replace ``/dev/null`` itself.
        OSError: The file system refused to answer (a name too long...).
    """
    # lexists: a dangling symlink counts, as a write would follow it nowhere good.
    if not overwrite and os.path.lexists(dest):
        raise _exists(dest)
    if overwrite:
        _refuse_special(dest)


def _refuse_special(dest: Path) -> None:
    # The rename that publishes the file replaces the name, never writes into what it names:
    # --overwrite of /dev/stdout or a FIFO would swap the device node (or its link) for a file.
    for mode in (_mode(dest, follow=False), _mode(dest, follow=True)):
        if mode is not None and not (stat.S_ISREG(mode) or stat.S_ISLNK(mode)):
            raise StorageError(f"{dest} is not a regular file; only a file can be replaced")


def _mode(path: Path, *, follow: bool) -> int | None:
    try:
        return os.stat(path, follow_symlinks=follow).st_mode
    except FileNotFoundError:  # absent, or a dangling link: nothing but a name is replaced
        return None


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


def require_folder(folder: Path) -> None:
    """Refuse a destination file's folder that is missing or not a folder, with the way out.

    Raises:
        ValidationError: ``folder`` does not exist (``option="path_or_dir"``), or is a file.
    """
    if folder.is_dir():
        return
    if folder.exists():
        raise ValidationError(f"{folder} is not a folder", hint="pass a path in an existing folder")
    raise ValidationError(
        f"folder {folder}{os.sep} does not exist",
        option="path_or_dir",
        hint="create it, or pass an existing folder",
    )


def _check_destination(dest: Path, overwrite: bool) -> None:
    # Fails before anything is downloaded; _publish re-checks atomically at the end.
    refuse_existing(dest, overwrite)
    require_folder(dest.parent)


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
        StorageError: ``overwrite`` is True and ``dest`` is not a regular file (a device, a
            pipe, a folder, a link to one, a link loop).
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


def replace_file(dest: Path, data: bytes) -> None:
    """Replace ``dest`` with ``data`` so that it is the old file or the new one, never partial.

    Synchronous, for small files of the command's own (a crash or power cut mid-write leaves
    the previous content, never an empty file: the data is fsynced before the rename).

    Args:
        dest: The file; its folder must exist.
        data: The new content.

    Raises:
        OSError: The file system failed (disk full, permission denied).
    """
    tmp = _TempFile(dest)
    try:
        tmp.write(data)
        tmp.finish()
        _publish(tmp, dest, overwrite=True)
        _fsync_dir(dest.parent)
    finally:
        tmp.discard()
