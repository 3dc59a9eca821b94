"""``lacale download``: save a .torrent, by info hash or by a prefix from the last search."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import click

from .._errors import StorageError
from ._app import command
from ._hashes import resolve_hash
from ._run import connect, echo_json, handled, run_command
from ._sanitize import clean
from ._session import Settings

__all__ = ["download", "make_folder"]


def make_folder(target: str) -> Path | None:
    """Create the folder ``target`` names with a trailing slash (``wget -P`` habit).

    Args:
        target: The ``--output`` value.

    Returns:
        The topmost folder created (to remove if the download fails), or None when nothing
        had to be created (an existing folder, or a file path).

    Raises:
        StorageError: The folder cannot be created (permissions, a file in the way).
    """
    if not target.endswith(("/", os.sep)):
        return None
    folder = Path(target)
    if folder.is_dir():
        return None
    missing = folder
    while not missing.parent.exists() and missing.parent != missing:
        missing = missing.parent
    try:
        folder.mkdir(parents=True)
    except OSError as exc:
        raise StorageError(f"cannot create folder {target}: {exc.strerror or exc}") from None
    return missing


def _remove_empty(top: Path, folder: Path) -> None:
    """Remove the empty folders from ``folder`` up to ``top``, which this command created."""
    current = folder
    with contextlib.suppress(OSError):
        while True:
            current.rmdir()
            if current == top:
                return
            current = current.parent


@command()
@click.argument("info_hash", metavar="HASH")
@click.option(
    "-o",
    "--output",
    metavar="PATH_OR_DIR/",
    help="File to write, or folder to save into; a trailing / creates the folder "
    "(default: the current folder).",
)
@click.option("--overwrite", is_flag=True, help="Replace an existing file.")
def download(settings: Settings, info_hash: str, output: str | None, overwrite: bool) -> None:
    """Download the .torrent of HASH and print where it was saved.

    HASH is a whole info hash, or at least its first 8 characters as the last 'lacale
    search' showed them (the Hash column), when only one result starts so.
    """
    target = output if output is not None else os.getcwd()
    with handled(settings):
        full = resolve_hash(info_hash)
        # A file path in a missing folder is refused by download_to, before anything is sent.
        created = make_folder(target)

    async def go() -> int:
        async with connect(settings) as client:
            path = await client.download_to(full, target, overwrite=overwrite)
        # Not masked: download_to made the name from the masked torrent name and the folder
        # is the user's, so the path printed is the file that exists.
        if settings.json:
            record = {"info_hash": full.lower(), "path": str(path)}
            echo_json(record, indent=None, secrets=settings.secrets)
        else:
            click.echo(clean(str(path)))
        return 0

    try:
        run_command(settings, go)
    except click.exceptions.Exit as exc:
        if exc.exit_code and created is not None:
            _remove_empty(created, Path(target))
        raise
