"""New releases on demand: what ``SandboxServer.publish`` and ``drip`` add to the catalogue.

A published release is what an uploader's torrent becomes once approved: a real .torrent of
its own (a fresh info hash), a guid and page id shaped like the profile's tracker makes them,
and a publication date that sorts it before everything already listed.
"""

from __future__ import annotations

import random

from .._errors import ValidationError
from .._options import describe
from .._validation import check_text, check_tmdb_id
from ._catalogue import CatalogueTorrent
from ._checks import MAX_INT64, check_optional_count
from ._ids import cuid_from_rng, page_id, slugify, xid_at
from ._releases import Release, make_release
from ._state import SandboxState
from ._taxonomy import Category
from ._torrentfile import build_torrent

__all__ = ["add_published", "identity", "new_release"]

_GB = 1024**3
_FILE_UNSAFE = str.maketrans({"/": "-", "\\": "-", "\x00": ""})


def identity(state: SandboxState, title: str, info_hash: str, salt: str) -> tuple[str, str]:
    """Return a new torrent's guid and page slug, the way the profile's tracker makes them.

    Args:
        state: The sandbox.
        title: The release's title.
        info_hash: Its info hash.
        salt: What makes this torrent's draw its own (``upload:3``, ``publish:7``).
    """
    rng = random.Random(f"{state.config.seed}:{salt}:{info_hash}")
    if state.config.profile == "live":
        # Live: an xid minted now, and a page id of its own (torrent-mate's samples).
        guid = xid_at(int(state.config.wall_clock()), rng)
        return guid, page_id(guid)
    guid = cuid_from_rng(rng)
    return guid, f"{slugify(title)}-{guid[-6:]}"


def _category(state: SandboxState, wanted: str | None, rng: random.Random) -> tuple[Category, str]:
    """Return the category (by slug or id; drawn by the catalogue's weights when None) and
    the kind of release that goes in it."""
    taxonomy = state.catalogue.taxonomy
    mix = taxonomy.catalogue_mix
    if wanted is None:
        slug, kind, _ = rng.choices(mix, [weight for _, _, weight in mix])[0]
        found = taxonomy.by_slug(slug)
    else:
        found = taxonomy.by_slug(wanted) or taxonomy.by_id(wanted)
        kind = next((k for s, k, _ in mix if found is not None and s == found.slug), "divers")
    if found is None:
        raise ValidationError(f"the sandbox has no category {describe(wanted)} (a slug or an id)")
    return found, kind


def new_release(
    state: SandboxState,
    title: str | None,
    *,
    category: str | None,
    size: int | None,
    seeders: int | None,
    tmdb_id: str | None,
) -> CatalogueTorrent:
    """Build a new approved release (not added to the catalogue).

    Args:
        state: The sandbox (its seed makes the draw reproducible).
        title: The release's title; None draws one like the catalogue's.
        category: A category slug or id; None: ``films`` for a titled release, else drawn.
        size: Bytes; None draws a size.
        seeders: Seeders; None draws a number.
        tmdb_id: A TMDB id (digits), or None (a drawn film or series has its own).

    Raises:
        ValidationError: An unknown category, an empty title, a negative size; an argument
            of the wrong type, text with lone surrogates, a tmdb_id that is not digits.
    """
    number = state.published
    rng = random.Random(f"{state.config.seed}:publish:{number}")
    # Checked before use: title=5 raised a raw AttributeError, a lone surrogate a raw
    # UnicodeEncodeError from the torrent's bencoding.
    title = check_text(title, "title")
    if title is not None and not title.strip():
        raise ValidationError("a published release needs a non-empty title")
    check_text(category, "category")
    check_optional_count(size, "size", most=MAX_INT64)
    check_optional_count(seeders, "seeders", most=MAX_INT64)
    tmdb_id = check_tmdb_id(tmdb_id)
    wanted = "films" if category is None and title is not None else category
    found, kind = _category(state, wanted, rng)
    release = make_release(kind, rng)
    if title is not None:
        length = size if size is not None else rng.randint(1 * _GB, 8 * _GB)
        release = Release(title, ((f"{title.translate(_FILE_UNSAFE)}.mkv", length),))
    root = release.files[0][0] if len(release.files) == 1 else release.title
    published_ms = state.next_published_ms()
    built = build_torrent(root, release.files, rng=rng, creation_date=published_ms // 1000)
    guid, slug = identity(state, release.title, built.info_hash, f"publish:{number}")
    state.published += 1
    return CatalogueTorrent(
        guid=guid,
        title=release.title,
        slug=slug,
        category=found,
        size=release.size if size is None else size,
        seeders=int(rng.expovariate(1 / 30)) if seeders is None else seeders,
        leechers=int(rng.expovariate(1 / 4)),
        published_ms=published_ms,
        info_hash=built.info_hash,
        data=built.data,
        tmdb_id=tmdb_id if tmdb_id is not None else release.tmdb_id,
        tmdb_type=release.tmdb_type if tmdb_id is None else ("TV" if kind == "series" else "MOVIE"),
    )


def add_published(state: SandboxState, torrent: CatalogueTorrent, delay: float) -> None:
    """Add ``torrent`` to the catalogue now, or once the sandbox clock has moved ``delay`` on.

    Either way its publication date is the moment it appears, so it sorts first.
    """
    if delay > 0:
        state.schedule(state.clock.now() + delay, torrent)
        return
    state.publish_now(torrent)
