"""Fault injection: every kind of failure, which requests it hits, and for how long."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import aiohttp
import pytest

from lacale_async import ConfigurationError, FakeClock
from lacale_async.testing import Fault, SandboxConfig, SandboxServer

pytest_plugins = ["_sandbox_http"]
pytestmark = pytest.mark.integration


@pytest.fixture
async def sandbox() -> AsyncIterator[SandboxServer]:
    # Faults work alike in both profiles; the docs one answers the bare searches used here.
    async with SandboxServer(SandboxConfig(profile="docs")) as server:
        yield server


@pytest.mark.parametrize(
    ("fault", "status", "content_type", "needle"),
    [
        (Fault.error(), 500, "application/json", '"error"'),
        (Fault.error(502, "Mauvaise passerelle"), 502, "application/json", "passerelle"),
        (Fault.cloudflare(), 521, "text/html", "521"),
        (Fault.cloudflare(522), 522, "text/html", "Cloudflare"),
        (Fault.unavailable(), 503, "application/json", "indisponible"),
        (Fault.html_challenge(), 200, "text/html", "Just a moment"),
        (Fault.respond(418, "teapot", content_type="text/plain"), 418, "text/plain", "teapot"),
    ],
)
async def test_canned_answers(
    sandbox: SandboxServer,
    http: aiohttp.ClientSession,
    fault: Fault,
    status: int,
    content_type: str,
    needle: str,
) -> None:
    sandbox.faults.add(fault, endpoint="search")
    async with http.get("/api/external") as response:
        assert response.status == status
        assert response.content_type == content_type
        assert needle in await response.text()
    assert sandbox.requests[-1].fault == "respond"
    assert sandbox.requests[-1].status == status
    async with http.get("/api/external") as response:
        assert response.status == 200, "times=1 by default"
        assert response.content_type == "application/json"


@pytest.mark.parametrize(("retry_after", "header"), [(7, "7"), (None, None)])
async def test_injected_429_with_and_without_retry_after(
    sandbox: SandboxServer, http: aiohttp.ClientSession, retry_after: int | None, header: str | None
) -> None:
    sandbox.faults.add(Fault.rate_limited(retry_after))
    async with http.get("/api/external/meta") as response:
        assert response.status == 429
        assert response.headers.get("Retry-After") == header
        assert (await response.json())["error"]
    assert sandbox.throttled_total == 0, "only the limiter's own 429s are counted"


async def test_unavailable_can_carry_retry_after(
    sandbox: SandboxServer, http: aiohttp.ClientSession
) -> None:
    sandbox.faults.add(Fault.unavailable(retry_after=30))
    async with http.get("/api/external") as response:
        assert response.status == 503
        assert response.headers["Retry-After"] == "30"


async def test_invalid_json(sandbox: SandboxServer, http: aiohttp.ClientSession) -> None:
    sandbox.faults.add(Fault.invalid_json(), endpoint="search")
    async with http.get("/api/external") as response:
        assert response.status == 200
        assert response.content_type == "application/json"
        text = await response.text()
    with pytest.raises(json.JSONDecodeError):
        json.loads(text)


async def test_upload_rejected_with_success_false(
    sandbox: SandboxServer, http: aiohttp.ClientSession
) -> None:
    sandbox.faults.add(Fault.upload_rejected("Doublon détecté"), endpoint="upload")
    form = aiohttp.FormData({"title": "x"})
    async with http.post("/api/external/upload", data=form) as response:
        assert response.status == 200
        assert await response.json() == {"success": False, "error": "Doublon détecté"}
    assert sandbox.uploads == []


async def test_truncated_body(sandbox: SandboxServer, http: aiohttp.ClientSession) -> None:
    sandbox.faults.add(Fault.truncated(missing=100), endpoint="search")
    # A bounded wait: if the server failed to close, the read would hang instead of failing.
    timeout = aiohttp.ClientTimeout(total=5)
    async with http.get("/api/external", timeout=timeout) as response:
        assert response.status == 200
        assert int(response.headers["Content-Length"]) > 100
        with pytest.raises(aiohttp.ClientPayloadError):
            await response.read()
    assert sandbox.requests[-1].fault == "truncate"


async def test_dropped_connection(sandbox: SandboxServer, http: aiohttp.ClientSession) -> None:
    sandbox.faults.add(Fault.drop(), endpoint="upload")
    with pytest.raises(aiohttp.ServerDisconnectedError):
        async with http.post("/api/external/upload", data=aiohttp.FormData({"title": "x"})):
            pass
    [record] = sandbox.requests
    assert record.status is None
    assert record.fault == "drop"
    assert sandbox.uploads == []


async def test_dropped_get_survives_aiohttp_single_retry_only_with_times_2(
    sandbox: SandboxServer, http: aiohttp.ClientSession
) -> None:
    # aiohttp retries an idempotent request once when the server disconnects.
    sandbox.faults.add(Fault.drop(), endpoint="download", times=2)
    with pytest.raises(aiohttp.ServerDisconnectedError):
        async with http.get(f"/api/torrents/download/{'0' * 40}"):
            pass
    assert [r.status for r in sandbox.requests] == [None, None]
    async with http.get(f"/api/torrents/download/{'0' * 40}") as response:
        assert response.status == 404, "the next request is answered normally"


async def test_real_delay_trips_a_client_timeout(
    sandbox: SandboxServer, http: aiohttp.ClientSession
) -> None:
    sandbox.faults.add(Fault.slow(2.0), endpoint="meta")
    with pytest.raises(asyncio.TimeoutError):
        async with http.get("/api/external/meta", timeout=aiohttp.ClientTimeout(total=0.2)):
            pass


async def test_delay_uses_the_sandbox_clock_then_answers_normally() -> None:
    clock = FakeClock(0.0, auto_advance=False)
    async with (
        SandboxServer(SandboxConfig(clock=clock, profile="docs")) as sandbox,
        aiohttp.ClientSession(headers={"X-Api-Key": sandbox.api_key}) as session,
    ):
        sandbox.faults.add(Fault.slow(45.0), endpoint="search")

        async def get() -> int:
            async with session.get(f"{sandbox.base_url}/api/external") as response:
                return response.status

        task = asyncio.create_task(get())
        for _ in range(500):
            if clock.sleepers:
                break
            await asyncio.sleep(0.002)
        assert clock.sleepers == 1
        assert not task.done()
        clock.advance(45.0)
        assert await task == 200
        assert sandbox.requests[-1].fault == "delay"


async def test_latency_applies_to_every_request() -> None:
    clock = FakeClock(0.0, auto_advance=True)
    async with (
        SandboxServer(SandboxConfig(clock=clock, latency=3.0, profile="docs")) as sandbox,
        aiohttp.ClientSession(headers={"X-Api-Key": sandbox.api_key}) as session,
    ):
        for path in ("/api/external", "/api/external/meta"):
            async with session.get(sandbox.base_url + path) as response:
                assert response.status == 200
        assert clock.now() >= 6.0


async def test_faults_match_endpoint_path_and_count(
    sandbox: SandboxServer, http: aiohttp.ClientSession
) -> None:
    sandbox.faults.add(Fault.error(500), endpoint="meta", times=2)
    sandbox.faults.add(Fault.error(503), path="/api/torrents/", times=None)
    assert sandbox.faults.pending == 2

    async def status(path: str) -> int:
        async with http.get(path) as response:
            return response.status

    assert await status("/api/external") == 200, "search is not targeted"
    assert [await status("/api/external/meta") for _ in range(3)] == [500, 500, 200]
    assert sandbox.faults.pending == 1
    assert [await status(f"/api/torrents/download/{'1' * 40}") for _ in range(3)] == [503] * 3
    sandbox.faults.clear()
    assert await status(f"/api/torrents/download/{'1' * 40}") == 404


async def test_faults_are_consumed_in_order(
    sandbox: SandboxServer, http: aiohttp.ClientSession
) -> None:
    sandbox.faults.add(Fault.error(500))
    sandbox.faults.add(Fault.cloudflare(521))
    codes = []
    for _ in range(3):
        async with http.get("/api/external") as response:
            codes.append(response.status)
    assert codes == [500, 521, 200]


def test_times_must_be_positive() -> None:
    sandbox = SandboxServer()
    with pytest.raises(ConfigurationError):
        sandbox.faults.add(Fault.drop(), times=0)


HUGE = 10**5000


@pytest.mark.parametrize(
    "build",
    [
        # Each of these failed late (a 500 when aiohttp answered) or raised a raw error.
        lambda: Fault.respond("200"),  # type: ignore[arg-type]
        lambda: Fault.respond(True),
        lambda: Fault.respond(99),
        lambda: Fault.respond(600),
        lambda: Fault.respond(HUGE),
        lambda: Fault.respond(200, "\ud800"),
        lambda: Fault.respond(200, 5),  # type: ignore[arg-type]
        lambda: Fault.respond(200, None),  # type: ignore[arg-type]
        lambda: Fault.respond(200, content_type="text/html\r\nX-Evil: 1"),
        lambda: Fault.respond(200, content_type=None),  # type: ignore[arg-type]
        lambda: Fault.respond(200, headers={"Retry-After": 5}),  # type: ignore[dict-item]
        lambda: Fault.respond(200, headers={"X-A": "a\nb"}),
        lambda: Fault.respond(200, headers=[("X-A", "a")]),  # type: ignore[arg-type]
        lambda: Fault.respond(200, delay=float("inf")),
        lambda: Fault.respond(200, delay="1"),  # type: ignore[arg-type]
        lambda: Fault.error(500, "\ud800"),
        lambda: Fault.error(500, HUGE),  # type: ignore[arg-type]
        lambda: Fault.error(500, object()),  # type: ignore[arg-type]
        lambda: Fault.error(500, None),  # type: ignore[arg-type]
        lambda: Fault.error(HUGE),
        lambda: Fault.upload_rejected("\ud800"),
        lambda: Fault.slow(float("nan")),
        lambda: Fault.slow(-1),
        lambda: Fault.truncated("text"),  # type: ignore[arg-type]
        lambda: Fault.truncated(missing=-1),
        lambda: Fault.rate_limited(HUGE),
        lambda: Fault.unavailable("5"),  # type: ignore[arg-type]
        lambda: Fault("explode"),  # type: ignore[arg-type]
    ],
)
def test_a_bad_fault_is_refused_where_it_is_built(build: object) -> None:
    with pytest.raises(ConfigurationError) as info:
        build()  # type: ignore[operator]
    assert len(str(info.value)) < 200


def test_the_accepted_faults_are_unchanged() -> None:
    assert Fault.respond(418, "é", headers={"X-A": "b"}).body == "é".encode()
    assert Fault.respond(200, bytearray(b"x")).body == b"x"
    assert Fault.error().status == 500
    assert Fault.slow(0).delay == 0
    assert Fault.rate_limited().headers == {"Retry-After": "5"}
    assert Fault.unavailable().headers == {}


@pytest.mark.parametrize(
    "kwargs",
    [
        {"fault": None},
        {"fault": "drop"},
        {"times": "2"},
        {"times": True},
        {"times": 1.5},
        {"endpoint": "serch"},
        {"endpoint": 5},
        {"path": 5},
        {"path": "/\ud800"},
    ],
    ids=repr,
)
def test_fault_injector_add_checks_its_arguments(kwargs: dict[str, object]) -> None:
    sandbox = SandboxServer()
    options: dict[str, object] = {"fault": Fault.drop(), **kwargs}
    with pytest.raises(ConfigurationError):
        sandbox.faults.add(**options)  # type: ignore[arg-type]
    assert sandbox.faults.pending == 0
