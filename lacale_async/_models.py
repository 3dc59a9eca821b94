"""Typed results of the La Cale API, and the decoders that build them (created once, reused)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from typing import Annotated, Any

import msgspec

from ._errors import ResponseError, redact_url
from ._magnet import magnet_uri
from ._options import describe
from ._validation import is_info_hash

__all__ = [
    "Category",
    "Meta",
    "Tag",
    "TagGroup",
    "Torrent",
    "UploadResult",
    "decode_meta",
    "decode_search",
    "decode_upload",
]


# The URL fields a repr passes through redact_url: either may carry a credential.
_URL_FIELDS = frozenset({"link", "download_link"})


def _redacted_fields(struct: msgspec.Struct) -> list[tuple[str, Any]]:
    """The struct's fields for a repr, each URL field with its credential parameters hidden."""
    fields = [(name, getattr(struct, name)) for name in struct.__struct_fields__]
    return [
        (name, redact_url(value) if name in _URL_FIELDS and value else value)
        for name, value in fields
    ]


def _repr(struct: msgspec.Struct) -> str:
    shown = ", ".join(f"{name}={value!r}" for name, value in _redacted_fields(struct))
    return f"{type(struct).__name__}({shown})"


# gc=False: a search answer is 50 of these, and a cache holds thousands; untracked by the
# cycle collector, they decode 5-10% faster and weigh less (benchmarks/PROFILE.md). Safe only
# while every field is atomic (str, int, datetime, None): a container field must drop it.
class Torrent(msgspec.Struct, frozen=True, rename="camel", kw_only=True, gc=False):
    """One search result.

    Attributes:
        title: Release name.
        guid: The tracker's internal id.
        size: Total size in bytes.
        pub_date: Publication time, always timezone-aware (UTC when the server omits the zone).
        link: The torrent's page on the tracker (live tracker, v1 docs), or its download URL
            (v2 docs).
        category: Category label, such as "Séries TV".
        seeders: Seeders at the time of the search.
        leechers: Leechers at the time of the search.
        info_hash: Hex info hash, the key for :meth:`LaCaleClient.download`.
        download_link: The live tracker's ``downloadLink`` (``.../api/download/<infoHash>?token=
            <JWT>``), or None where the server sends none (the documented API). Its token
            downloads the torrent without the API key until it expires, so it is a secret:
            reprs show it as ``token=***``; pass the whole ``Torrent`` to
            :meth:`LaCaleClient.download` to use it.
    """

    title: str
    guid: str
    size: int
    # tz=True makes the fast decoder refuse a naive timestamp; decode_search then falls back
    # to a lenient pass that reads it as UTC (never local time). No per-struct hook on the
    # common path.
    pub_date: Annotated[datetime, msgspec.Meta(tz=True)]
    link: str
    category: str
    seeders: int
    leechers: int
    info_hash: str
    # Live only (torrent-mate's samples recorded from the live API, 2026-05): neither
    # documentation page has it.
    download_link: str | None = None

    def __repr__(self) -> str:
        return _repr(self)

    def __rich_repr__(self) -> list[tuple[str, Any]]:
        # msgspec's generated repr (and rich's pretty printer, which reads this) would show
        # the download token; the redacted link keeps its shape visible without it. ``link``
        # too: the v2 docs make it the download URL and tell users to add ``?apikey=`` to it,
        # which a server may then send back.
        return _redacted_fields(self)

    @property
    def magnet(self) -> str:
        """Magnet URI (``xt=urn:btih:...&dn=...``) for this torrent.

        La Cale is private: a magnet carries no passkey-bearing announce URL, so clients find no
        peers with it alone, and it is no substitute for the .torrent when cross-seeding.

        Raises:
            ResponseError: The tracker sent an info hash that is not 40 or 64 hex characters.
        """
        if not is_info_hash(self.info_hash):
            raise ResponseError(
                f"the tracker sent an info hash that is not 40 or 64 hexadecimal characters "
                f"for {describe(self.title)}: {describe(self.info_hash)}"
            )
        return magnet_uri(self.info_hash, self.title)


class Tag(msgspec.Struct, frozen=True, rename="camel", kw_only=True):
    """A tag an upload can carry (send its ``id``)."""

    id: str
    name: str
    slug: str


class TagGroup(msgspec.Struct, frozen=True, rename="camel", kw_only=True):
    """A named group of tags, such as "Qualité vidéo"."""

    id: str
    name: str
    slug: str | None = None
    order: int | None = None
    tags: tuple[Tag, ...] = ()


class Category(msgspec.Struct, frozen=True, rename="camel", kw_only=True):
    """A category; parents list their ``children``, leaves have none."""

    id: str
    name: str
    slug: str
    icon: str | None = None
    parent_id: str | None = None
    children: tuple[Category, ...] = ()

    def walk(self) -> Iterator[Category]:
        """Yield this category, then every descendant, depth first."""
        yield self
        for child in self.children:
            yield from child.walk()


class Meta(msgspec.Struct, frozen=True, rename="camel", kw_only=True):
    """Categories and tags, as needed to fill an upload or a ``cat`` filter."""

    categories: tuple[Category, ...] = ()
    tag_groups: tuple[TagGroup, ...] = ()
    ungrouped_tags: tuple[Tag, ...] = ()

    def iter_categories(self) -> Iterator[Category]:
        """Yield every category, parents before their children."""
        for category in self.categories:
            yield from category.walk()

    def iter_tags(self) -> Iterator[Tag]:
        """Yield every tag, grouped ones first."""
        for group in self.tag_groups:
            yield from group.tags
        yield from self.ungrouped_tags

    def find_category(self, id_or_slug: str) -> Category | None:
        """Return the category whose id or slug is ``id_or_slug`` (ids win), or None."""
        by_slug = None
        for category in self.iter_categories():
            if category.id == id_or_slug:
                return category
            if by_slug is None and category.slug == id_or_slug:
                by_slug = category
        return by_slug

    def find_tag(self, id_or_slug: str) -> Tag | None:
        """Return the tag whose id or slug is ``id_or_slug`` (ids win), or None."""
        by_slug = None
        for tag in self.iter_tags():
            if tag.id == id_or_slug:
                return tag
            if by_slug is None and tag.slug == id_or_slug:
                by_slug = tag
        return by_slug


class UploadResult(msgspec.Struct, frozen=True, rename="camel", kw_only=True):
    """What the tracker answered to an upload, plus what the SDK actually sent.

    Attributes:
        success: Always True here (``success: false`` raises UploadRejectedError).
        id: The new torrent's id.
        slug: The new torrent's slug.
        link: Its page on the tracker.
        info_hash: Info hash of the torrent bytes that were uploaded (after the source flag was
            applied): the hash the uploader must seed.
        torrent: The exact .torrent bytes that were uploaded; save these to seed.
    """

    success: bool
    id: str | None = None
    slug: str | None = None
    link: str | None = None
    info_hash: str | None = None
    torrent: bytes | None = None

    def __repr__(self) -> str:
        return _repr(self)

    def __rich_repr__(self) -> list[tuple[str, Any]]:
        # The tracker's text: a ``link`` that echoes the ``?passkey=`` or ``?apikey=`` the
        # upload was sent with is shown redacted, as a search result's is.
        return _redacted_fields(self)


def without_secrets(torrent: Torrent, scrub: Callable[[str], str] = redact_url) -> Torrent:
    """Return ``torrent`` as it may be kept outside the process (a file, Redis).

    Its download link goes (the token is a credential; a kept result downloads by the
    documented path, with the key) and ``scrub`` removes any key the tracker echoed in its link.
    """
    return msgspec.structs.replace(torrent, link=scrub(torrent.link), download_link=None)


# Peers in the field send `"children": null` on leaf categories and `"tags": null` on groups,
# which the public structs' tuple types reject; these wire twins accept null, and _to_* folds it.
class _WireCategory(msgspec.Struct, rename="camel", kw_only=True):
    id: str
    name: str
    slug: str
    icon: str | None = None
    parent_id: str | None = None
    children: list[_WireCategory] | None = None


class _WireTagGroup(msgspec.Struct, rename="camel", kw_only=True):
    id: str
    name: str
    slug: str | None = None
    order: int | None = None
    tags: list[Tag] | None = None


class _WireMeta(msgspec.Struct, rename="camel", kw_only=True):
    # Required: a 200 without it (a JSON error object during an outage) is not a meta answer,
    # and decoding it as an empty Meta had it cached for an hour.
    categories: list[_WireCategory]
    tag_groups: list[_WireTagGroup] | None = None
    ungrouped_tags: list[Tag] | None = None


# The tracker's tree is 3 levels deep. Far deeper is a hostile answer, and every recursive
# walk of it (walk(), a repr, the CLI's JSON) would hit Python's recursion limit.
MAX_CATEGORY_DEPTH = 32


def _to_category(wire: _WireCategory, depth: int = 1) -> Category:
    if depth > MAX_CATEGORY_DEPTH:
        raise msgspec.ValidationError(
            f"the category tree is deeper than {MAX_CATEGORY_DEPTH} levels"
        )
    return Category(
        id=wire.id,
        name=wire.name,
        slug=wire.slug,
        icon=wire.icon,
        parent_id=wire.parent_id,
        children=tuple(_to_category(c, depth + 1) for c in wire.children or ()),
    )


class _WireUpload(msgspec.Struct, rename="camel", kw_only=True):
    success: bool
    # Text in both documentations (a cuid); a number is taken too: the upload went through,
    # and refusing its answer would report an outcome the tracker did say.
    id: str | int | None = None
    slug: str | None = None
    link: str | None = None
    error: str | None = None
    message: str | None = None


class _LenientTorrent(msgspec.Struct, rename="camel", kw_only=True):
    title: str
    guid: str
    size: int
    pub_date: datetime
    link: str
    category: str
    seeders: int
    leechers: int
    info_hash: str
    download_link: str | None = None


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=timezone.utc)


# Tuples: the client caches and shares answers, so they are decoded straight into an
# immutable container (no copy on the way to the cache).
_SEARCH_DECODER = msgspec.json.Decoder(tuple[Torrent, ...])
_LENIENT_SEARCH_DECODER = msgspec.json.Decoder(tuple[_LenientTorrent, ...])
_META_DECODER = msgspec.json.Decoder(_WireMeta)
_UPLOAD_DECODER = msgspec.json.Decoder(_WireUpload)


def decode_search(body: bytes) -> tuple[Torrent, ...]:
    """Decode a search answer.

    Raises:
        msgspec.DecodeError: The body is not JSON or not a list of torrents (the transport
            turns this into a ResponseError).
    """
    try:
        return _SEARCH_DECODER.decode(body)
    except msgspec.ValidationError:
        # Maybe only naive dates; anything else fails again below with the real message.
        lenient = _LENIENT_SEARCH_DECODER.decode(body)
    return tuple(
        Torrent(
            title=t.title,
            guid=t.guid,
            size=t.size,
            pub_date=_aware(t.pub_date),
            link=t.link,
            category=t.category,
            seeders=t.seeders,
            leechers=t.leechers,
            info_hash=t.info_hash,
            download_link=t.download_link,
        )
        for t in lenient
    )


def decode_meta(body: bytes) -> Meta:
    """Decode a meta answer, folding ``null`` children and tags into empty tuples.

    Raises:
        msgspec.DecodeError: The body is not JSON or not the meta shape.
        msgspec.ValidationError: The category tree is deeper than :data:`MAX_CATEGORY_DEPTH`.
    """
    wire = _META_DECODER.decode(body)
    return Meta(
        categories=tuple(_to_category(c) for c in wire.categories or ()),
        tag_groups=tuple(
            TagGroup(id=g.id, name=g.name, slug=g.slug, order=g.order, tags=tuple(g.tags or ()))
            for g in wire.tag_groups or ()
        ),
        ungrouped_tags=tuple(wire.ungrouped_tags or ()),
    )


def decode_upload(body: bytes) -> tuple[UploadResult, str]:
    """Decode an upload answer into the result and the server's message ("" when none).

    ``success`` may be false; the caller decides what that means.

    Raises:
        msgspec.DecodeError: The body is not JSON or not the upload shape.
    """
    wire = _UPLOAD_DECODER.decode(body)
    ident = None if wire.id is None else str(wire.id)
    result = UploadResult(success=wire.success, id=ident, slug=wire.slug, link=wire.link)
    return result, wire.error or wire.message or ""
