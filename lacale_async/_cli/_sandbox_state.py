"""The embedded sandbox's uploads, kept between ``lacale --sandbox`` commands.

Each command starts its own sandbox, with the same seeded catalogue every time. Without a
memory of uploads, ``lacale --sandbox upload x.torrent`` then ``lacale --sandbox download
<hash>`` would answer 404. The torrents uploaded are saved in the user cache directory when
the sandbox stops and added back to the catalogue when the next one starts, through the
sandbox's public catalogue API. ``lacale sandbox --reset`` forgets them. The standalone
``lacale sandbox`` server keeps nothing: a test harness gets the same catalogue every run.
"""

from __future__ import annotations

import contextlib
import shutil
from pathlib import Path

import msgspec

from .._errors import ValidationError
from ..testing import CatalogueTorrent, SandboxServer
from ._userdata import sandbox_dir, write_file

__all__ = ["SavedUploads"]

_FILE = "uploads.json"


class _Saved(msgspec.Struct, kw_only=True):
    """One uploaded torrent, as written to the state file (its category by id)."""

    guid: str
    title: str
    slug: str
    category_id: str
    size: int
    published_ms: int
    info_hash: str
    data: bytes
    tmdb_id: str | None = None
    tmdb_type: str | None = None
    tag_ids: tuple[str, ...] = ()
    other_hashes: tuple[str, ...] = ()


_decoder = msgspec.json.Decoder(list[_Saved])


def _saved(torrent: CatalogueTorrent) -> _Saved:
    names = [f for f in _Saved.__struct_fields__ if f != "category_id"]
    return _Saved(category_id=torrent.category.id, **{f: getattr(torrent, f) for f in names})


class SavedUploads:
    """Loads the kept uploads into a started sandbox, and saves them back when it stops.

    Args:
        folder: Where the state file lives; the user cache directory's ``sandbox/`` when None.
    """

    def __init__(self, folder: Path | None = None) -> None:
        self.path = (folder if folder is not None else sandbox_dir()) / _FILE

    def _read(self) -> list[_Saved]:
        try:
            return _decoder.decode(self.path.read_bytes())
        except (OSError, msgspec.DecodeError, msgspec.ValidationError):
            # Absent, unreadable or from an incompatible version: start from the catalogue.
            return []

    def load(self, server: SandboxServer) -> int:
        """Add the kept uploads to ``server``'s catalogue; return how many were added."""
        added = 0
        taxonomy = server.catalogue.taxonomy
        for item in self._read():
            category = taxonomy.by_id(item.category_id)
            if category is None:
                continue
            with contextlib.suppress(ValidationError):  # already there (a hash collision)
                fields = msgspec.structs.asdict(item)
                del fields["category_id"]
                # Seeders and leechers are the catalogue's own business: a new upload has none.
                torrent = CatalogueTorrent(category=category, seeders=0, leechers=0, **fields)
                server.catalogue.add(torrent)
                added += 1
        return added

    def save(self, server: SandboxServer) -> None:
        """Write this run's uploads next to the kept ones (another command may have added some)."""
        new = [server.catalogue.get(record.info_hash) for record in server.uploads]
        if not any(new):
            return
        kept = {item.info_hash: item for item in self._read()}
        for torrent in new:
            if torrent is not None:
                kept[torrent.info_hash] = _saved(torrent)
        write_file(self.path, msgspec.json.encode(list(kept.values())))

    def forget(self) -> int:
        """Delete the kept uploads; return how many there were.

        Raises:
            OSError: The folder exists but cannot be removed.
        """
        count = len(self._read())
        if self.path.parent.exists():
            shutil.rmtree(self.path.parent)
        return count
