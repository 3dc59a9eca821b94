"""The endpoints' one type and their documented paths (``_endpoints``)."""

from __future__ import annotations

from lacale_async._endpoints import (
    ENDPOINTS,
    META_PATH,
    SEARCH_PATH,
    UPLOAD_PATH,
    download_path,
)
from lacale_async._stats import StatsRecorder


def test_the_four_endpoints_in_the_order_the_statistics_list_them() -> None:
    assert ENDPOINTS == ("search", "meta", "upload", "download")
    assert tuple(StatsRecorder().endpoints) == ENDPOINTS


def test_the_documented_paths() -> None:
    assert (SEARCH_PATH, META_PATH, UPLOAD_PATH) == (
        "/api/external",
        "/api/external/meta",
        "/api/external/upload",
    )
    assert download_path("ab" * 20) == f"/api/torrents/download/{'ab' * 20}"
