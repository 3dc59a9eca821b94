"""SandboxServer itself: lifecycle, request log, secrets, reset, run_sandbox, pytest plugin."""

from __future__ import annotations

import asyncio
import logging
import os
import re
import signal
import socket
import sys
from pathlib import Path

import aiohttp
import bencode2
import pytest

from lacale_async import (
    ClientStateError,
    ConfigurationError,
    FakeClock,
    LaCaleClient,
    ValidationError,
)
from lacale_async.testing import Fault, RateLimit, SandboxConfig, SandboxServer, serve_sandbox
from lacale_async.testing._config import client_rates

pytest_plugins = ["pytester"]

REPO = Path(__file__).resolve().parents[1]
SECRET = "sandbox-secret-key-0123456789"


async def test_lifecycle_and_addresses() -> None:
    server = SandboxServer()
    with pytest.raises(ClientStateError):
        _ = server.base_url
    async with server:
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", server.base_url)
        assert server.port > 0
        with pytest.raises(ClientStateError):
            await server.start()
    await server.close()  # twice is fine
    with pytest.raises(aiohttp.ClientConnectorError):
        async with aiohttp.ClientSession() as session:
            await session.get(server.base_url + "/api/external")


async def test_a_given_port_is_used() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    async with SandboxServer(port=port) as server:
        assert server.base_url == f"http://127.0.0.1:{port}"


async def test_request_log_records_everything_but_the_key() -> None:
    clock = FakeClock(500.0, auto_advance=False)
    # The documented 403 for a wrong key (live: 401, see test_sandbox_live.py).
    config = SandboxConfig(api_key=SECRET, clock=clock, profile="docs")
    async with SandboxServer(config) as server, aiohttp.ClientSession() as session:
        base = server.base_url
        async with session.get(
            f"{base}/api/external",
            params=[("q", "amelie"), ("cat", "films"), ("cat", "series"), ("apikey", SECRET)],
            headers={"User-Agent": "sandbox-test/1.0"},
        ) as response:
            assert response.status == 200
        clock.advance(2.5)
        async with session.get(f"{base}/api/external/meta?passkey=wrong-key") as response:
            assert response.status == 403
        async with session.get(f"{base}/nowhere") as response:
            assert response.status == 404

    search, meta, unknown = server.requests
    assert (search.method, search.path, search.endpoint) == ("GET", "/api/external", "search")
    assert search.query == (("q", "amelie"), ("cat", "films"), ("cat", "series"), ("apikey", "***"))
    assert search.param("cat") == ["films", "series"]
    assert (search.status, search.arrived_at, search.client_ip) == (200, 500.0, "127.0.0.1")
    assert (search.key_name, search.auth_via) == ("default", "apikey")
    assert search.user_agent == "sandbox-test/1.0"
    assert search.fault is None
    assert (meta.endpoint, meta.status, meta.arrived_at) == ("meta", 403, 502.5)
    assert (meta.key_name, meta.auth_via) == (None, "passkey")
    assert meta.param("passkey") == ["***"]
    assert (unknown.endpoint, unknown.status) == (None, 404)
    everything = repr(server.requests) + repr(server) + repr(server.config)
    assert SECRET not in everything
    assert "wrong-key" not in everything


async def test_access_log_redacts_query_keys(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="lacale_async.testing")
    async with (
        SandboxServer(SandboxConfig(api_key=SECRET)) as server,
        aiohttp.ClientSession() as session,
        session.get(f"{server.base_url}/api/external?apikey={SECRET}&q=x") as response,
    ):
        assert response.status == 200
    lines = [r.getMessage() for r in caplog.records if r.name == "lacale_async.testing"]
    assert any("/api/external?apikey=***&q=x 200" in line for line in lines)
    assert SECRET not in caplog.text


async def test_add_key_rules() -> None:
    server = SandboxServer()
    key = server.add_key("carol", "carol-key")
    assert key == "carol-key"
    assert server.add_key() != server.add_key()
    with pytest.raises(ValidationError, match="already"):
        server.add_key("carol")
    with pytest.raises(ValidationError, match="already"):
        server.add_key("dave", "carol-key")
    with pytest.raises(ValidationError, match="empty"):
        server.add_key("eve", " ")


@pytest.mark.parametrize(
    ("name", "key"),
    [
        # key=123 raised a raw AttributeError (.strip()), a huge name a raw ValueError (repr).
        ("bob", 123),
        ("bob", b"key"),
        ("bob", "\ud800"),
        (5, "bob-key"),
        pytest.param(10**5000, "bob-key", id="name=10**5000"),
        ("\ud800", "bob-key"),
    ],
)
def test_add_key_takes_text_only(name: object, key: object) -> None:
    server = SandboxServer()
    with pytest.raises(ValidationError, match=r"name|key"):
        server.add_key(name, key)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "kwargs",
    [
        # start() raised a raw OverflowError, TypeError or ValueError for these.
        {"port": 70000},
        {"port": -1},
        {"port": "8080"},
        {"port": None},
        {"port": 1.5},
        {"port": True},
        {"host": 5},
        {"host": "127.0.0.1\x00"},
        {"host": "\ud800"},
        {"config": {"seed": 1}},
    ],
    ids=repr,
)
def test_server_address_and_config_are_checked(kwargs: dict[str, object]) -> None:
    with pytest.raises(ConfigurationError):
        SandboxServer(**kwargs)  # type: ignore[arg-type]


async def test_reset_forgets_traffic_uploads_faults_and_cache() -> None:
    async with SandboxServer() as server, aiohttp.ClientSession() as session:
        headers = {"X-Api-Key": server.api_key}
        template = next(t for t in server.catalogue if t.approved)
        size = len(server.catalogue)
        # A catalogue torrent renamed: another info dict, so a new info hash.
        top = bencode2.bdecode(template.data)
        top[b"info"][b"name"] = b"Reset.Me.Unique"
        form = aiohttp.FormData({"title": "Reset me", "categoryId": template.category.id})
        form.add_field("file", bencode2.bencode(top), filename="r.torrent")
        form.add_field("nfoFile", b"Reset me NFO", filename="r.nfo")
        async with session.post(
            f"{server.base_url}/api/external/upload", data=form, headers=headers
        ) as response:
            assert response.status == 200
        assert len(server.uploads) == 1
        assert len(server.catalogue) == size + 1
        new_hash = server.uploads[0].info_hash
        server.faults.add(Fault.error(), times=None)
        server.reset()
        assert server.requests == []
        assert server.uploads == []
        assert server.faults.pending == 0
        assert len(server.catalogue) == size
        assert server.catalogue.get(new_hash) is None
        async with session.get(
            f"{server.base_url}/api/torrents/download/{new_hash}", headers=headers
        ) as response:
            assert response.status == 404


async def test_serve_sandbox_runs_until_stopped() -> None:
    stop = asyncio.Event()
    started: list[str] = []
    server = SandboxServer()
    task = asyncio.create_task(
        serve_sandbox(server, on_start=lambda s: started.append(s.base_url), stop=stop)
    )
    for _ in range(200):
        if started:
            break
        await asyncio.sleep(0.01)
    async with (
        aiohttp.ClientSession() as session,
        session.get(
            f"{started[0]}/api/external/meta", headers={"X-Api-Key": server.api_key}
        ) as response,
    ):
        assert response.status == 200
    stop.set()
    await asyncio.wait_for(task, 5)


@pytest.mark.integration
async def test_run_sandbox_prints_url_and_key_and_stops_on_ctrl_c() -> None:
    code = "from lacale_async.testing import run_sandbox; run_sandbox(port=0)"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", code, stdout=asyncio.subprocess.PIPE, env=env
    )
    try:
        assert process.stdout is not None
        first = (await asyncio.wait_for(process.stdout.readline(), 10)).decode()
        second = (await asyncio.wait_for(process.stdout.readline(), 5)).decode()
        url_match = re.search(r"(http://127\.0\.0\.1:\d+)", first)
        key_match = re.search(r"API key: (\S+)", second)
        assert url_match, first
        assert key_match, second
        async with (
            aiohttp.ClientSession() as session,
            session.get(
                f"{url_match.group(1)}/api/external/meta",
                headers={"X-Api-Key": key_match.group(1)},
            ) as response,
        ):
            assert response.status == 200
        process.send_signal(signal.SIGINT)
        assert await asyncio.wait_for(process.wait(), 10) == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


PLUGIN_TESTS = """
import aiohttp
import pytest

from lacale_async.testing import SandboxConfig


@pytest.mark.asyncio
async def test_sandbox_fixture(lacale_sandbox):
    async with aiohttp.ClientSession() as session:
        async with session.get(
            lacale_sandbox.base_url + "/api/external/meta",
            headers={"X-Api-Key": lacale_sandbox.api_key},
        ) as response:
            assert response.status == 200
    assert lacale_sandbox.config.seed == 42


@pytest.mark.asyncio
async def test_client_fixture(lacale_client, lacale_sandbox):
    await lacale_client.meta()
    assert [r.endpoint for r in lacale_sandbox.requests] == ["meta"]


def test_no_fixture_starts_nothing():
    pass


@pytest.fixture
def lacale_sandbox_config():
    return SandboxConfig(seed=42)
"""


@pytest.mark.integration
@pytest.mark.parametrize("listed", [True, False])
def test_pytest_plugin_fixtures(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, listed: bool
) -> None:
    # Listed in a conftest or only through the installed entry point: both must work, and
    # listing it while the entry point is active must not abort the run.
    if listed:
        pytester.makeconftest('pytest_plugins = ["lacale_async.testing.pytest_plugin"]\n')
    pytester.makeini(
        "[pytest]\nasyncio_default_fixture_loop_scope = function\nfilterwarnings = error\n"
    )
    pytester.makepyfile(test_plugin=PLUGIN_TESTS)
    env_path = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
    monkeypatch.setenv("PYTHONPATH", env_path)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=3)


def test_plugin_client_rates_follow_the_key_and_ip_limits() -> None:
    config = SandboxConfig(
        key_limits={"search": RateLimit(2, 5), "meta": RateLimit(9, 1)},
        ip_limits={"search": RateLimit(10, 60), "meta": RateLimit(9, 1)},
    )
    assert client_rates(config) == {
        "search": [(2, 5.0), (10, 60.0)],
        "meta": [(9, 1.0)],
        "download": None,
        "upload": None,
    }


# The client's default search pace (1 per 2 s) would meet a 429 from this sandbox.
@pytest.mark.integration
@pytest.mark.parametrize(
    "lacale_sandbox_config", [SandboxConfig(key_limits={"search": RateLimit(1, 2.5)})]
)
async def test_plugin_client_keeps_to_the_configured_limits(
    lacale_sandbox: SandboxServer, lacale_client: LaCaleClient
) -> None:
    for query in ("one", "two"):
        await lacale_client.search(query)
    assert [r.status for r in lacale_sandbox.requests] == [200, 200]
    assert lacale_client.stats.rate_limited == 0
