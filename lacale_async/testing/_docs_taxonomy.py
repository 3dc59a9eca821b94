"""The ``docs`` profile's categories and tags: the v1 documentation's slugs, two levels."""

from __future__ import annotations

from ._taxonomy import CategorySpec, IdShape, TagGroupSpec, Taxonomy, make_taxonomy

__all__ = ["docs_taxonomy"]


def _leaves(*pairs: tuple[str, str]) -> tuple[CategorySpec, ...]:
    return tuple(CategorySpec(name, slug) for name, slug in pairs)


# The v1 doc's "Available Categories". "h-t-ro" is the site's real slug for "Hétéro" (its
# slugifier turns accented letters into dashes).
_CATEGORIES = (
    CategorySpec(
        "Vidéo",
        "video",
        "Film",
        children=_leaves(("Films", "films"), ("Séries TV", "series"), ("Spectacles", "spectacles")),
    ),
    CategorySpec(
        "Audio",
        "audio",
        "Music",
        children=_leaves(("Musique", "music"), ("Audio divers", "audio-divers")),
    ),
    CategorySpec(
        "Jeux",
        "jeux",
        "Gamepad2",
        children=_leaves(
            ("Jeux PC", "pc"), ("Jeux consoles", "consoles"), ("Jeux mobiles", "jeux-mobiles")
        ),
    ),
    CategorySpec(
        "Applications",
        "applications",
        "AppWindow",
        children=_leaves(("Systèmes", "systemes"), ("Logiciels", "software")),
    ),
    CategorySpec(
        "E-books",
        "ebooks",
        "BookOpen",
        children=_leaves(
            ("Romans", "romans"),
            ("BD", "bd"),
            ("Documentaires", "documentaires"),
            ("Livres", "livres"),
            ("Presse", "presse"),
            ("Éducation", "education"),
        ),
    ),
    CategorySpec(
        "XXX",
        "xxx",
        "EyeOff",
        children=_leaves(
            ("Hétéro", "h-t-ro"), ("Gay", "gay"), ("Lesbien", "lesbien"), ("Trans", "trans")
        ),
    ),
    CategorySpec("Autre", "autre", "Package", children=_leaves(("Divers", "divers"))),
)


def _tags(*pairs: tuple[str, str]) -> tuple[tuple[str, str | None, IdShape], ...]:
    return tuple((name, slug, "cuid") for name, slug in pairs)


# An empty group is kept on purpose: it is the one the ``quirks`` option sends as "tags": null.
_TAG_GROUPS = (
    TagGroupSpec(
        "Qualité vidéo",
        10,
        _tags(("2160p", "2160p"), ("1080p", "1080p"), ("720p", "720p"), ("SD", "sd")),
        "qualite-video",
    ),
    TagGroupSpec(
        "Codec vidéo", 20, _tags(("x264", "x264"), ("x265", "x265"), ("AV1", "av1")), "codec-video"
    ),
    TagGroupSpec(
        "Genres",
        30,
        _tags(
            ("Action", "action"),
            ("Animation", "animation"),
            ("Comédie", "comedie"),
            ("Drame", "drame"),
            ("Horreur", "horreur"),
            ("Science-fiction", "science-fiction"),
            ("Thriller", "thriller"),
        ),
        "genres",
    ),
    TagGroupSpec(
        "Langues",
        40,
        _tags(
            ("VFF", "vff"), ("VFQ", "vfq"), ("VOSTFR", "vostfr"), ("MULTi", "multi"), ("VO", "vo")
        ),
        "langues",
    ),
    TagGroupSpec(
        "Source",
        50,
        _tags(("BluRay", "bluray"), ("WEB-DL", "web-dl"), ("WEBRip", "webrip"), ("HDTV", "hdtv")),
        "source",
    ),
    TagGroupSpec(
        "Format audio", 60, _tags(("FLAC", "flac"), ("MP3", "mp3"), ("AAC", "aac")), "format-audio"
    ),
    TagGroupSpec("Archives", 90, (), "archives"),
)

_UNGROUPED = _tags(("Coup de cœur", "coup-de-coeur"), ("Rétro", "retro"))

# Share of the catalogue per leaf once each has its first torrent: video and music dominate.
_MIX = tuple(
    (slug, slug, weight)
    for slug, weight in (
        ("films", 40),
        ("series", 45),
        ("spectacles", 6),
        ("music", 25),
        ("audio-divers", 6),
        ("pc", 14),
        ("consoles", 10),
        ("jeux-mobiles", 5),
        ("systemes", 8),
        ("software", 12),
        ("romans", 12),
        ("bd", 10),
        ("documentaires", 5),
        ("livres", 5),
        ("presse", 10),
        ("education", 5),
        ("h-t-ro", 4),
        ("gay", 2),
        ("lesbien", 2),
        ("trans", 2),
        ("divers", 5),
    )
)


def docs_taxonomy() -> Taxonomy:
    """Return the documented taxonomy (ids depend on slugs only)."""
    return make_taxonomy("docs", _CATEGORIES, _TAG_GROUPS, _UNGROUPED, _MIX)
