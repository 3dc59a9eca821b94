"""The client end to end against the sandbox server on 127.0.0.1 (real sockets, real time)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, Literal

import pytest
from conftest import make_torrent

import lacale_async as la
from lacale_async import LaCaleClient
from lacale_async.testing import Fault, RateLimit, SandboxConfig, SandboxServer

pytestmark = pytest.mark.integration

UNLIMITED: dict[str, Any] = {
    "search_rate": None,
    "meta_rate": None,
    "download_rate": None,
    "upload_rate": None,
}


@pytest.fixture
async def sandbox() -> AsyncIterator[SandboxServer]:
    async with SandboxServer(SandboxConfig(seed=7)) as server:
        yield server


def client_for(server: SandboxServer, **kwargs: Any) -> LaCaleClient:
    options: dict[str, Any] = {"base_url": server.base_url, **UNLIMITED}
    options.update(kwargs)
    return LaCaleClient(server.api_key, **options)


@pytest.mark.parametrize("mode", ["sliding", "fixed"])
async def test_zero_429s_at_the_configured_rate_and_near_minimum_time(
    mode: Literal["sliding", "fixed"],
) -> None:
    n, period = 5, 1.0
    limits = {"search": RateLimit(n, period)}
    config = SandboxConfig(key_limits=limits, ip_limits=limits, rate_limit_mode=mode)
    async with SandboxServer(config) as server:
        async with client_for(server, search_rate=(n, period), cache_ttl=0, max_retries=0) as c:
            loop = asyncio.get_running_loop()
            start = loop.time()
            await asyncio.gather(*(c.search(f"query {i}") for i in range(4 * n)))
            elapsed = loop.time() - start
            stats = c.stats
        assert server.throttled_total == 0
    assert stats.rate_limited == 0
    assert stats.endpoints["search"].requests == 4 * n
    # 4N requests: a burst of N, then three more windows.
    minimum = 3 * period
    assert minimum <= elapsed <= minimum * 1.10


async def test_leaky_bucket_alone_trips_a_strict_server() -> None:
    # The contrast that justifies the window limiter: aiolimiter admits ~2N in the first T.
    import aiolimiter

    n, period = 5, 1.0
    limits = {"search": RateLimit(n, period)}
    config = SandboxConfig(key_limits=limits, ip_limits=limits)
    async with SandboxServer(config) as server:
        bucket = aiolimiter.AsyncLimiter(n, period)
        async with client_for(server, search_rate=bucket, cache_ttl=0, max_retries=0) as c:
            outcomes = await asyncio.gather(
                *(c.search(f"q {i}") for i in range(2 * n)), return_exceptions=True
            )
    assert any(isinstance(o, la.RateLimitError) for o in outcomes)


async def test_a_server_429_is_waited_out_and_retried(sandbox: SandboxServer) -> None:
    sandbox.faults.add(Fault.rate_limited(retry_after=1), endpoint="search")
    async with client_for(sandbox, search_rate=(5, 1.0)) as client:
        results = await client.search("amelie")
        assert client.stats.rate_limited == 1
        assert client.stats.retries == 1
    assert isinstance(results, list)


async def test_search_normalisation_matches_the_server(sandbox: SandboxServer) -> None:
    async with client_for(sandbox) as client:
        accented = await client.search("Amélie")
        plain = await client.search("amelie ", cache="bypass")
        assert client.stats.endpoints["search"].requests == 2
    assert accented
    assert [t.info_hash for t in accented] == [t.info_hash for t in plain]
    assert all(t.pub_date.tzinfo is not None for t in accented)
    dates = [t.pub_date for t in accented]
    assert dates == sorted(dates, reverse=True)


async def test_meta_categories_and_category_filter(sandbox: SandboxServer) -> None:
    async with client_for(sandbox) as client:
        meta = await client.meta()
        slugs = {c.slug for c in meta.iter_categories()}
        assert {"films", "series", "music", "pc", "romans", "divers"} <= slugs
        films = await client.search(categories="films")
    assert films
    assert len(films) <= 50
    assert {t.category for t in films} <= {c.name for c in meta.iter_categories()}


async def test_upload_then_conflict_then_download(sandbox: SandboxServer, tmp_path: Path) -> None:
    original = make_torrent("Le.Voyage.de.Chihiro.2001.MULTi.1080p", source=None)
    async with client_for(sandbox, cache_ttl=0) as client:
        result = await client.upload(
            title="Le Voyage de Chihiro 2001",
            category="films",
            torrent=original,
            tmdb_id=129,
            tmdb_type="MOVIE",
            cover_url="https://image.test/chihiro.jpg",
        )
        assert result.success
        assert result.torrent is not None
        assert la.parse_torrent(result.torrent).info_hash == result.info_hash
        record = sandbox.uploads[-1]
        assert record.source_flag is True
        with pytest.raises(la.ConflictError) as conflict:
            await client.upload(title="Again", category="films", torrent=result.torrent)
        assert conflict.value.info_hash == result.info_hash
        assert result.info_hash is not None
        found = await client.search("chihiro")
        assert result.info_hash in {t.info_hash for t in found}
        saved = await client.download_to(result.info_hash, tmp_path)
    assert saved.read_bytes() == result.torrent


async def test_every_auth_mode_is_accepted(sandbox: SandboxServer) -> None:
    for auth in ("header", "query", "passkey"):
        async with client_for(sandbox, auth=auth) as client:
            assert isinstance(await client.meta(), la.Meta)


async def test_unknown_key_is_permission_denied(sandbox: SandboxServer) -> None:
    async with LaCaleClient("wrong-key", base_url=sandbox.base_url, **UNLIMITED) as client:
        with pytest.raises(la.PermissionDeniedError) as info:
            await client.search("x")
    assert info.value.status == 403


@pytest.mark.parametrize(
    ("fault", "times", "error"),
    [
        (Fault.cloudflare(521), None, la.ServerError),
        (Fault.html_challenge(), 1, la.ResponseError),
        (Fault.invalid_json(), 1, la.ResponseError),
        (Fault.truncated(), None, la.TransportError),
        (Fault.drop(), None, la.TransportError),
    ],
)
async def test_faults_become_typed_errors(
    sandbox: SandboxServer, fault: Fault, times: int | None, error: type[la.LaCaleError]
) -> None:
    sandbox.faults.add(fault, endpoint="search", times=times)
    async with client_for(sandbox, max_retries=1) as client:
        with pytest.raises(error):
            await client.search("x")


async def test_upload_success_false_is_an_error(sandbox: SandboxServer) -> None:
    sandbox.faults.add(Fault.upload_rejected("Torrent illisible"), endpoint="upload")
    async with client_for(sandbox) as client:
        with pytest.raises(la.UploadRejectedError, match="Torrent illisible"):
            await client.upload(title="T", category="films", torrent=make_torrent("T.2020"))


async def test_upload_500_is_not_retried(sandbox: SandboxServer) -> None:
    sandbox.faults.add(Fault.error(500), endpoint="upload", times=None)
    async with client_for(sandbox, max_retries=3) as client:
        with pytest.raises(la.ServerError) as info:
            await client.upload(title="T", category="films", torrent=make_torrent("U.2020"))
    assert info.value.outcome_unknown
    assert len([r for r in sandbox.requests if r.endpoint == "upload"]) == 1


async def test_the_pytest_plugin_fixtures(
    lacale_sandbox: SandboxServer, lacale_client: LaCaleClient
) -> None:
    meta = await lacale_client.meta()
    assert meta.categories
    assert lacale_client.base_url == lacale_sandbox.base_url
