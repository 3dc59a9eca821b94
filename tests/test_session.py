"""The transport's aiohttp sessions (``_session``): the keyed one, its bare twin, one send each.

Real aiohttp sessions against servers on 127.0.0.1: what is asserted is what the server saw.
"""

from __future__ import annotations

import socket

import aiohttp
import pytest
from _loopback import Server
from _strict_server import StrictServer
from aiohttp import web

from lacale_async._session import open_sessions

pytest_plugins = ["_loopback"]

pytestmark = pytest.mark.integration

KEY_HEADER = {"X-Api-Key": "sekrit-key"}
UA = {"User-Agent": "lacale-test"}


async def echo(request: web.Request) -> web.Response:
    return web.json_response({"key": request.headers.get("X-Api-Key")})


async def test_the_bare_twin_goes_without_the_key_on_the_same_connections(server: Server) -> None:
    server.route("GET", "/echo", echo)
    await server.start()
    keyed, bare = open_sessions(UA, KEY_HEADER, 5.0)
    try:
        assert bare is not keyed
        assert bare.connector is keyed.connector  # one pool: a token link reuses a connection
        # One jar: a proxy's cookie (Cloudflare's __cf_bm) set on a keyed answer goes with both.
        assert bare.cookie_jar is keyed.cookie_jar
        async with keyed.get(f"{server.url}/echo") as resp:
            with_key = await resp.json()
        async with bare.get(f"{server.url}/echo") as resp:
            without_key = await resp.json()
    finally:
        await bare.close()
        await keyed.close()
    assert (with_key, without_key) == ({"key": "sekrit-key"}, {"key": None})
    assert [r.headers["User-Agent"] for r in server.seen] == ["lacale-test"] * 2


async def test_only_the_keyed_session_closes_the_shared_pool() -> None:
    keyed, bare = open_sessions(UA, KEY_HEADER, 5.0)
    pool = keyed.connector
    assert pool is not None
    await bare.close()
    assert not pool.closed
    await keyed.close()
    assert pool.closed


async def test_without_a_key_header_there_is_one_session() -> None:
    keyed, bare = open_sessions(UA, {}, 5.0)
    try:
        assert bare is keyed
    finally:
        await keyed.close()


async def test_a_reset_after_arrival_is_not_sent_again() -> None:
    # aiohttp alone re-sends a GET whose reused connection was reset: two arrivals.
    async with StrictServer(reset_at={2}) as plain_server:
        async with aiohttp.ClientSession() as plain:
            async with plain.get(plain_server.url) as resp:
                assert resp.status == 200
            async with plain.get(plain_server.url) as resp:
                assert resp.status == 200
        assert plain_server.count() == 3
    async with StrictServer(reset_at={2}) as strict:
        keyed, _ = open_sessions(UA, {}, 5.0)
        try:
            async with keyed.get(strict.url) as resp:
                assert resp.status == 200
            with pytest.raises(aiohttp.ClientError) as refused:
                await keyed.get(strict.url)
        finally:
            await keyed.close()
        assert strict.count() == 2
    # Neither of the two errors aiohttp re-sends on: the SDK's own retry decides.
    assert not isinstance(refused.value, aiohttp.ClientOSError | aiohttp.ServerDisconnectedError)


async def test_a_refused_connection_stays_a_connector_error() -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    keyed, _ = open_sessions(UA, {}, 5.0)
    try:
        with pytest.raises(aiohttp.ClientConnectorError):
            await keyed.get(f"http://127.0.0.1:{port}/")
    finally:
        await keyed.close()


async def test_proxies_from_the_environment_are_ignored(
    server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A proxy named by the environment would see the key: it is used only when asked for.
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    monkeypatch.setenv("NO_PROXY", "")
    server.route("GET", "/echo", echo)
    await server.start()
    keyed, _ = open_sessions(UA, KEY_HEADER, 5.0)
    try:
        async with keyed.get(f"{server.url}/echo") as resp:
            assert (await resp.json())["key"] == "sekrit-key"
    finally:
        await keyed.close()
