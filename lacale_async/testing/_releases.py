"""Realistic release names, file lists, sizes and tags for each leaf category."""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from dataclasses import dataclass

from . import _release_titles as titles

__all__ = ["Release", "make_release"]

_GB = 1024**3
_MB = 1024**2
_GROUPS = ("LACALE", "FRATERNiTY", "BRiGANTiN", "MOUSSAiLLON", "TRiBORD", "KRAKEN")


@dataclass(frozen=True, slots=True)
class Release:
    """What the catalogue needs to know to publish one torrent.

    Attributes:
        title: The release name as the tracker shows it.
        files: ``(relative path, length)`` pairs; a single pair named like the title is a
            single-file torrent.
        tmdb_id: The TMDB id for films and series, else None.
        tmdb_type: ``"MOVIE"`` or ``"TV"`` with a tmdb_id, else None.
        tag_slugs: Slugs of the tags the release carries.
    """

    title: str
    files: tuple[tuple[str, int], ...]
    tmdb_id: str | None = None
    tmdb_type: str | None = None
    tag_slugs: tuple[str, ...] = ()

    @property
    def size(self) -> int:
        """Return the total size in bytes."""
        return sum(length for _, length in self.files)


_RESOLUTIONS = (("2160p", 0.15), ("1080p", 0.55), ("720p", 0.2), ("SD", 0.1))
_LANGS = ("MULTi", "FRENCH", "VFF", "VFQ", "VOSTFR")
_GENRES = ("action", "animation", "comedie", "drame", "horreur", "science-fiction", "thriller")
_DOTTED_DROP = re.compile(r"[:,!?()\[\]&']+")


def _dotted(text: str) -> str:
    """Turn a title into a scene-style name: words joined by dots, accents kept."""
    return ".".join(_DOTTED_DROP.sub(" ", text).split())


def _pick(rng: random.Random, weighted: tuple[tuple[str, float], ...]) -> str:
    return rng.choices([v for v, _ in weighted], [w for _, w in weighted])[0]


def _video_tags(
    rng: random.Random, resolution: str, lang: str, codec: str, source: str
) -> tuple[str, ...]:
    lang_tag = {"FRENCH": "vff", "VOSTFR": "vostfr", "VFQ": "vfq", "VFF": "vff"}.get(lang, "multi")
    genres = rng.sample(_GENRES, k=rng.randint(1, 2))
    return (resolution.lower(), codec, source, lang_tag, *genres)


def _video_specs(rng: random.Random) -> tuple[str, str, str, str]:
    resolution = _pick(rng, _RESOLUTIONS)
    codec = "x265" if resolution == "2160p" or rng.random() < 0.3 else "x264"
    source = rng.choice(("bluray", "web-dl", "webrip", "hdtv"))
    return resolution, rng.choice(_LANGS), codec, source


_SOURCE_LABEL = {"bluray": "BluRay", "web-dl": "WEB-DL", "webrip": "WEBRip", "hdtv": "HDTV"}
_SIZE_BY_RES = {"2160p": (18, 70), "1080p": (4, 16), "720p": (2, 6), "SD": (1, 2)}


def _film(rng: random.Random) -> Release:
    title, year, tmdb = rng.choice(titles.FILMS)
    resolution, lang, codec, source = _video_specs(rng)
    lo, hi = _SIZE_BY_RES[resolution]
    size = rng.randint(lo * _GB, hi * _GB)
    if rng.random() < 0.7:
        name = (
            f"{_dotted(title)}.{year}.{lang}.{resolution}.{_SOURCE_LABEL[source]}."
            f"{codec}-{rng.choice(_GROUPS)}"
        )
    else:
        name = f"{title} ({year}) {resolution} {lang} {_SOURCE_LABEL[source]}"
    tags = _video_tags(rng, resolution, lang, codec, source)
    return Release(name, ((f"{name}.mkv", size),), str(tmdb), "MOVIE", tags)


def _series(rng: random.Random) -> Release:
    title, tmdb, seasons, episodes = rng.choice(titles.SERIES)
    resolution, lang, codec, source = _video_specs(rng)
    lo, hi = _SIZE_BY_RES[resolution]
    season = rng.randint(1, seasons)
    tags = _video_tags(rng, resolution, lang, codec, source)
    group = rng.choice(_GROUPS)
    specs = f"{lang}.{resolution}.{_SOURCE_LABEL[source]}.{codec}-{group}"
    if rng.random() < 0.25:
        name = f"{_dotted(title)}.S{season:02d}.{specs}"
        files = tuple(
            (
                f"{name}/{_dotted(title)}.S{season:02d}E{ep:02d}.{specs}.mkv",
                rng.randint(lo * _GB // 8, hi * _GB // 6),
            )
            for ep in range(1, episodes + 1)
        )
        return Release(name, files, str(tmdb), "TV", tags)
    episode = rng.randint(1, episodes)
    if rng.random() < 0.7:
        name = f"{_dotted(title)}.S{season:02d}E{episode:02d}.{specs}"
    else:
        name = f"{title} - S{season:02d}E{episode:02d} - Épisode {episode} ({resolution})"
    size = rng.randint(lo * _GB // 8, hi * _GB // 6)
    return Release(name, ((f"{name}.mkv", size),), str(tmdb), "TV", tags)


def _show(rng: random.Random) -> Release:
    name = f"{rng.choice(titles.SHOWS)} ({rng.randint(2005, 2025)}) 1080p FRENCH WEB-DL"
    return Release(
        name, ((f"{name}.mkv", rng.randint(1 * _GB, 8 * _GB)),), tag_slugs=("1080p", "vff")
    )


# (name tag, file extension, bytes per track) of each album format.
_FORMATS = {
    "flac": ("FLAC 24-96", "flac", (25 * _MB, 90 * _MB)),
    "m4a": ("ALAC M4A", "m4a", (20 * _MB, 60 * _MB)),
    "mp3": ("MP3 320", "mp3", (6 * _MB, 14 * _MB)),
}


def _album_in(only: str | None) -> Callable[[random.Random], Release]:
    """Albums of one format (``only``, for its category), or FLAC and MP3 mixed (None)."""

    def make(rng: random.Random) -> Release:
        artist, album, year = rng.choice(titles.ALBUMS)
        # Drawn whatever ``only`` says: one draw per album keeps the rest of a catalogue as is.
        mixed = "flac" if rng.random() < 0.6 else "mp3"
        slug = only or mixed
        fmt, ext, per_track = _FORMATS[slug]
        name = f"{artist} - {album} ({year}) [{fmt}]"
        files = tuple(
            (f"{name}/{n:02d} - Piste {n}.{ext}", rng.randint(*per_track))
            for n in range(1, rng.randint(8, 14))
        )
        return Release(name, files, tag_slugs=(slug,))

    return make


def _audio_misc(rng: random.Random) -> Release:
    name = f"{rng.choice(titles.AUDIO_MISC)} {rng.randint(2019, 2025)} [MP3]"
    return Release(name, ((f"{name}.zip", rng.randint(50 * _MB, 2 * _GB)),), tag_slugs=("mp3",))


def _pc(rng: random.Random) -> Release:
    version = f"v{rng.randint(1, 4)}.{rng.randint(0, 12)}.{rng.randint(0, 9)}"
    name = f"{rng.choice(titles.PC)} {version} MULTi12 [{rng.choice(('GOG', 'Steam', 'DRM-Free'))}]"
    return Release(name, ((f"{name}.iso", rng.randint(2 * _GB, 120 * _GB)),))


def _console(rng: random.Random) -> Release:
    title, platform = rng.choice(titles.CONSOLE)
    name = f"{title} [{platform}] [{rng.choice(('EUR', 'FRA', 'MULTi'))}]"
    return Release(name, ((f"{name}.xci", rng.randint(1 * _GB, 80 * _GB)),))


def _mobile(rng: random.Random) -> Release:
    name = f"{rng.choice(titles.MOBILE)} v{rng.randint(1, 3)}.{rng.randint(0, 30)} [Android APK]"
    return Release(name, ((f"{name}.apk", rng.randint(50 * _MB, 3 * _GB)),))


def _system(rng: random.Random) -> Release:
    name = rng.choice(titles.SYSTEMS)
    return Release(name, ((f"{_dotted(name)}.iso", rng.randint(500 * _MB, 6 * _GB)),))


def _software(rng: random.Random) -> Release:
    name = rng.choice(titles.SOFTWARE)
    return Release(name, ((f"{_dotted(name)}.exe", rng.randint(20 * _MB, 3 * _GB)),))


def _ebook(names: tuple[str, ...], lo: int, hi: int) -> Callable[[random.Random], Release]:
    def make(rng: random.Random) -> Release:
        fmt = rng.choice(("EPUB", "PDF", "AZW3"))
        name = f"{rng.choice(names)} [{fmt}]"
        return Release(name, ((f"{name}.{fmt.lower()}", rng.randint(lo, hi)),))

    return make


def _comic(rng: random.Random) -> Release:
    series, album, volume = rng.choice(titles.COMICS)
    fmt = rng.choice(("CBZ", "CBR", "PDF"))
    name = f"{series} - Tome {volume} - {album} [{fmt}]"
    return Release(name, ((f"{name}.{fmt.lower()}", rng.randint(20 * _MB, 800 * _MB)),))


def _press(rng: random.Random) -> Release:
    day, month, year = rng.randint(1, 28), rng.randint(1, 12), rng.randint(2023, 2025)
    name = f"{rng.choice(titles.PRESS)} du {day:02d}.{month:02d}.{year} [PDF]"
    return Release(name, ((f"{name}.pdf", rng.randint(5 * _MB, 80 * _MB)),))


def _adult(label: str) -> Callable[[random.Random], Release]:
    def make(rng: random.Random) -> Release:
        studio = _dotted(rng.choice(titles.STUDIOS))
        name = (
            f"{studio}.{rng.randint(23, 25)}.{rng.randint(1, 12):02d}.{rng.randint(1, 28):02d}."
            f"{label}.Scene.{rng.randint(1, 999):04d}.XXX.1080p.MP4-{rng.choice(_GROUPS)}"
        )
        return Release(
            name, ((f"{name}.mp4", rng.randint(300 * _MB, 6 * _GB)),), tag_slugs=("1080p",)
        )

    return make


def _sports(rng: random.Random) -> Release:
    competition, fixture = rng.choice(titles.SPORTS)
    season = rng.randint(2023, 2025)
    name = f"{competition} {season}-{season + 1} - {fixture} - 1080p FRENCH WEB-DL"
    size = rng.randint(2 * _GB, 9 * _GB)
    return Release(name, ((f"{name}.mkv", size),), tag_slugs=("1080p", "web-dl"))


def _misc(rng: random.Random) -> Release:
    name = f"{rng.choice(titles.MISC)} {rng.randint(2020, 2025)}"
    return Release(name, ((f"{name}.zip", rng.randint(10 * _MB, 5 * _GB)),))


_MAKERS: dict[str, Callable[[random.Random], Release]] = {
    "films": _film,
    "series": _series,
    "spectacles": _show,
    "sports": _sports,
    "music": _album_in(None),
    "flac": _album_in("flac"),
    "m4a": _album_in("m4a"),
    "mp3": _album_in("mp3"),
    "audio-divers": _audio_misc,
    "pc": _pc,
    "consoles": _console,
    "jeux-mobiles": _mobile,
    "systemes": _system,
    "software": _software,
    "romans": _ebook(titles.NOVELS, 1 * _MB, 15 * _MB),
    "bd": _comic,
    "documentaires": _ebook(titles.NON_FICTION, 2 * _MB, 40 * _MB),
    "livres": _ebook(titles.BOOKS, 5 * _MB, 120 * _MB),
    "presse": _press,
    "education": _ebook(titles.EDUCATION, 2 * _MB, 300 * _MB),
    "h-t-ro": _adult("Hetero"),
    "gay": _adult("Gay"),
    "lesbien": _adult("Lesbien"),
    "trans": _adult("Trans"),
    "divers": _misc,
}


def make_release(kind: str, rng: random.Random) -> Release:
    """Draw one release of a kind (named after the documented leaf slugs, plus ``sports``).

    Args:
        kind: ``films``, ``series``, ``bd``...: the third field of a taxonomy's catalogue mix.
        rng: The generator every choice is drawn from.

    Returns:
        The :class:`Release`.

    Raises:
        KeyError: ``kind`` is not a release kind.
    """
    return _MAKERS[kind](rng)
