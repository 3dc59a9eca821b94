"""LaCaleClient against real aiohttp servers on 127.0.0.1: what a mock cannot show."""

from __future__ import annotations

import asyncio
import gzip
from collections.abc import AsyncIterator

import pytest
from _loopback import Server, client_for
from aiohttp import web
from conftest import API_KEY, META_JSON, torrent_json

import lacale_async as la
from lacale_async import LaCaleClient

pytestmark = pytest.mark.integration


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


async def test_search_and_meta_round_trip(server: Server) -> None:
    async def search(request: web.Request) -> web.Response:
        assert request.query.getall("cat") == ["films", "series"]
        return web.json_response([torrent_json(i) for i in range(50)])

    async def meta(request: web.Request) -> web.Response:
        return web.json_response(META_JSON)

    server.route("GET", "/api/external", search)
    server.route("GET", "/api/external/meta", meta)
    await server.start()
    async with client_for(server) as client:
        results = await client.search("Amélie", categories=("films", "series"))
        meta_answer = await client.meta()
    assert len(results) == 50
    assert meta_answer.find_category("films") is not None
    assert server.keys == [API_KEY, API_KEY]
    assert server.seen[0].query["q"] == "Amélie"


async def test_a_stalled_body_times_out(server: Server) -> None:
    async def stall(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "application/json"})
        resp.content_length = 1000
        await resp.prepare(request)
        await resp.write(b"[")
        await asyncio.sleep(1)
        return resp

    server.route("GET", "/api/external", stall)
    await server.start()
    async with client_for(server, timeout=0.3) as client:
        loop = asyncio.get_running_loop()
        start = loop.time()
        with pytest.raises(la.RequestTimeoutError, match=r"0\.3 s"):
            await client.search("x")
        assert loop.time() - start < 2


async def test_a_truncated_body_is_a_transport_error(server: Server) -> None:
    async def truncated(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "application/json"})
        resp.content_length = 1000
        await resp.prepare(request)
        await resp.write(b'[{"title": "cut')
        assert request.transport is not None
        request.transport.close()
        return resp

    server.route("GET", "/api/external", truncated)
    await server.start()
    async with client_for(server) as client:
        with pytest.raises(la.TransportError):
            await client.search("x")


async def test_connection_refused_is_a_connect_error() -> None:
    # Bind then close a socket to get a port nobody listens on.
    probe = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = probe.sockets[0].getsockname()[1]
    probe.close()
    await probe.wait_closed()
    async with LaCaleClient(API_KEY, base_url=f"http://127.0.0.1:{port}", max_retries=0) as c:
        with pytest.raises(la.ConnectError, match="cannot connect"):
            await c.search("x")


async def test_cross_origin_redirect_never_carries_the_key(
    server: Server, other_server: Server
) -> None:
    async def evil(request: web.Request) -> web.Response:
        return web.json_response([])

    other_server.route("GET", "/steal", evil)
    await other_server.start()

    async def redirect(request: web.Request) -> web.Response:
        raise web.HTTPFound(f"{other_server.url}/steal")

    server.route("GET", "/api/external", redirect)
    await server.start()
    for auth in ("header", "query"):
        async with client_for(server, auth=auth) as client:
            with pytest.raises(la.ResponseError, match="another origin"):
                await client.search("x")
    assert other_server.seen == []


async def test_closing_leaves_no_unclosed_session_warning(server: Server) -> None:
    async def search(request: web.Request) -> web.Response:
        return web.json_response([])

    server.route("GET", "/api/external", search)
    await server.start()
    # pytest runs with warnings as errors: an unclosed aiohttp session would fail this test.
    for _ in range(3):
        async with client_for(server) as client:
            await client.search("x")
        await client.aclose()


async def test_a_compression_bomb_is_stopped_at_the_cap(server: Server) -> None:
    inflated = b"[" + b" " * (8 * 1024 * 1024) + b"]"
    bomb = gzip.compress(inflated)

    async def handler(request: web.Request) -> web.Response:
        return web.Response(
            body=bomb,
            headers={"Content-Encoding": "gzip", "Content-Type": "application/json"},
        )

    server.route("GET", "/api/external", handler)
    await server.start()
    assert len(bomb) < 1024 * 1024
    async with client_for(server, max_body_size=1024 * 1024) as client:
        with pytest.raises(la.ResponseError, match="cap"):
            await client.search("x")
