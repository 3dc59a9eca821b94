"""The ``live`` profile's categories and tags: the shape the live tracker's ``/meta`` answers.

Written from the facts of the answer IznoCorp/torrent-mate recorded from the live API in
2026-05 (``docs/reference/_samples/lacale/meta.json``, commit 6ebba20), not copied from it:

- the tree goes three levels deep (Audio > Musique > FLAC/M4A/MP3, Applications > Logiciels >
  Linux), two roots have no children (Autres, XXX), and leaves send ``"children": null``;
- names are "Films", "Séries TV", "PC"... (not the v1 doc's "Films HD", "Jeux PC"); the older
  slugs are hand-set (``video``, ``series``, ``music``, ``software``, ``systemes``, ``games``),
  newer ones come from a slugifier that turns every other character into a dash
  (``t-l-phones``, ``qualit-r-solution``, ``conomie`` for "Économie");
- ids come in three shapes: cuids for the first entries, 20-character xids for those added
  from January 2026, and a few UUIDs; the sandbox gives each entry the recorded shape, with its
  own ids (derived from the slug);
- most tag groups answer ``"tags": null``; only eight list their tags.

The tags of the groups that list none are not known: the sandbox invents plausible ones
(``listed=False``: never in ``/meta``, accepted on upload by id), so that uploading with a tag id
copied from the site can be exercised. Jackett's and Prowlarr's ``lacale-api.yml`` category
mappings agree with this tree.
"""

from __future__ import annotations

from ._taxonomy import CategorySpec as C
from ._taxonomy import IdShape, TagGroupSpec, Taxonomy, make_taxonomy

__all__ = ["live_taxonomy"]

_CATEGORIES = (
    C("Autres", icon="Compass"),
    C(
        "Vidéo",
        "video",
        "Film",
        children=(
            C("Films"),
            C("Spectacles & Concerts"),
            C("Sports", shape="xid"),
            C("Séries TV", "series"),
        ),
    ),
    C(
        "Audio",
        icon="Music",
        children=(
            C("Audio divers"),
            C("Audiobooks", shape="xid"),
            C("Musique", "music", children=(C("FLAC"), C("M4A"), C("MP3"))),
            C("Podcast", shape="xid"),
        ),
    ),
    C(
        "E-books",
        icon="BookOpen",
        children=(
            C("BD", shape="xid"),
            C("Comics", shape="xid"),
            C("Divers", shape="xid"),
            C("Livres"),
            C("Mangas", shape="xid"),
            C("Presse"),
        ),
    ),
    C(
        "Applications",
        icon="Monitor",
        children=(C("Logiciels", "software", children=(C("Linux"),)), C("Systèmes", "systemes")),
    ),
    C(
        "Jeux",
        "games",
        "Gamepad2",
        children=(
            C("Nintendo", shape="xid"),
            C("PC"),
            C("Playstation", shape="xid"),
            C("Sega", shape="xid"),
            C("Téléphones"),
            C("VR", shape="xid"),
            C("Xbox", shape="xid"),
        ),
    ),
    C("XXX", icon="Image"),
)

_Tags = tuple[tuple[str, str | None, IdShape], ...]


def _tags(*names: str, shape: IdShape = "cuid") -> _Tags:
    return tuple((name, None, shape) for name in names)


_GENRES = ("Action", "Animation", "Comédie", "Drame", "Horreur", "Science-fiction", "Thriller")

# Unlisted groups carry invented tags (hidden from /meta); listed ones a sample of the recorded.
_TAG_GROUPS = (
    TagGroupSpec("Catégories", 2, shape="xid", listed=False),
    TagGroupSpec("Genres", 30, _tags(*_GENRES), listed=False),
    TagGroupSpec("Type (XXX)", 35, shape="xid", listed=False),
    TagGroupSpec(
        "Qualité / Résolution", 40, _tags("2160p", "1080p", "720p", "SD", shape="xid"), listed=False
    ),
    TagGroupSpec("Codec vidéo", 41, _tags("x264", "x265", "AV1"), listed=False),
    TagGroupSpec(
        "Caractéristiques vidéo", 42, _tags("HDR", "Dolby Vision"), shape="uuid", listed=False
    ),
    TagGroupSpec(
        "Source / Type",
        45,
        _tags("BluRay", "REMUX", "WEB-DL", "WEBRip", "HDTV", shape="uuid"),
        shape="uuid",
        listed=False,
    ),
    TagGroupSpec("Genre (E-Books)", 50, listed=False),
    TagGroupSpec("Plateforme (Jeux)", 56, listed=False),
    TagGroupSpec("Codec audio", 60, listed=False),
    TagGroupSpec(
        "Langues audio", 70, _tags("VFF", "VFQ", "MULTi", "VO"), shape="uuid", listed=False
    ),
    TagGroupSpec("Sous-titres", 72, shape="uuid", listed=False),
    TagGroupSpec("Langues", 75, shape="xid", listed=False),
    TagGroupSpec("Extension", 90, shape="xid", listed=False),
    TagGroupSpec("Type (Musique)", 90, listed=False),
    TagGroupSpec("Genres (Musique)", 100, listed=False),
    TagGroupSpec("Type (Audio divers)", 110, listed=False),
    TagGroupSpec("Format (Audio)", 120, _tags("AAC (audio)", "OGG", "WAV")),
    TagGroupSpec(
        "Qualité / Bitrate", 130, _tags("128 kbps", "192 kbps", "320 kbps", "Lossless", "V0")
    ),
    TagGroupSpec("Sample rate", 140, _tags("44.1 kHz", "48 kHz", "96 kHz", "192 kHz")),
    TagGroupSpec("Profondeur", 150, _tags("16-bit", "24-bit", "32-bit")),
    TagGroupSpec(
        "Type (Logiciels)", 190, _tags("3D / CAO", "Bureautique", "Développement", "Utilitaires")
    ),
    TagGroupSpec(
        "Plateforme (Logiciels)", 200, _tags("Android", "BSD / Autres", "Linux", "Windows", "macOS")
    ),
    TagGroupSpec(
        "Format (E-books)",
        220,
        (*_tags("AZW", "CBR", "CBZ", "EPUB", "MOBI", "PDF"), ("Autres Formats", None, "xid")),
    ),
    TagGroupSpec(
        "Divers",
        270,
        (*_tags("Formation", "Imprimante 3d", shape="xid"), *_tags("Packs audio", "Wallpapers")),
    ),
)

_UNGROUPED: _Tags = (
    *_tags("2.1", "ALAC (M4A)", "FLAC Lossless", "MP3 Lossy", "Mini-séries", "Saisons", "WEB"),
    *_tags("Séries complètes", "Épisodes"),
    *_tags("Actualités", "Cinéma", "Jeu de rôle", "VOSTFR", "Économie", shape="xid"),
    ("Episode", None, "uuid"),
    ("Intégrale", "integrale", "uuid"),
    ("Pack Saison", None, "uuid"),
)

# (category slug, release kind, weight). Torrents are also published in inner categories:
# the recorded search for "inception" has an album whose category is "Musique".
_MIX = (
    ("films", "films", 40),
    ("spectacles-concerts", "spectacles", 5),
    ("sports", "sports", 4),
    ("series", "series", 45),
    ("audio-divers", "audio-divers", 4),
    ("audiobooks", "audio-divers", 3),
    ("music", "music", 10),
    ("flac", "flac", 8),
    ("m4a", "m4a", 2),
    ("mp3", "mp3", 6),
    ("podcast", "audio-divers", 3),
    ("bd", "bd", 6),
    ("comics", "bd", 3),
    ("divers", "livres", 2),
    ("livres", "romans", 10),
    ("mangas", "bd", 5),
    ("presse", "presse", 8),
    ("software", "software", 8),
    ("linux", "systemes", 5),
    ("systemes", "systemes", 4),
    ("nintendo", "consoles", 4),
    ("pc", "pc", 12),
    ("playstation", "consoles", 4),
    ("sega", "consoles", 1),
    ("t-l-phones", "jeux-mobiles", 3),
    ("vr", "pc", 1),
    ("xbox", "consoles", 2),
    ("autres", "divers", 4),
    ("xxx", "h-t-ro", 4),
)


def live_taxonomy() -> Taxonomy:
    """Return the live taxonomy (ids depend on slugs only)."""
    return make_taxonomy("live", _CATEGORIES, _TAG_GROUPS, _UNGROUPED, _MIX)
