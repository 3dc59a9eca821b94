"""The tracker's four endpoints: the one type the SDK names them by, and their paths."""

from __future__ import annotations

from typing import Literal, get_args

__all__ = ["ENDPOINTS", "META_PATH", "SEARCH_PATH", "UPLOAD_PATH", "Endpoint", "download_path"]

Endpoint = Literal["search", "meta", "upload", "download"]
"""An endpoint's name: what rate limits, counters, waits and the sandbox's faults are keyed by."""

ENDPOINTS: tuple[Endpoint, ...] = get_args(Endpoint)
"""Every endpoint, in the order the statistics list them."""

# Documented (v1 and v2 pages) and live alike.
SEARCH_PATH = "/api/external"
META_PATH = "/api/external/meta"
UPLOAD_PATH = "/api/external/upload"


def download_path(info_hash: str) -> str:
    """Return the documented download path of a torrent (the request carries the key)."""
    return f"/api/torrents/download/{info_hash}"
