"""The SDK seen through the same small interface as the baselines (call, then ``aclose``)."""

from __future__ import annotations

from typing import Any

from lacale_async import LaCaleClient, Torrent

__all__ = ["SdkFetch"]


class SdkFetch:
    """An opened ``LaCaleClient`` whose ``search`` is the fetch function.

    Args:
        base_url: Load server URL (plain http is allowed on loopback).
        api_key: Any key; the load server only checks one is sent.
        **options: Passed to ``LaCaleClient``; the default turns every limiter, the key budget
            and the cache off (and never writes a quota store).
    """

    def __init__(self, base_url: str, api_key: str, **options: Any) -> None:
        settings: dict[str, Any] = {
            "search_rate": None,
            "download_rate": None,
            "meta_rate": None,
            "cache_ttl": 0,
            "key_rate": None,
            "quota_store": None,
        }
        settings.update(options)
        self.client = LaCaleClient(api_key=api_key, base_url=base_url, **settings)
        self._opened = False

    async def open(self) -> SdkFetch:
        """Open the client (its session binds to the running loop)."""
        await self.client.__aenter__()
        self._opened = True
        return self

    async def __call__(self, query: str) -> list[Torrent]:
        return await self.client.search(query)

    async def aclose(self) -> None:
        """Close the client."""
        if self._opened:
            self._opened = False
            await self.client.__aexit__(None, None, None)
