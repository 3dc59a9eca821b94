"""The code a user would write without the SDK: result models and fetch functions.

Each baseline is written the way a careful user would (sessions reused, decoders built once), so
a ratio against it is a fair one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import aiohttp
import httpx
import msgspec
import pydantic

__all__ = [
    "FLOOR_DECODER",
    "PYDANTIC_ADAPTER",
    "AiohttpJsonFetch",
    "AiohttpMsgspecFetch",
    "FloorTorrent",
    "HttpxPydanticFetch",
    "PydanticTorrent",
    "TorrentDC",
    "decode_dataclasses",
]

SEARCH_PATH = "/api/external"


class FloorTorrent(msgspec.Struct, frozen=True, rename="camel", kw_only=True):
    """The floor: a plain msgspec struct with the La Cale fields and no per-object hook."""

    title: str
    guid: str
    size: int
    pub_date: datetime
    link: str
    category: str
    seeders: int
    leechers: int
    info_hash: str


FLOOR_DECODER = msgspec.json.Decoder(list[FloorTorrent])


@dataclass(frozen=True, slots=True)
class TorrentDC:
    """The stdlib baseline: a dataclass filled from ``json.loads`` output."""

    title: str
    guid: str
    size: int
    pub_date: datetime
    link: str
    category: str
    seeders: int
    leechers: int
    info_hash: str


def decode_dataclasses(body: bytes) -> list[TorrentDC]:
    """Decode a search answer with stdlib json, building dataclasses and parsing the dates."""
    return [
        TorrentDC(
            title=d["title"],
            guid=d["guid"],
            size=d["size"],
            # Python 3.10's fromisoformat does not accept a trailing Z.
            pub_date=datetime.fromisoformat(d["pubDate"].replace("Z", "+00:00")),
            link=d["link"],
            category=d["category"],
            seeders=d["seeders"],
            leechers=d["leechers"],
            info_hash=d["infoHash"],
        )
        for d in json.loads(body)
    ]


class PydanticTorrent(pydantic.BaseModel):
    """The pydantic v2 baseline model (field names as on the wire)."""

    model_config = pydantic.ConfigDict(frozen=True)

    title: str
    guid: str
    size: int
    pubDate: datetime
    link: str
    category: str
    seeders: int
    leechers: int
    infoHash: str


PYDANTIC_ADAPTER: pydantic.TypeAdapter[list[PydanticTorrent]] = pydantic.TypeAdapter(
    list[PydanticTorrent]
)


class _AiohttpFetch:
    """Raw aiohttp: one session, key in a session header, status checked, body read whole."""

    def __init__(self, base_url: str, api_key: str) -> None:
        self._url = base_url + SEARCH_PATH
        self._session = aiohttp.ClientSession(headers={"X-Api-Key": api_key})

    async def _body(self, query: str) -> bytes:
        async with self._session.get(self._url, params={"q": query}) as resp:
            if resp.status != 200:
                raise RuntimeError(f"unexpected status {resp.status}")
            return await resp.read()

    async def aclose(self) -> None:
        """Close the session."""
        await self._session.close()


class AiohttpJsonFetch(_AiohttpFetch):
    """Raw aiohttp + ``json.loads`` (plain dicts, no validation, dates left as strings)."""

    async def __call__(self, query: str) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = json.loads(await self._body(query))
        return result


class AiohttpMsgspecFetch(_AiohttpFetch):
    """Raw aiohttp + a module-level msgspec decoder: the floor for any typed client."""

    async def __call__(self, query: str) -> list[FloorTorrent]:
        return FLOOR_DECODER.decode(await self._body(query))


class HttpxPydanticFetch:
    """``httpx.AsyncClient`` + pydantic v2 (``TypeAdapter.validate_json``, its fastest path)."""

    def __init__(self, base_url: str, api_key: str) -> None:
        self._client = httpx.AsyncClient(base_url=base_url, headers={"X-Api-Key": api_key})

    async def __call__(self, query: str) -> list[PydanticTorrent]:
        resp = await self._client.get(SEARCH_PATH, params={"q": query})
        resp.raise_for_status()
        return PYDANTIC_ADAPTER.validate_json(resp.content)

    async def aclose(self) -> None:
        """Close the client."""
        await self._client.aclose()
