"""A loopback aiohttp server for tests that need a real one on 127.0.0.1.

A pytest plugin too: ``pytest_plugins = ["_loopback"]`` gives a test the ``server`` and
``other_server`` fixtures (two servers, two origins), stopped after it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web
from conftest import API_KEY

from lacale_async import LaCaleClient

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Server:
    """A loopback aiohttp server whose routes a test fills in, recording what it received."""

    def __init__(self) -> None:
        self.app = web.Application()
        self.seen: list[web.Request] = []
        self.keys: list[str | None] = []
        self.runner: web.AppRunner | None = None
        self.url = ""

    def route(self, method: str, path: str, handler: Handler) -> None:
        async def recording(request: web.Request) -> web.StreamResponse:
            self.seen.append(request)
            self.keys.append(
                request.headers.get("X-Api-Key")
                or request.query.get("apikey")
                or request.query.get("passkey")
            )
            return await handler(request)

        self.app.router.add_route(method, path, recording)

    async def start(self) -> None:
        self.runner = web.AppRunner(self.app, handle_signals=False)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", 0).start()
        self.url = f"http://127.0.0.1:{self.runner.addresses[0][1]}"

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()


async def cut_short(
    request: web.Request, sent: bytes = b"[", length: int = 1000
) -> web.StreamResponse:
    """Answer ``sent`` of a body announced as ``length`` bytes, then close the connection."""
    resp = web.StreamResponse(headers={"Content-Type": "application/json"})
    resp.content_length = length
    await resp.prepare(request)
    await resp.write(sent)
    assert request.transport is not None
    request.transport.close()
    return resp


def client_for(server: Server, **kwargs: Any) -> LaCaleClient:
    options: dict[str, Any] = {
        "base_url": server.url,
        "search_rate": None,
        "meta_rate": None,
        "download_rate": None,
        "upload_rate": None,
        "max_retries": 0,
    }
    options.update(kwargs)
    return LaCaleClient(API_KEY, **options)


@pytest.fixture
async def server() -> AsyncIterator[Server]:
    srv = Server()
    yield srv
    await srv.stop()


@pytest.fixture
async def other_server() -> AsyncIterator[Server]:
    srv = Server()
    yield srv
    await srv.stop()
