"""Fixtures shared by the suite: payloads shaped like the documented API answers."""

from __future__ import annotations

import hashlib
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import bencode2
import pytest

# Helper modules whose fixtures test modules load with pytest_plugins after importing them.
pytest.register_assert_rewrite("_cli", "_mocked", "_sandboxed", "_loopback")

API_KEY = "test-key-0123456789abcdefSECRET"
BASE = "https://tracker.test"
NO_LIMITS: dict[str, Any] = {
    "search_rate": None,
    "meta_rate": None,
    "download_rate": None,
    "upload_rate": None,
}
"""Client options that turn every per-endpoint limiter off (unit tests fake the network)."""


def pytest_configure(config: pytest.Config) -> None:
    # A suite started in the background by a non-interactive shell (`cmd &`, nohup) inherits
    # SIGINT ignored, and so would every command it starts: the Ctrl-C tests would wait for
    # ever. Python's own handler restores what a terminal gives (children get the default).
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture(scope="session", autouse=True)
def _private_cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Keep what the CLI remembers (last search, meta, sandbox uploads) out of the user's cache."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LACALE_CACHE_DIR", str(tmp_path_factory.mktemp("lacale-cache")))
        yield


def make_torrent(name: str = "Amélie.2001.1080p", *, source: str | None = "lacale") -> bytes:
    """Return a small, valid single-file v1 torrent."""
    info: dict[bytes, Any] = {
        b"name": name.encode(),
        b"piece length": 16384,
        b"pieces": hashlib.sha1(name.encode()).digest(),
        b"length": 1000,
        b"private": 1,
    }
    if source is not None:
        info[b"source"] = source.encode()
    return bencode2.bencode({b"announce": b"https://tracker.test/announce", b"info": info})


def info_hash_of(data: bytes) -> str:
    """Return the v1 info hash of a torrent made by make_torrent."""
    return hashlib.sha1(bencode2.bencode(bencode2.bdecode(data)[b"info"])).hexdigest()


def torrent_json(i: int = 0, **over: Any) -> dict[str, Any]:
    """Return one search result as the server sends it."""
    item: dict[str, Any] = {
        "title": f"One.Piece.S01E{i + 1:02d}.1080p",
        "guid": f"ckx9f3p5x{i:04d}abcd1234",
        "size": 2147483648 + i,
        "pubDate": "2025-01-12T10:00:00.000Z",
        "link": f"https://tracker.test/api/torrents/download/{i:040x}",
        "category": "Séries TV",
        "seeders": 42,
        "leechers": 3,
        "infoHash": f"{i:040x}",
    }
    item.update(over)
    return item


META_JSON: dict[str, Any] = {
    "categories": [
        {
            "id": "cat_video",
            "name": "Vidéo",
            "slug": "video",
            "icon": "Film",
            "parentId": None,
            "children": [
                {"id": "cat_films", "name": "Films", "slug": "films", "parentId": "cat_video"},
                {"id": "cat_series", "name": "Séries TV", "slug": "series", "children": None},
            ],
        }
    ],
    "tagGroups": [
        {
            "id": "tg_quality",
            "name": "Qualité vidéo",
            "slug": "qualite",
            "order": 10,
            "tags": [{"id": "tag_1080p", "name": "1080p", "slug": "1080p"}],
        },
        {"id": "tg_empty", "name": "Vide", "tags": None},
    ],
    "ungroupedTags": [{"id": "tag_vostfr", "name": "VOSTFR", "slug": "vostfr"}],
}


@pytest.fixture
def api_key() -> str:
    return API_KEY


@pytest.fixture(autouse=True)
def _private_quota_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Give every test its own key-budget store, never the user's cache folder.

    The default ``quota_store="auto"`` stays in force (the suite exercises the real default),
    but ``LACALE_QUOTA_STORE`` points it at a fresh file per test: no test writes to the real
    cache folder, and no budget spent by one test is seen by the next. ``XDG_CACHE_HOME`` is
    moved too, for the subprocesses that tests start without any ``LACALE_`` variable.
    ``LACALE_KEY_RATE`` from the developer's environment is ignored for the same reason.
    """
    folder = tmp_path_factory.mktemp("quota")
    path = folder / "quota.sqlite3"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LACALE_QUOTA_STORE", str(path))
        patch.setenv("XDG_CACHE_HOME", str(folder / "cache"))
        patch.delenv("LACALE_KEY_RATE", raising=False)
        yield path
