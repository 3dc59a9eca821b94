"""The tracker's categories and tags, as ``/api/external/meta`` describes them."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from ._ids import stable_cuid

__all__ = ["Category", "Tag", "TagGroup", "Taxonomy", "build_taxonomy"]


@dataclass(frozen=True, slots=True)
class Category:
    """A category: a parent ("Vidéo") or one of its leaves ("Films").

    Attributes:
        id: The cuid-like id uploads send as ``categoryId``.
        name: The label, also the ``category`` field of search results.
        slug: What search takes in ``cat``.
        icon: A lucide icon name for parents, None for leaves.
        parent_id: The parent's id, None for a parent.
    """

    id: str
    name: str
    slug: str
    icon: str | None
    parent_id: str | None


@dataclass(frozen=True, slots=True)
class Tag:
    """A tag uploads can attach by id."""

    id: str
    name: str
    slug: str


@dataclass(frozen=True, slots=True)
class TagGroup:
    """A named, ordered group of tags ("Genres", "Langues"...)."""

    id: str
    name: str
    slug: str
    order: int
    tags: tuple[Tag, ...]


# (parent name, parent slug, icon, ((leaf name, leaf slug), ...)): the v1 doc's list of slugs.
# "h-t-ro" is the site's real slug for "Hétéro" (its slugifier dropped the accented letters).
_CATEGORIES: tuple[tuple[str, str, str, tuple[tuple[str, str], ...]], ...] = (
    (
        "Vidéo",
        "video",
        "Film",
        (("Films", "films"), ("Séries TV", "series"), ("Spectacles", "spectacles")),
    ),
    ("Audio", "audio", "Music", (("Musique", "music"), ("Audio divers", "audio-divers"))),
    (
        "Jeux",
        "jeux",
        "Gamepad2",
        (("Jeux PC", "pc"), ("Jeux consoles", "consoles"), ("Jeux mobiles", "jeux-mobiles")),
    ),
    (
        "Applications",
        "applications",
        "AppWindow",
        (("Systèmes", "systemes"), ("Logiciels", "software")),
    ),
    (
        "E-books",
        "ebooks",
        "BookOpen",
        (
            ("Romans", "romans"),
            ("BD", "bd"),
            ("Documentaires", "documentaires"),
            ("Livres", "livres"),
            ("Presse", "presse"),
            ("Éducation", "education"),
        ),
    ),
    (
        "XXX",
        "xxx",
        "EyeOff",
        (("Hétéro", "h-t-ro"), ("Gay", "gay"), ("Lesbien", "lesbien"), ("Trans", "trans")),
    ),
    ("Autre", "autre", "Package", (("Divers", "divers"),)),
)

# (group name, group slug, order, ((tag name, tag slug), ...)); an empty group is kept on
# purpose: it is the one peers have been seen to send as ``"tags": null``.
_TAG_GROUPS: tuple[tuple[str, str, int, tuple[tuple[str, str], ...]], ...] = (
    (
        "Qualité vidéo",
        "qualite-video",
        10,
        (("2160p", "2160p"), ("1080p", "1080p"), ("720p", "720p"), ("SD", "sd")),
    ),
    ("Codec vidéo", "codec-video", 20, (("x264", "x264"), ("x265", "x265"), ("AV1", "av1"))),
    (
        "Genres",
        "genres",
        30,
        (
            ("Action", "action"),
            ("Animation", "animation"),
            ("Comédie", "comedie"),
            ("Drame", "drame"),
            ("Horreur", "horreur"),
            ("Science-fiction", "science-fiction"),
            ("Thriller", "thriller"),
        ),
    ),
    (
        "Langues",
        "langues",
        40,
        (("VFF", "vff"), ("VFQ", "vfq"), ("VOSTFR", "vostfr"), ("MULTi", "multi"), ("VO", "vo")),
    ),
    (
        "Source",
        "source",
        50,
        (("BluRay", "bluray"), ("WEB-DL", "web-dl"), ("WEBRip", "webrip"), ("HDTV", "hdtv")),
    ),
    ("Format audio", "format-audio", 60, (("FLAC", "flac"), ("MP3", "mp3"), ("AAC", "aac"))),
    ("Archives", "archives", 90, ()),
)

_UNGROUPED: tuple[tuple[str, str], ...] = (("Coup de cœur", "coup-de-coeur"), ("Rétro", "retro"))


@dataclass(frozen=True, slots=True)
class Taxonomy:
    """Every category and tag, with the lookups the handlers need.

    Attributes:
        parents: The top-level categories, in display order.
        children: Leaf categories by parent id, in display order.
        tag_groups: Tag groups sorted by ``order``.
        ungrouped_tags: Tags outside any group.
    """

    parents: tuple[Category, ...]
    children: dict[str, tuple[Category, ...]]
    tag_groups: tuple[TagGroup, ...]
    ungrouped_tags: tuple[Tag, ...]

    def categories(self) -> Iterator[Category]:
        """Yield every category, each parent followed by its leaves."""
        for parent in self.parents:
            yield parent
            yield from self.children[parent.id]

    def leaves(self) -> tuple[Category, ...]:
        """Return every leaf category, in display order."""
        return tuple(leaf for parent in self.parents for leaf in self.children[parent.id])

    def by_slug(self, slug: str) -> Category | None:
        """Return the category with this slug, or None."""
        return next((c for c in self.categories() if c.slug == slug), None)

    def by_id(self, category_id: str) -> Category | None:
        """Return the category with this id, or None."""
        return next((c for c in self.categories() if c.id == category_id), None)

    def covered_ids(self, category: Category) -> frozenset[str]:
        """Return the ids a search on ``category`` matches: itself and, for a parent, its leaves."""
        return frozenset({category.id, *(c.id for c in self.children.get(category.id, ()))})

    def tag_ids(self) -> frozenset[str]:
        """Return the id of every tag, grouped or not."""
        grouped = (t.id for g in self.tag_groups for t in g.tags)
        return frozenset({*grouped, *(t.id for t in self.ungrouped_tags)})

    def tag_by_slug(self, slug: str) -> Tag | None:
        """Return the tag with this slug, or None."""
        every = (*(t for g in self.tag_groups for t in g.tags), *self.ungrouped_tags)
        return next((t for t in every if t.slug == slug), None)


def _tag(name: str, slug: str) -> Tag:
    return Tag(id=stable_cuid("tag", slug), name=name, slug=slug)


def build_taxonomy() -> Taxonomy:
    """Build the sandbox's categories and tags (the same every time).

    Returns:
        The :class:`Taxonomy`, with ids that never change between runs or seeds.
    """
    parents: list[Category] = []
    children: dict[str, tuple[Category, ...]] = {}
    for name, slug, icon, leaves in _CATEGORIES:
        parent = Category(stable_cuid("category", slug), name, slug, icon, None)
        parents.append(parent)
        children[parent.id] = tuple(
            Category(stable_cuid("category", leaf_slug), leaf_name, leaf_slug, None, parent.id)
            for leaf_name, leaf_slug in leaves
        )
    groups = tuple(
        TagGroup(
            id=stable_cuid("tag-group", slug),
            name=name,
            slug=slug,
            order=order,
            tags=tuple(_tag(tag_name, tag_slug) for tag_name, tag_slug in tags),
        )
        for name, slug, order, tags in sorted(_TAG_GROUPS, key=lambda g: g[2])
    )
    return Taxonomy(
        parents=tuple(parents),
        children=children,
        tag_groups=groups,
        ungrouped_tags=tuple(_tag(name, slug) for name, slug in _UNGROUPED),
    )
