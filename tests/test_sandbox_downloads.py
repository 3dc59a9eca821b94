"""The sandbox's .torrent endpoint (``testing/_downloads.py``): which hashes it accepts."""

from __future__ import annotations

import aiohttp
import pytest

pytest_plugins = ["_sandbox_http"]
pytestmark = pytest.mark.integration


@pytest.mark.parametrize(
    "info_hash", ["0" * 39, "0" * 41, "g" * 40, "0" * 63, "0" * 65, "0" * 40 + "\u0661" * 24]
)
async def test_a_malformed_hash_is_refused_with_400(
    http: aiohttp.ClientSession, info_hash: str
) -> None:
    async with http.get(f"/api/torrents/download/{info_hash}") as response:
        assert response.status == 400
        assert "40 ou 64" in await response.text()


@pytest.mark.parametrize("info_hash", ["A" * 40, "b" * 64])
async def test_a_well_formed_unknown_hash_is_not_found(
    http: aiohttp.ClientSession, info_hash: str
) -> None:
    async with http.get(f"/api/torrents/download/{info_hash}") as response:
        assert response.status == 404
