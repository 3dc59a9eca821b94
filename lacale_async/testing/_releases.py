"""Realistic release names, file lists, sizes and tags for each leaf category."""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from dataclasses import dataclass

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


# (title, year, TMDB id). The ids are plausible numbers for the sandbox, not a reference.
_FILMS = (
    ("Le Fabuleux Destin d'Amélie Poulain", 2001, 194),
    ("Amélie", 2001, 194),
    ("Les Misérables", 2012, 82695),
    ("Les Misérables", 2019, 586863),
    ("La Haine", 1995, 406),
    ("Intouchables", 2011, 77338),
    ("Le Dîner de cons", 1998, 9421),
    ("Les Visiteurs", 1993, 11687),
    ("Astérix & Obélix : Mission Cléopâtre", 2002, 2899),
    ("Bienvenue chez les Ch'tis", 2008, 12407),
    ("Léon", 1994, 101),
    ("Le Cinquième Élément", 1997, 18),
    ("OSS 117 : Le Caire, nid d'espions", 2006, 15152),
    ("Portrait de la jeune fille en feu", 2019, 531428),
    ("Anatomie d'une chute", 2023, 915935),
    ("Le Comte de Monte-Cristo", 2024, 1084736),
    ("The Matrix", 1999, 603),
    ("Inception", 2010, 27205),
    ("Blade Runner 2049", 2017, 335984),
    ("Dune: Part Two", 2024, 693134),
    ("Oppenheimer", 2023, 872585),
    ("Parasite", 2019, 496243),
    ("Le Voyage de Chihiro", 2001, 129),
    ("Pirates des Caraïbes : La Malédiction du Black Pearl", 2003, 22),
    ("The Grand Budapest Hotel", 2014, 120467),
    ("Mad Max: Fury Road", 2015, 76341),
)
# (title, TMDB id, seasons, episodes per season)
_SERIES = (
    ("One Piece", 111110, 1, 8),
    ("Lupin", 96677, 3, 5),
    ("Kaamelott", 4589, 6, 12),
    ("Le Bureau des Légendes", 62650, 5, 10),
    ("Dix pour cent", 61664, 4, 6),
    ("Engrenages", 4050, 8, 10),
    ("Les Revenants", 45869, 2, 8),
    ("Breaking Bad", 1396, 5, 13),
    ("The Office", 2316, 9, 22),
    ("Arcane", 94605, 2, 9),
    ("Chernobyl", 87108, 1, 5),
    ("Fleabag", 67070, 2, 6),
)
_SHOWS = (
    "Florence Foresti - Madame Foresti",
    "Gad Elmaleh - Papa est en haut",
    "Jamel Debbouze - Maintenant ou jamais",
    "Blanche Gardin - Bonne nuit Blanche",
    "Les Inconnus - Le Spectacle",
    "Cirque du Soleil - Alegría",
    "Notre-Dame de Paris - Le Spectacle musical",
    "Roméo et Juliette - De la Haine à l'Amour",
    "Fary - Hexagone",
)
_ALBUMS = (
    ("Stromae", "Multitude", 2022),
    ("Angèle", "Brol", 2018),
    ("Daft Punk", "Random Access Memories", 2013),
    ("Édith Piaf", "La Vie en rose (Best Of)", 2015),
    ("Indochine", "13", 2017),
    ("Christine and the Queens", "Chaleur humaine", 2014),
    ("Serge Gainsbourg", "Histoire de Melody Nelson", 1971),
    ("Zaz", "Zaz", 2010),
    ("Jacques Brel", "Ne me quitte pas", 1972),
    ("Air", "Moon Safari", 1998),
    ("Orelsan", "Civilisation", 2021),
    ("Clara Luciani", "Cœur", 2021),
    ("Björk", "Homogenic", 1997),
)
_AUDIO_MISC = (
    "Le Petit Prince - Livre audio",
    "France Inter - Affaires sensibles - Intégrale",
    "Podcast - Les Pieds sur terre - Saison",
    "Bruitages - Sons de la nature",
    "Méthode d'anglais audio - Niveau B2",
    "Méditation guidée - Pack séances",
)
_PC = (
    "Baldur's Gate 3",
    "Clair Obscur : Expédition 33",
    "Hollow Knight",
    "Stardew Valley",
    "Disco Elysium - The Final Cut",
    "Cyberpunk 2077",
    "Les Sims 4",
    "Age of Empires II: Definitive Edition",
    "Sid Meier's Civilization VI",
    "Hades II",
)
_CONSOLE = (
    ("The Legend of Zelda: Tears of the Kingdom", "Switch"),
    ("Super Mario Odyssey", "Switch"),
    ("Pokémon Écarlate", "Switch"),
    ("Mario Kart 8 Deluxe", "Switch"),
    ("Gran Turismo 7", "PS4"),
    ("Astro Bot", "PS5"),
    ("Rayman Legends", "WiiU"),
    ("Halo Infinite", "XBOX"),
)
_MOBILE = (
    "Monument Valley 2",
    "Alto's Odyssey",
    "Dead Cells",
    "Stardew Valley",
    "Terraria",
    "Pocket City",
)
_SYSTEMS = (
    "Debian 12.8.0 amd64 DVD-1",
    "Ubuntu 24.04.1 LTS Desktop amd64",
    "Fedora Workstation 41 x86_64 Live",
    "Linux Mint 22 Cinnamon 64-bit",
    "Arch Linux 2025.01.01 x86_64",
    "FreeBSD 14.2 amd64 DVD",
    "Tails 6.10 amd64",
    "Kali Linux 2024.4 Installer amd64",
)
_SOFTWARE = (
    "LibreOffice 24.8.3 Win x64 MULTi",
    "GIMP 2.10.38 Setup",
    "Blender 4.2 LTS Windows x64",
    "VLC media player 3.0.21 Win64",
    "Inkscape 1.4 x64",
    "Krita 5.2.6 Win x64",
    "Audacity 3.7.1 x64",
    "OBS Studio 31.0 Full Installer x64",
    "HandBrake 1.9.0 x86_64",
)
_NOVELS = (
    "Victor Hugo - Les Misérables (Intégrale)",
    "Albert Camus - L'Étranger",
    "Émile Zola - Germinal",
    "Gustave Flaubert - Madame Bovary",
    "Alexandre Dumas - Le Comte de Monte-Cristo",
    "Marcel Proust - Du côté de chez Swann",
    "Annie Ernaux - Les Années",
    "Joël Dicker - La Vérité sur l'affaire Harry Quebert",
    "J.R.R. Tolkien - Le Seigneur des Anneaux",
    "Jules Verne - Vingt mille lieues sous les mers",
)
_COMICS = (
    ("Astérix", "L'Iris blanc", 40),
    ("Blacksad", "Alors, tout tombe", 7),
    ("Les Vieux Fourneaux", "Chauds comme le climat", 8),
    ("Lucky Luke", "Un cow-boy sous pression", 81),
    ("Le Chat", "Le Chat est content", 23),
    ("L'Arabe du futur", "Une jeunesse au Moyen-Orient", 6),
    ("Spirou et Fantasio", "Le Groom de Sniper Alley", 56),
    ("One Piece (VF)", "Le Crépuscule des dieux", 107),
)
_NON_FICTION = (
    "Yuval Noah Harari - Sapiens : Une brève histoire de l'humanité",
    "Stephen Hawking - Une brève histoire du temps",
    "Thomas Piketty - Le Capital au XXIe siècle",
    "Jared Diamond - Effondrement",
    "Boris Cyrulnik - Les Vilains Petits Canards",
)
_BOOKS = (
    "Le Guide du Routard Japon 2025",
    "Larousse des cocktails",
    "Le Petit Larousse illustré 2025",
    "Atlas des oiseaux de France",
    "Cuisine végétarienne - 200 recettes",
)
_PRESS = (
    "Le Monde",
    "Libération",
    "Science & Vie",
    "Le Canard enchaîné",
    "Courrier International",
    "L'Équipe",
    "Télérama",
)
_EDUCATION = (
    "Bescherelle - La Conjugaison pour tous",
    "Cours complet de Python 3 - Débutant à expert",
    "Mathématiques Terminale - Annales Bac 2025",
    "Apprendre le japonais - Méthode complète",
    "Physique-Chimie Seconde - Manuel",
    "Histoire-Géographie 3e - Cahier d'exercices",
)
_STUDIOS = ("Maison Rouge", "Studio Lumière", "Velvet Pictures", "Boudoir Films")
_MISC = (
    "Fonds d'écran 4K - Pack Nature",
    "Polices de caractères - Collection",
    "Sons et samples - Batterie acoustique",
    "Patrons de couture - Automne",
    "Modèles 3D - Architecture",
)
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
    title, year, tmdb = rng.choice(_FILMS)
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
    title, tmdb, seasons, episodes = rng.choice(_SERIES)
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
    name = f"{rng.choice(_SHOWS)} ({rng.randint(2005, 2025)}) 1080p FRENCH WEB-DL"
    return Release(
        name, ((f"{name}.mkv", rng.randint(1 * _GB, 8 * _GB)),), tag_slugs=("1080p", "vff")
    )


def _album(rng: random.Random) -> Release:
    artist, album, year = rng.choice(_ALBUMS)
    flac = rng.random() < 0.6
    fmt = "FLAC 24-96" if flac else "MP3 320"
    name = f"{artist} - {album} ({year}) [{fmt}]"
    ext = "flac" if flac else "mp3"
    per_track = (25 * _MB, 90 * _MB) if flac else (6 * _MB, 14 * _MB)
    files = tuple(
        (f"{name}/{n:02d} - Piste {n}.{ext}", rng.randint(*per_track))
        for n in range(1, rng.randint(8, 14))
    )
    return Release(name, files, tag_slugs=("flac" if flac else "mp3",))


def _audio_misc(rng: random.Random) -> Release:
    name = f"{rng.choice(_AUDIO_MISC)} {rng.randint(2019, 2025)} [MP3]"
    return Release(name, ((f"{name}.zip", rng.randint(50 * _MB, 2 * _GB)),), tag_slugs=("mp3",))


def _pc(rng: random.Random) -> Release:
    version = f"v{rng.randint(1, 4)}.{rng.randint(0, 12)}.{rng.randint(0, 9)}"
    name = f"{rng.choice(_PC)} {version} MULTi12 [{rng.choice(('GOG', 'Steam', 'DRM-Free'))}]"
    return Release(name, ((f"{name}.iso", rng.randint(2 * _GB, 120 * _GB)),))


def _console(rng: random.Random) -> Release:
    title, platform = rng.choice(_CONSOLE)
    name = f"{title} [{platform}] [{rng.choice(('EUR', 'FRA', 'MULTi'))}]"
    return Release(name, ((f"{name}.xci", rng.randint(1 * _GB, 80 * _GB)),))


def _mobile(rng: random.Random) -> Release:
    name = f"{rng.choice(_MOBILE)} v{rng.randint(1, 3)}.{rng.randint(0, 30)} [Android APK]"
    return Release(name, ((f"{name}.apk", rng.randint(50 * _MB, 3 * _GB)),))


def _system(rng: random.Random) -> Release:
    name = rng.choice(_SYSTEMS)
    return Release(name, ((f"{_dotted(name)}.iso", rng.randint(500 * _MB, 6 * _GB)),))


def _software(rng: random.Random) -> Release:
    name = rng.choice(_SOFTWARE)
    return Release(name, ((f"{_dotted(name)}.exe", rng.randint(20 * _MB, 3 * _GB)),))


def _ebook(titles: tuple[str, ...], lo: int, hi: int) -> Callable[[random.Random], Release]:
    def make(rng: random.Random) -> Release:
        fmt = rng.choice(("EPUB", "PDF", "AZW3"))
        name = f"{rng.choice(titles)} [{fmt}]"
        return Release(name, ((f"{name}.{fmt.lower()}", rng.randint(lo, hi)),))

    return make


def _comic(rng: random.Random) -> Release:
    series, album, volume = rng.choice(_COMICS)
    fmt = rng.choice(("CBZ", "CBR", "PDF"))
    name = f"{series} - Tome {volume} - {album} [{fmt}]"
    return Release(name, ((f"{name}.{fmt.lower()}", rng.randint(20 * _MB, 800 * _MB)),))


def _press(rng: random.Random) -> Release:
    day, month, year = rng.randint(1, 28), rng.randint(1, 12), rng.randint(2023, 2025)
    name = f"{rng.choice(_PRESS)} du {day:02d}.{month:02d}.{year} [PDF]"
    return Release(name, ((f"{name}.pdf", rng.randint(5 * _MB, 80 * _MB)),))


def _adult(label: str) -> Callable[[random.Random], Release]:
    def make(rng: random.Random) -> Release:
        studio = _dotted(rng.choice(_STUDIOS))
        name = (
            f"{studio}.{rng.randint(23, 25)}.{rng.randint(1, 12):02d}.{rng.randint(1, 28):02d}."
            f"{label}.Scene.{rng.randint(1, 999):04d}.XXX.1080p.MP4-{rng.choice(_GROUPS)}"
        )
        return Release(
            name, ((f"{name}.mp4", rng.randint(300 * _MB, 6 * _GB)),), tag_slugs=("1080p",)
        )

    return make


def _misc(rng: random.Random) -> Release:
    name = f"{rng.choice(_MISC)} {rng.randint(2020, 2025)}"
    return Release(name, ((f"{name}.zip", rng.randint(10 * _MB, 5 * _GB)),))


_MAKERS: dict[str, Callable[[random.Random], Release]] = {
    "films": _film,
    "series": _series,
    "spectacles": _show,
    "music": _album,
    "audio-divers": _audio_misc,
    "pc": _pc,
    "consoles": _console,
    "jeux-mobiles": _mobile,
    "systemes": _system,
    "software": _software,
    "romans": _ebook(_NOVELS, 1 * _MB, 15 * _MB),
    "bd": _comic,
    "documentaires": _ebook(_NON_FICTION, 2 * _MB, 40 * _MB),
    "livres": _ebook(_BOOKS, 5 * _MB, 120 * _MB),
    "presse": _press,
    "education": _ebook(_EDUCATION, 2 * _MB, 300 * _MB),
    "h-t-ro": _adult("Hetero"),
    "gay": _adult("Gay"),
    "lesbien": _adult("Lesbien"),
    "trans": _adult("Trans"),
    "divers": _misc,
}


def make_release(category_slug: str, rng: random.Random) -> Release:
    """Draw one release for a leaf category.

    Args:
        category_slug: A leaf category slug (``films``, ``series``, ``bd``...).
        rng: The generator every choice is drawn from.

    Returns:
        The :class:`Release`.

    Raises:
        KeyError: ``category_slug`` is not a leaf category.
    """
    return _MAKERS[category_slug](rng)
