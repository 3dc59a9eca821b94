"""A realistic 50-result La Cale search answer, generated from a seed (not a hand-written blob)."""

from __future__ import annotations

import hashlib
import json
import random
import string
from datetime import datetime, timedelta, timezone
from typing import Any

__all__ = ["build_results", "search_body"]

_TITLES = [
    "Amélie.2001.FRENCH.1080p.BluRay.x264-LaCale",
    "Les.Misérables.2012.MULTi.2160p.UHD.BluRay.x265-NoTag",
    "Le.Fabuleux.Destin.d'Amélie.Poulain.2001.REMASTERED.720p",
    "La.Cité.de.la.Peur.1994.FRENCH.1080p.WEB-DL.H264",
    "Astérix.et.Obélix.Mission.Cléopâtre.2002.FRENCH.BDRip",
    "Un.Village.Français.S0{s}E0{e}.FRENCH.720p.HDTV.x264",
    "Dix.Pour.Cent.S0{s}E0{e}.Épisode.{e}.FRENCH.1080p.WEB",
    "Lupin.S0{s}E0{e}.MULTi.1080p.NF.WEB-DL.DDP5.1",
    "One.Piece.S01E0{e}.VOSTFR.1080p.WEB.x264",
    "Édith.Piaf.-.La.Vie.en.Rose.(Intégrale).FLAC",
    "Stromae.-.Multitude.2022.FLAC.24bit",
    "Les.Aventures.de.Tintin.-.Intégrale.BD.CBZ",
    "Hélène.et.les.Garçons.S0{s}E{e}0.FRENCH.DVDRip",
    "Spirited.Away.2001.MULTi.1080p.BluRay.DTS-HD.MA",
    "Portrait.de.la.Jeune.Fille.en.Feu.2019.FRENCH.2160p.WEB",
]
_CATEGORIES = ["Films", "Séries TV", "Musique", "BD", "Documentaires", "Spectacles"]
_B36 = string.digits + string.ascii_lowercase


def build_results(base_url: str, *, count: int = 50, seed: int = 2025) -> list[dict[str, Any]]:
    """Build ``count`` search results with the La Cale field names, newest first.

    Args:
        base_url: Used for each result's ``link`` (``<base>/api/torrents/download/<infoHash>``).
        count: Number of results (the tracker returns at most 50).
        seed: Seed of the random generator; the same seed gives the same results.

    Returns:
        JSON-ready dicts: title, guid, size, pubDate (ms ISO 8601 with Z), link, category,
        seeders, leechers, infoHash.
    """
    rng = random.Random(seed)
    start = datetime(2025, 6, 1, 12, 0, tzinfo=timezone.utc)
    results: list[dict[str, Any]] = []
    for i in range(count):
        title = rng.choice(_TITLES).format(s=rng.randint(1, 5), e=rng.randint(1, 9))
        info_hash = hashlib.sha1(f"{seed}:{i}:{title}".encode()).hexdigest()
        published = start - timedelta(seconds=i * rng.randint(600, 90_000), milliseconds=i * 37)
        results.append(
            {
                "title": title,
                "guid": "c" + "".join(rng.choice(_B36) for _ in range(24)),
                "size": rng.randint(50_000_000, 80_000_000_000),
                "pubDate": published.strftime("%Y-%m-%dT%H:%M:%S.")
                + f"{published.microsecond // 1000:03d}Z",
                "link": f"{base_url}/api/torrents/download/{info_hash}",
                "category": rng.choice(_CATEGORIES),
                "seeders": rng.randint(0, 2_000),
                "leechers": rng.randint(0, 300),
                "infoHash": info_hash,
            }
        )
    return results


def search_body(base_url: str, *, count: int = 50, seed: int = 2025) -> bytes:
    """Return the search answer as UTF-8 JSON bytes (accents unescaped, as the tracker sends)."""
    results = build_results(base_url, count=count, seed=seed)
    return json.dumps(results, ensure_ascii=False, separators=(",", ":")).encode()
