"""Preparing an upload: reading its files, resolving slugs, building the multipart form."""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Sequence
from dataclasses import dataclass

import aiohttp
import anyio

from ._errors import ValidationError
from ._files import check_path, safe_filename
from ._models import Meta
from ._options import describe
from ._responses import Scrub
from ._torrent import SourcePolicy, TorrentInfo, apply_source_flag, check_source_policy
from ._validation import (
    check_cover_url,
    check_tags,
    check_text,
    check_title,
    check_tmdb_id,
    check_tmdb_type,
)

__all__ = [
    "MAX_NFO_SIZE",
    "MAX_TORRENT_SIZE",
    "UploadFields",
    "UploadForm",
    "looks_like_id",
    "read_input",
    "resolve_category",
    "resolve_tag",
]

MAX_TORRENT_SIZE = 10 * 1024 * 1024
"""Largest .torrent an upload reads."""
MAX_NFO_SIZE = 1024 * 1024
"""Largest NFO an upload reads."""

# The three shapes of the tracker's ids, as recorded from the live /meta (IznoCorp/torrent-mate
# meta.json, 2026-05): 25-character cuids ("cmjoyv2cd00027eryreyk39gz"), 20-character xids in
# base32hex ("d5ghcmpsup7s73b5j080"), and UUIDs ("71778794-4da9-43d3-8673-225fe726dc2a").
_ID_SHAPE = re.compile(
    r"c[0-9a-z]{24}|[0-9a-v]{20}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
    re.IGNORECASE,
)


def looks_like_id(value: str) -> bool:
    """Tell whether ``value`` has the shape of a tracker id (cuid, 20-character xid, UUID).

    Slugs never match: they are words joined by dashes, rarely 20 characters of base32hex.
    """
    return _ID_SHAPE.fullmatch(value) is not None


async def read_input(
    value: bytes | str | os.PathLike[str], what: str, limit: int, scrub: Scrub | None = None
) -> bytes:
    """Return bytes given directly, or read from a path, refusing what cannot be a valid file.

    Args:
        value: The bytes, or the path of the file.
        what: What it is, in messages ("torrent", "nfo").
        limit: The most bytes it may have.
        scrub: Removes the key from the path quoted in a message: a .torrent's text passed
            as a path by mistake holds its announce URL, and a passkey in it. (The CLI masks
            its secrets in every error line itself.)

    Raises:
        ValidationError: Not bytes or a path, missing, unreadable, or larger than ``limit``.
    """
    if isinstance(value, (bytes, bytearray, memoryview)):
        data = bytes(value)
    elif isinstance(value, (str, os.PathLike)):
        text = check_path(value, what)
        # Bounded: a whole file's text may have been passed as its path.
        shown = describe(text if scrub is None else scrub(text), limit=120)
        path = anyio.Path(text)
        try:
            info = await path.stat()
            if stat.S_ISDIR(info.st_mode):
                raise ValidationError(f"{what} path is a folder: {shown}")
            if not stat.S_ISREG(info.st_mode):
                # /dev/zero or a FIFO: no size to check, and reading would never end.
                raise ValidationError(f"{what} path is not a regular file: {shown}")
            if info.st_size > limit:
                raise ValidationError(f"{what} file {shown} is over {limit} bytes")
            async with await path.open("rb") as file:
                data = await file.read(limit + 1)  # the file may grow after stat()
        except FileNotFoundError:
            raise ValidationError(f"{what} file not found: {shown}") from None
        except IsADirectoryError:
            raise ValidationError(f"{what} path is a folder: {shown}") from None
        except OSError as exc:
            raise ValidationError(f"cannot read {what} file {shown}: {exc.strerror}") from None
    else:
        raise ValidationError(f"{what} must be bytes or a path, not {type(value).__name__}")
    if len(data) > limit:
        raise ValidationError(f"{what} is {len(data)} bytes, over the {limit}-byte limit")
    return data


def resolve_category(meta: Meta, id_or_slug: str) -> str:
    """Return the id of the category named by id or slug.

    Raises:
        ValidationError: No such category; the message lists the known slugs.
    """
    category = meta.find_category(id_or_slug)
    if category is None:
        slugs = sorted({c.slug for c in meta.iter_categories()})
        raise ValidationError(
            f"unknown category {describe(id_or_slug)}; known slugs: {', '.join(slugs) or '(none)'}"
        )
    return category.id


def resolve_tag(meta: Meta, id_or_slug: str) -> str:
    """Return the id of the tag named by id or slug; an id-shaped value is sent as given.

    The live ``/meta`` lists the tags of only a few groups (most have ``"tags": null``), so an
    id copied from the site is trusted when it has the shape of an id: the tracker, which
    knows every tag, is the judge of it.

    Raises:
        ValidationError: Neither a known id or slug nor shaped like an id.
    """
    tag = meta.find_tag(id_or_slug)
    if tag is not None:
        return tag.id
    if looks_like_id(id_or_slug):
        return id_or_slug
    raise ValidationError(
        f"unknown tag {id_or_slug[:80]!r}: neither a slug meta lists nor shaped like a tag id",
        option="meta",
        hint=(
            "list tags with client.meta(); the live tracker lists few tags, so copy the tag's "
            "id from the site if meta lacks it"
        ),
    )


@dataclass(frozen=True)
class UploadForm:
    """Every field of one upload, already checked; calling it builds a fresh multipart body.

    A new body per attempt, because an aiohttp FormData cannot be sent twice.
    """

    title: str
    category_id: str
    torrent: bytes
    filename: str
    tag_ids: Sequence[str] = ()
    description: str | None = None
    tmdb_id: str | None = None
    tmdb_type: str | None = None
    cover_url: str | None = None
    nfo: bytes | None = None

    def __call__(self) -> aiohttp.FormData:
        form = aiohttp.FormData()
        form.add_field("title", self.title)
        form.add_field("categoryId", self.category_id)
        form.add_field(
            "file", self.torrent, filename=self.filename, content_type="application/x-bittorrent"
        )
        for tag_id in self.tag_ids:
            form.add_field("tags", tag_id)
        optional = (
            ("description", self.description),
            ("tmdbId", self.tmdb_id),
            ("tmdbType", self.tmdb_type),
            ("coverUrl", self.cover_url),
        )
        for name, value in optional:
            if value is not None:
                form.add_field(name, value)
        if self.nfo is not None:
            form.add_field(
                "nfoFile",
                self.nfo,
                filename=safe_filename(self.filename.removesuffix(".torrent"), suffix=".nfo"),
                content_type="text/plain",
            )
        return form


@dataclass(frozen=True)
class UploadFields:
    """An upload's fields once checked, before any file is read or anything is sent.

    Build it with :meth:`check`; :meth:`form` resolves its slugs and makes the multipart form.
    """

    title: str
    category: str
    tags: tuple[str, ...]
    description: str | None
    tmdb_id: str | None
    tmdb_type: str | None
    cover_url: str | None
    source_policy: SourcePolicy

    @classmethod
    def check(
        cls,
        *,
        title: str,
        category: str,
        tags: Sequence[str],
        description: str | None,
        tmdb_id: int | str | None,
        tmdb_type: str | None,
        cover_url: str | None,
        source_policy: SourcePolicy | None,
        default_policy: SourcePolicy,
    ) -> UploadFields:
        """Check every field (see ``LaCaleClient.upload``), in the order the client lists them.

        Args:
            title: Each field as given to ``LaCaleClient.upload``; likewise the others.
            default_policy: The client's ``source_policy``, used when the call names none.

        Raises:
            ValidationError: The first field the tracker would refuse.
        """
        clean_title = check_title(title)
        tmdb = check_tmdb_id(tmdb_id)
        kind = check_tmdb_type(tmdb_type)
        cover = check_cover_url(cover_url)
        if not isinstance(category, str) or not category.strip():
            raise ValidationError("category must be a category id or slug")
        tag_list = check_tags(tags)
        check_text(description, "description")
        policy = default_policy if source_policy is None else check_source_policy(source_policy)
        return cls(clean_title, category, tag_list, description, tmdb, kind, cover, policy)

    async def read(
        self,
        torrent: bytes | str | os.PathLike[str],
        nfo: bytes | str | os.PathLike[str] | None,
        scrub: Scrub | None = None,
    ) -> tuple[bytes, TorrentInfo, bytes | None]:
        """Read the torrent and the NFO, and apply the source policy to the torrent.

        ``scrub`` removes the key from a path quoted in an error (see :func:`read_input`).

        Returns:
            ``(torrent bytes to upload, their TorrentInfo, NFO bytes or None)``.

        Raises:
            ValidationError: A file that cannot be read or is too large, or a torrent without
                the source flag under ``refuse``.
            InvalidTorrentError: The torrent is not well-formed.
        """
        raw = await read_input(torrent, "torrent", MAX_TORRENT_SIZE, scrub)
        nfo_bytes = await read_input(nfo, "nfo", MAX_NFO_SIZE, scrub) if nfo is not None else None
        data, info = apply_source_flag(raw, self.source_policy)
        return data, info, nfo_bytes

    def form(self, meta: Meta, torrent: bytes, info: TorrentInfo, nfo: bytes | None) -> UploadForm:
        """Return the upload's form: slugs resolved through ``meta``, ``torrent`` attached.

        Raises:
            ValidationError: An unknown category or tag (the message lists the known ones).
        """
        return UploadForm(
            title=self.title,
            category_id=resolve_category(meta, self.category),
            torrent=torrent,
            filename=safe_filename(info.name, default=self.title),
            tag_ids=tuple(resolve_tag(meta, t) for t in self.tags),
            description=self.description,
            tmdb_id=self.tmdb_id,
            tmdb_type=self.tmdb_type,
            cover_url=self.cover_url,
            nfo=nfo,
        )
