"""The tracker's categories and tags, as ``/api/external/meta`` describes them, per profile.

Two taxonomies: ``docs`` (the v1 documentation's list of slugs, two levels) and ``live`` (the
shape recorded from the live tracker, three levels; see :mod:`._live_taxonomy`). Both are built
from the same small specs, with ids that depend only on the slug, never on the catalogue seed.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Literal

from ._ids import live_slugify, stable_cuid, stable_uuid, stable_xid

__all__ = [
    "Category",
    "CategorySpec",
    "IdShape",
    "Profile",
    "Tag",
    "TagGroup",
    "TagGroupSpec",
    "Taxonomy",
    "make_taxonomy",
]

Profile = Literal["live", "docs"]
"""``live``: what the live tracker answers (recorded by peers in 2026). ``docs``: what its two
documentation pages say."""

IdShape = Literal["cuid", "xid", "uuid"]
"""The three id shapes of the live tracker: 25-character cuid, 20-character xid, UUID."""


@dataclass(frozen=True, slots=True)
class Category:
    """A category: a root ("Vidéo"), an inner node ("Musique") or a leaf ("FLAC").

    Attributes:
        id: The id uploads send as ``categoryId``.
        name: The label, also the ``category`` field of search results.
        slug: What search takes in ``cat``.
        icon: A lucide icon name for roots, None below.
        parent_id: The parent's id, None for a root.
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
    """A named, ordered group of tags ("Genres", "Langues"...).

    Attributes:
        listed: Whether ``/meta`` lists the tags; the live tracker sends ``"tags": null`` for
            most groups, yet accepts their tags' ids on upload.
    """

    id: str
    name: str
    slug: str
    order: int
    tags: tuple[Tag, ...]
    listed: bool = True


@dataclass(frozen=True, slots=True)
class CategorySpec:
    """How one category is written down: name, slug (derived when None), icon, children."""

    name: str
    slug: str | None = None
    icon: str | None = None
    shape: IdShape = "cuid"
    children: tuple[CategorySpec, ...] = ()


@dataclass(frozen=True, slots=True)
class TagGroupSpec:
    """One tag group: ``tags`` as ``(name, slug or None, shape)``; ``listed`` as in TagGroup."""

    name: str
    order: int
    tags: tuple[tuple[str, str | None, IdShape], ...] = ()
    slug: str | None = None
    shape: IdShape = "cuid"
    listed: bool = True


def _id(shape: IdShape, namespace: str, slug: str) -> str:
    if shape == "xid":
        return stable_xid(namespace, slug)
    if shape == "uuid":
        return stable_uuid(namespace, slug)
    return stable_cuid(namespace, slug)


@dataclass(frozen=True, slots=True)
class Taxonomy:
    """Every category and tag, with the lookups the handlers need.

    Attributes:
        profile: Which tracker this describes.
        parents: The root categories, in display order.
        children: Child categories by parent id, in display order (leaves map to ``()``).
        tag_groups: Tag groups sorted by ``order``.
        ungrouped_tags: Tags outside any group.
        catalogue_mix: ``(category slug, release kind, weight)`` for every category torrents
            are published in: the catalogue covers each once, then draws by weight.
    """

    profile: Profile
    parents: tuple[Category, ...]
    children: Mapping[str, tuple[Category, ...]]
    tag_groups: tuple[TagGroup, ...]
    ungrouped_tags: tuple[Tag, ...]
    catalogue_mix: tuple[tuple[str, str, int], ...] = field(default=())

    def categories(self) -> Iterator[Category]:
        """Yield every category, depth first, each parent before its children."""
        stack = list(reversed(self.parents))
        while stack:
            category = stack.pop()
            yield category
            stack.extend(reversed(self.children.get(category.id, ())))

    def leaves(self) -> tuple[Category, ...]:
        """Return every category without children, in display order."""
        return tuple(c for c in self.categories() if not self.children.get(c.id))

    def by_slug(self, slug: str) -> Category | None:
        """Return the category with this slug, or None."""
        return next((c for c in self.categories() if c.slug == slug), None)

    def by_id(self, category_id: str) -> Category | None:
        """Return the category with this id, or None."""
        return next((c for c in self.categories() if c.id == category_id), None)

    def covered_ids(self, category: Category) -> frozenset[str]:
        """Return ``category``'s id and every descendant's: what the documented filter matches."""
        found, stack = {category.id}, [category]
        while stack:
            for child in self.children.get(stack.pop().id, ()):
                found.add(child.id)
                stack.append(child)
        return frozenset(found)

    def all_tags(self) -> Iterator[Tag]:
        """Yield every tag the tracker knows, listed or not, grouped ones first."""
        for group in self.tag_groups:
            yield from group.tags
        yield from self.ungrouped_tags

    def tag_ids(self) -> frozenset[str]:
        """Return the id of every tag, grouped or not, listed by ``/meta`` or not."""
        return frozenset(t.id for t in self.all_tags())

    def tag_by_slug(self, slug: str) -> Tag | None:
        """Return the tag with this slug, or None."""
        return next((t for t in self.all_tags() if t.slug == slug), None)


def make_taxonomy(
    profile: Profile,
    categories: tuple[CategorySpec, ...],
    groups: tuple[TagGroupSpec, ...],
    ungrouped: tuple[tuple[str, str | None, IdShape], ...],
    catalogue_mix: tuple[tuple[str, str, int], ...],
) -> Taxonomy:
    """Build a taxonomy from specs; a spec without slug gets the live site's derived one."""
    children: dict[str, tuple[Category, ...]] = {}

    def build(spec: CategorySpec, parent_id: str | None) -> Category:
        slug = spec.slug or live_slugify(spec.name)
        category = Category(
            _id(spec.shape, "category", slug), spec.name, slug, spec.icon, parent_id
        )
        children[category.id] = tuple(build(child, category.id) for child in spec.children)
        return category

    def tag(name: str, slug: str | None, shape: IdShape) -> Tag:
        slug = slug or live_slugify(name)
        return Tag(_id(shape, "tag", slug), name, slug)

    parents = tuple(build(spec, None) for spec in categories)
    tag_groups = tuple(
        TagGroup(
            id=_id(g.shape, "tag-group", g.slug or live_slugify(g.name)),
            name=g.name,
            slug=g.slug or live_slugify(g.name),
            order=g.order,
            tags=tuple(tag(*t) for t in g.tags),
            listed=g.listed,
        )
        for g in sorted(groups, key=lambda g: g.order)
    )
    return Taxonomy(
        profile=profile,
        parents=parents,
        children=children,
        tag_groups=tag_groups,
        ungrouped_tags=tuple(tag(*t) for t in ungrouped),
        catalogue_mix=catalogue_mix,
    )
