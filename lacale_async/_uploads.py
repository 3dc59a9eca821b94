"""Preparing an upload: reading its files, resolving slugs, building the multipart form."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

import aiohttp
import anyio

from ._errors import ValidationError
from ._files import safe_filename
from ._models import Meta

__all__ = ["UploadForm", "read_input", "resolve_category", "resolve_tag"]


async def read_input(value: bytes | str | os.PathLike[str], what: str, limit: int) -> bytes:
    """Return bytes given directly, or read from a path, refusing what cannot be a valid file.

    Raises:
        ValidationError: Not bytes or a path, missing, unreadable, or larger than ``limit``.
    """
    if isinstance(value, (bytes, bytearray, memoryview)):
        data = bytes(value)
    elif isinstance(value, (str, os.PathLike)):
        shown = os.fspath(value)
        path = anyio.Path(shown)
        try:
            if (await path.stat()).st_size > limit:
                raise ValidationError(f"{what} file {shown!r} is over {limit} bytes")
            data = await path.read_bytes()
        except FileNotFoundError:
            raise ValidationError(f"{what} file not found: {shown!r}") from None
        except IsADirectoryError:
            raise ValidationError(f"{what} path is a folder: {shown!r}") from None
        except OSError as exc:
            raise ValidationError(f"cannot read {what} file {shown!r}: {exc.strerror}") from None
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
            f"unknown category {id_or_slug!r}; known slugs: {', '.join(slugs) or '(none)'}"
        )
    return category.id


def resolve_tag(meta: Meta, id_or_slug: str) -> str:
    """Return the id of the tag named by id or slug.

    Raises:
        ValidationError: No such tag.
    """
    tag = meta.find_tag(id_or_slug)
    if tag is None:
        raise ValidationError(
            f"unknown tag {id_or_slug!r}",
            option="meta",
            hint="list tags with client.meta() (ids or slugs accepted)",
        )
    return tag.id


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
                filename=safe_filename(self.filename, suffix=".nfo"),
                content_type="text/plain",
            )
        return form
