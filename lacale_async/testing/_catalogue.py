"""The sandbox's torrents: a seeded, deterministic catalogue plus whatever gets uploaded."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone

from .._errors import ValidationError
from ._docs_taxonomy import docs_taxonomy
from ._ids import cuid_at, cuid_from_rng, page_id, slugify, xid_at
from ._live_taxonomy import live_taxonomy
from ._releases import make_release
from ._taxonomy import Category, Profile, Taxonomy
from ._torrentfile import build_torrent

__all__ = ["Catalogue", "CatalogueTorrent", "format_pub_date", "taxonomy_for"]

# The newest catalogue torrent is published at this instant (2025-11-15T12:00:00Z); the others
# are spread over the two years before it. A fixed anchor keeps the catalogue reproducible.
_NEWEST_MS = 1_763_208_000_000
_SPAN_MS = 730 * 86_400_000
# The live catalogue spans the tracker's recorded life: December 2025 (the first cuid-shaped
# ids) to 2026-04-30T12:00:00Z; from 2026-01-02 its guids are xids minted at publication.
_LIVE_NEWEST_MS = 1_777_550_400_000
_LIVE_SPAN_MS = 150 * 86_400_000
_LIVE_XID_FROM_MS = 1_767_312_000_000
# Every UNAPPROVED_EVERY-th torrent (offset 7) waits for moderation: never searchable.
_UNAPPROVED_EVERY = 20
_UNAPPROVED_OFFSET = 7


def format_pub_date(epoch_ms: int) -> str:
    """Return ``epoch_ms`` as the API's ``pubDate``: ISO 8601, milliseconds, ``Z``.

    Args:
        epoch_ms: Milliseconds since the Unix epoch.

    Returns:
        Text like ``2025-01-12T10:00:00.000Z``.
    """
    moment = datetime.fromtimestamp(epoch_ms / 1000, tz=timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{epoch_ms % 1000:03d}Z"


def taxonomy_for(profile: Profile) -> Taxonomy:
    """Return the categories and tags of ``profile`` (``live`` or ``docs``)."""
    return docs_taxonomy() if profile == "docs" else live_taxonomy()


def _live_guid(published_ms: int, rng: random.Random) -> str:
    # Recorded: cuids until the first days of 2026, then xids whose time is the publication's.
    if published_ms < _LIVE_XID_FROM_MS:
        return cuid_at(published_ms, rng)
    return xid_at(published_ms // 1000, rng)


@dataclass(frozen=True, slots=True)
class CatalogueTorrent:
    """One torrent the sandbox knows, from the seeded catalogue or an upload.

    Attributes:
        guid: The internal id (``guid`` in search results, ``id`` in upload answers).
        title: The title shown in search results.
        slug: The URL slug of the torrent page.
        category: The category it was published in.
        size: Total payload size in bytes.
        seeders: Current seeders.
        leechers: Current leechers.
        published_ms: Publication time, milliseconds since the Unix epoch.
        info_hash: The v1 info hash (40 hex), or the v2 one (64 hex) for a pure v2 torrent.
        data: The .torrent file served by the download endpoint.
        approved: False while waiting for moderation: never searchable nor downloadable.
        tmdb_id: TMDB id, for films and series.
        tmdb_type: ``"MOVIE"`` or ``"TV"``.
        tag_ids: Ids of the attached tags.
        other_hashes: Further info hashes the torrent answers to (the v2 hash of a hybrid).
    """

    guid: str
    title: str
    slug: str
    category: Category
    size: int
    seeders: int
    leechers: int
    published_ms: int
    info_hash: str
    data: bytes
    approved: bool = True
    tmdb_id: str | None = None
    tmdb_type: str | None = None
    tag_ids: tuple[str, ...] = ()
    other_hashes: tuple[str, ...] = ()

    @property
    def pub_date(self) -> str:
        """Return the publication date as the API formats it."""
        return format_pub_date(self.published_ms)

    def __repr__(self) -> str:
        # The default repr would dump the whole .torrent file.
        return (
            f"CatalogueTorrent(guid={self.guid!r}, title={self.title!r},"
            f" info_hash={self.info_hash!r})"
        )


class Catalogue:
    """Every torrent the sandbox serves, indexed by info hash.

    Build one with :meth:`generate`; the same seed and size always give the same torrents,
    ids, dates and info hashes.

    Attributes:
        taxonomy: Categories and tags.
        seed: The seed it was generated from.
    """

    def __init__(self, taxonomy: Taxonomy, seed: int) -> None:
        self.taxonomy = taxonomy
        self.seed = seed
        self._torrents: list[CatalogueTorrent] = []
        self._by_hash: dict[str, CatalogueTorrent] = {}
        self._generated = 0

    @classmethod
    def generate(cls, seed: int = 0, size: int = 300, profile: Profile = "live") -> Catalogue:
        """Build a catalogue of ``size`` torrents from ``seed``.

        The first torrents cover every category of the taxonomy's catalogue mix once; the rest
        follow its weights, and one in twenty of them is left unapproved.

        Args:
            seed: Seed of the only random generator involved.
            size: Number of torrents, approved or not.
            profile: Whose categories (``live`` or ``docs``) the torrents are published in.

        Returns:
            The new catalogue.
        """
        taxonomy = taxonomy_for(profile)
        catalogue = cls(taxonomy, seed)
        rng = random.Random(seed)
        mix = [
            (category, kind, weight)
            for slug, kind, weight in taxonomy.catalogue_mix
            if (category := taxonomy.by_slug(slug)) is not None
        ]
        weights = [weight for _, _, weight in mix]
        for index in range(size):
            category, kind, _ = mix[index] if index < len(mix) else rng.choices(mix, weights)[0]
            # The first pass over the categories stays approved so every one is searchable.
            approved = index < len(mix) or index % _UNAPPROVED_EVERY != _UNAPPROVED_OFFSET
            catalogue.add(catalogue._draw(rng, category, kind, approved))
        catalogue._generated = size
        return catalogue

    def _draw(
        self, rng: random.Random, category: Category, kind: str, approved: bool
    ) -> CatalogueTorrent:
        release = make_release(kind, rng)
        live = self.taxonomy.profile == "live"
        docs_guid = None if live else cuid_from_rng(rng)
        newest, span = (_LIVE_NEWEST_MS, _LIVE_SPAN_MS) if live else (_NEWEST_MS, _SPAN_MS)
        published_ms = newest - rng.randrange(span)
        root = release.files[0][0] if len(release.files) == 1 else release.title
        built = build_torrent(
            root,
            release.files,
            rng=rng,
            creation_date=published_ms // 1000 - rng.randint(60, 86_400),
        )
        tags = tuple(
            tag.id
            for slug in release.tag_slugs
            if (tag := self.taxonomy.tag_by_slug(slug)) is not None
        )
        guid = docs_guid or _live_guid(published_ms, rng)
        return CatalogueTorrent(
            guid=guid,
            title=release.title,
            slug=page_id(guid) if live else f"{slugify(release.title)}-{guid[-6:]}",
            category=category,
            size=release.size,
            seeders=int(rng.expovariate(1 / 30)),
            leechers=int(rng.expovariate(1 / 4)),
            published_ms=published_ms,
            info_hash=built.info_hash,
            data=built.data,
            approved=approved,
            tmdb_id=release.tmdb_id,
            tmdb_type=release.tmdb_type,
            tag_ids=tags,
        )

    def __len__(self) -> int:
        return len(self._torrents)

    def __iter__(self) -> Iterator[CatalogueTorrent]:
        return iter(self._torrents)

    def __repr__(self) -> str:
        return f"Catalogue(seed={self.seed}, torrents={len(self._torrents)})"

    @property
    def newest_ms(self) -> int:
        """Return the publication time of the newest torrent (0 when empty)."""
        return max((t.published_ms for t in self._torrents), default=0)

    def get(self, info_hash: str) -> CatalogueTorrent | None:
        """Return the torrent with this info hash (any case, v1 or v2), or None."""
        return self._by_hash.get(info_hash.lower())

    def add(self, torrent: CatalogueTorrent) -> None:
        """Add a torrent (an upload, or a hand-made entry in a test).

        Args:
            torrent: The torrent; its hashes must not be in the catalogue yet.

        Raises:
            ValidationError: One of its info hashes is already there.
        """
        hashes = [torrent.info_hash.lower(), *(h.lower() for h in torrent.other_hashes)]
        if any(h in self._by_hash for h in hashes):
            raise ValidationError(f"info hash {torrent.info_hash} is already in the catalogue")
        self._torrents.append(torrent)
        for h in hashes:
            self._by_hash[h] = torrent

    def truncate_to_generated(self) -> None:
        """Drop every torrent added after generation (uploads), back to the seeded state."""
        for torrent in self._torrents[self._generated :]:
            for h in (torrent.info_hash, *torrent.other_hashes):
                self._by_hash.pop(h.lower(), None)
        del self._torrents[self._generated :]
