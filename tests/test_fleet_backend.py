"""RedisBackend: lifecycle, configuration, secrets kept out of messages, Redis failures."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import pytest

redis = pytest.importorskip("redis")

from lacale_async import (  # noqa: E402
    Backend,
    BackendError,
    ClientStateError,
    ConfigurationError,
    LaCaleClient,
    Meta,
    MonotonicClock,
    WindowLimiter,
)
from lacale_async.fleet import RedisBackend, RedisCache, RedisLimiter  # noqa: E402
from lacale_async.fleet._failure import REDIS_ERRORS, MalformedReply, reply_number  # noqa: E402
from lacale_async.fleet._quota import _parse_read  # noqa: E402
from lacale_async.testing import RateLimit, SandboxConfig, SandboxServer  # noqa: E402

if TYPE_CHECKING:
    from _redis import RedisFactory

pytest_plugins = ["_redis"]
pytestmark = pytest.mark.redis

CLOCK = MonotonicClock()
SCOPE = "a" * 64


# -- pure configuration ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"url_or_client": "http://:hunter2@h:6379"}, "redis://"),
        # One slash or none after the scheme: no network location, so nothing was redacted.
        ({"url_or_client": "redis:/:hunter2@127.0.0.1:6379/0"}, "'redis:/'"),
        ({"url_or_client": "redis::hunter2@127.0.0.1:6379/0"}, "'redis:'"),
        ({"url_or_client": "hunter2@127.0.0.1:6379"}, "redis://"),
        ({"url_or_client": 6379}, "redis.asyncio.Redis"),
        ({"prefix": ""}, "prefix"),
        ({"prefix": "a{b}"}, "prefix"),
        ({"on_redis_error": "ignore"}, "on_redis_error"),
        ({"lock_timeout": 0}, "lock_timeout"),
        ({"slot_lease": float("nan")}, "slot_lease"),
        ({"timeout": -1}, "timeout"),
        # float() of it raised a raw OverflowError.
        pytest.param({"timeout": 10**5000}, "timeout", id="timeout=10**5000"),
        pytest.param({"lock_timeout": 1e300}, "lock_timeout", id="lock_timeout=1e300"),
        # repr() of it in the message raised a raw ValueError (Python's int digit limit).
        pytest.param({"prefix": 10**5000}, "prefix", id="prefix=10**5000"),
        pytest.param({"on_redis_error": 10**5000}, "on_redis_error", id="on_redis_error=10**5000"),
    ],
)
def test_bad_configuration_is_refused(kwargs: dict[str, object], fragment: str) -> None:
    options: dict[str, object] = {"url_or_client": "redis://localhost"}
    options.update(kwargs)
    url = options.pop("url_or_client")
    with pytest.raises(ConfigurationError) as info:
        RedisBackend(url, **options)  # type: ignore[arg-type]
    assert fragment in str(info.value)
    assert "hunter2" not in str(info.value)


def test_repr_never_shows_the_password() -> None:
    backend = RedisBackend("redis://:hunter2@localhost:6379/0")
    assert "hunter2" not in repr(backend)
    assert "***" in repr(backend)
    assert isinstance(backend, Backend)


async def test_unopened_backend_refuses_to_build_limiters() -> None:
    backend = RedisBackend("redis://localhost:6379/0")
    with pytest.raises(ClientStateError, match="not open"):
        backend.limiter(scope=SCOPE, endpoint="search", rates=[(1, 1.0)], clock=CLOCK)
    with pytest.raises(ClientStateError, match="not open"):
        backend.cache(scope=SCOPE, namespace="search", max_entries=8, clock=CLOCK)


async def test_redis_down_at_open_raises_backend_error_without_the_password() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # nothing listens there once closed
    backend = RedisBackend(f"redis://:hunter2@127.0.0.1:{port}/0", timeout=2.0)
    with pytest.raises(BackendError) as info:
        await backend.open()
    message = str(info.value)
    assert "cannot reach Redis" in message
    assert f"127.0.0.1:{port}" in message
    assert "hunter2" not in message
    assert "hunter2" not in repr(info.value.__cause__ or "")
    await backend.aclose()


@pytest.mark.parametrize(
    "url",
    [
        "redis://:hun7er#tw0z@127.0.0.1:{port}/0",  # redis-py: "port ... 'hun7er'"
        "redis://:hun7er?tw0z@127.0.0.1:{port}/0",
        "redis://bob:hun7er/tw0z@127.0.0.1:{port}/0",
        "redis://hun7er#tw0z@127.0.0.1:{port}/0",  # parses: connects to a host "hun7er"
    ],
)
async def test_a_malformed_url_never_shows_a_piece_of_the_password(url: str) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    backend = RedisBackend(url.format(port=port), timeout=1.0)
    with pytest.raises((ConfigurationError, BackendError)) as info:
        await backend.open()
    await backend.aclose()
    for shown in (str(info.value), repr(backend)):
        assert "hun7er" not in shown
        assert "tw0z" not in shown
    assert "***" in str(info.value)


async def test_wrong_password_at_open_raises_backend_error(redis_factory: RedisFactory) -> None:
    with redis_factory(password="right-one") as server:
        url = f"redis://:wrong-one@127.0.0.1:{server.port}/0"
        with pytest.raises(BackendError) as info:
            await RedisBackend(url).open()
        assert "wrong-one" not in str(info.value)


# -- against a real Redis --------------------------------------------------------------------


@pytest.fixture
async def backend(redis_url: str, redis_prefix: str) -> AsyncIterator[RedisBackend]:
    async with RedisBackend(redis_url, prefix=redis_prefix) as b:
        yield b


async def test_lifecycle_open_use_close(redis_url: str, redis_prefix: str) -> None:
    backend = RedisBackend(redis_url, prefix=redis_prefix)
    assert await backend.open() is backend
    with pytest.raises(ClientStateError, match="already open"):
        await backend.open()
    limiter = backend.limiter(scope=SCOPE, endpoint="search", rates=[(2, 1.0)], clock=CLOCK)
    cache = backend.cache(scope=SCOPE, namespace="search", max_entries=8, clock=CLOCK)
    assert isinstance(limiter, RedisLimiter)
    assert isinstance(cache, RedisCache)
    assert "state='open'" in repr(backend)
    await backend.aclose()
    await backend.aclose()  # idempotent
    with pytest.raises(ClientStateError, match="closed"):
        await backend.open()
    with pytest.raises(ClientStateError, match="closed"):
        async with limiter.slot():
            pass
    with pytest.raises(ClientStateError, match="closed"):
        await cache.get("k")


async def test_a_client_passed_in_is_used_and_left_open(redis_url: str, redis_prefix: str) -> None:
    client = redis.asyncio.Redis.from_url(redis_url, decode_responses=True)
    try:
        async with RedisBackend(client, prefix=redis_prefix) as backend:
            assert backend.client is client
            cache = backend.cache(scope=SCOPE, namespace="meta", max_entries=4, clock=CLOCK)
            limiter = backend.limiter(scope=SCOPE, endpoint="meta", rates=[(1, 1.0)], clock=CLOCK)
            async with limiter.slot():
                pass
            assert await cache.get("k") is None
            await cache.set("k", Meta(), 30)  # str replies (decode_responses) decode too
            assert await cache.get("k") == Meta()
        assert await client.ping() is True  # still usable: the caller owns it
    finally:
        await client.aclose()


async def test_unknown_namespace_gets_an_in_process_cache(backend: RedisBackend) -> None:
    cache = backend.cache(scope=SCOPE, namespace="other", max_entries=8, clock=CLOCK)
    assert not isinstance(cache, RedisCache)
    await cache.set("k", object(), 10)
    assert await cache.get("k") is not None


async def test_keys_use_the_scope_never_the_api_key(
    redis_url: str, redis_prefix: str, backend: RedisBackend
) -> None:
    key = "the-secret-api-key-0123456789"
    async with SandboxServer(SandboxConfig(api_key=key)) as sandbox:  # noqa: SIM117
        async with LaCaleClient(
            key, base_url=sandbox.base_url, backend=backend, search_rate=(5, 1.0), cache_ttl=30
        ) as client:
            await client.search("dune")
            await client.meta()
    raw = redis.Redis.from_url(redis_url)
    try:
        keys = [k.decode() for k in raw.scan_iter(match=f"{redis_prefix}:*")]
    finally:
        raw.close()
    assert keys  # limiter history and cache entries were written
    assert not any(key in k for k in keys)
    assert any(":rl:search:" in k for k in keys)
    assert any(":c:search:" in k for k in keys)


# -- Redis dying mid-run -----------------------------------------------------------------------


async def test_redis_killed_mid_run_with_fail_raises_and_sends_nothing(
    redis_factory: RedisFactory,
) -> None:
    limits = {"search": RateLimit(5, 1.0)}
    with redis_factory(password="s3cret-pw") as server:
        async with (
            SandboxServer(SandboxConfig(key_limits=limits, ip_limits=limits)) as sandbox,
            RedisBackend(server.url, on_redis_error="fail", timeout=1.0) as backend,
            LaCaleClient(
                sandbox.api_key,
                base_url=sandbox.base_url,
                backend=backend,
                search_rate=(5, 1.0),
                cache_ttl=0,
                max_retries=0,
            ) as client,
        ):
            await client.search("before")
            server.kill()
            with pytest.raises(BackendError) as info:
                await client.search("after")
            assert "s3cret-pw" not in str(info.value)
            assert "waiting for a search rate-limit slot" in str(info.value)
            assert [r.query for r in sandbox.requests if r.endpoint == "search"] == [
                (("q", "before"),)
            ]
            assert not backend.degraded


async def test_redis_killed_mid_run_with_local_falls_back_and_warns_once(
    redis_factory: RedisFactory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="lacale_async.fleet")
    with redis_factory(password="s3cret-pw") as server:
        async with (
            SandboxServer() as sandbox,
            RedisBackend(server.url, on_redis_error="local", timeout=1.0) as backend,
            LaCaleClient(
                sandbox.api_key,
                base_url=sandbox.base_url,
                backend=backend,
                search_rate=(1, 0.3),
                cache_ttl=30,
                max_retries=0,
            ) as client,
        ):
            await client.search("before")
            server.kill()
            loop = asyncio.get_running_loop()
            start = loop.time()
            await client.search("after 1")
            await client.search("after 2")
            elapsed = loop.time() - start
            await client.search("after 2")  # cached locally now
            assert backend.degraded
            searches = [r for r in sandbox.requests if r.endpoint == "search"]
            assert len(searches) == 3
    # The fallback still limits: the second search waited for the first one's window.
    assert elapsed >= 0.3
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "on_redis_error='local'" in warnings[0].getMessage()
    assert "s3cret-pw" not in caplog.text


async def test_local_fallback_limiter_enforces_the_rates(redis_factory: RedisFactory) -> None:
    with redis_factory() as server:
        async with RedisBackend(server.url, on_redis_error="local", timeout=1.0) as backend:
            limiter = backend.limiter(scope=SCOPE, endpoint="search", rates=[(2, 0.4)], clock=CLOCK)
            assert isinstance(limiter, RedisLimiter)
            assert isinstance(limiter.fallback, WindowLimiter)
            server.kill()
            loop = asyncio.get_running_loop()
            entries: list[float] = []
            for _ in range(3):
                async with limiter.slot():
                    entries.append(loop.time())
            assert backend.degraded
    assert entries[2] - entries[0] >= 0.4  # the third waited for the window of the first


async def test_local_fallback_starts_with_the_requests_sent_through_redis(
    redis_factory: RedisFactory,
) -> None:
    with redis_factory() as server:
        async with RedisBackend(server.url, on_redis_error="local", timeout=1.0) as backend:
            limiter = backend.limiter(scope=SCOPE, endpoint="search", rates=[(3, 0.5)], clock=CLOCK)
            loop = asyncio.get_running_loop()
            inside: list[float] = []
            for _ in range(3):
                async with limiter.slot():
                    inside.append(loop.time())
            server.kill()
            async with limiter.slot():
                entered = loop.time()
            assert backend.degraded
    # The window was spent through Redis: the fallback must not grant a fourth before the
    # first one's window is over. Its exit was stamped after inside[0], never before; the
    # time after the third exit is no bound (the fallback owes nothing from it).
    assert entered - inside[0] >= 0.5


async def test_local_fallback_counts_a_redis_slot_still_in_flight(
    redis_factory: RedisFactory,
) -> None:
    with redis_factory() as server:
        async with RedisBackend(server.url, on_redis_error="local", timeout=1.0) as backend:
            limiter = backend.limiter(scope=SCOPE, endpoint="search", rates=[(1, 0.3)], clock=CLOCK)
            loop = asyncio.get_running_loop()

            async def enter() -> float:
                async with limiter.slot():
                    return loop.time()

            async with limiter.slot():
                server.kill()
                waiter = asyncio.create_task(enter())
                await asyncio.sleep(0.2)
                assert not waiter.done()  # the request in flight holds the only slot
                left = loop.time()
            entered = await waiter
            assert backend.degraded
    assert entered - left >= 0.3


async def test_local_fallback_cache_works_in_process(redis_factory: RedisFactory) -> None:
    with redis_factory() as server:
        async with RedisBackend(server.url, on_redis_error="local", timeout=1.0) as backend:
            cache = backend.cache(scope=SCOPE, namespace="meta", max_entries=4, clock=CLOCK)
            server.kill()
            assert await cache.get("k") is None
            await cache.set("k", "value", 10)
            assert await cache.get("k") == "value"
            async with cache.fill("other") as filled:
                assert filled is None
            assert backend.degraded


async def test_a_fill_holding_its_lock_when_redis_fails_warns_once_and_lets_go_locally(
    redis_factory: RedisFactory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="lacale_async.fleet")
    with redis_factory() as server:
        async with RedisBackend(server.url, on_redis_error="local", timeout=1.0) as backend:
            cache = backend.cache(scope=SCOPE, namespace="meta", max_entries=4, clock=CLOCK)
            async with cache.fill("k") as filled:
                assert filled is None  # this process holds the lock
                server.kill()
                await cache.set("k", "value", 10)  # fails: the backend goes local
            assert backend.degraded
            assert await cache.get("k") == "value"
    # Once local, the process no longer talks to Redis: no second warning for the unlock.
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1, warnings
    assert "on_redis_error='local'" in warnings[0]


async def test_fail_mode_cache_raises_backend_error(redis_factory: RedisFactory) -> None:
    with redis_factory() as server:
        async with RedisBackend(server.url, timeout=1.0) as backend:
            cache = backend.cache(scope=SCOPE, namespace="meta", max_entries=4, clock=CLOCK)
            server.kill()
            with pytest.raises(BackendError, match="reading the meta cache"):
                await cache.get("k")
            limiter = backend.limiter(scope=SCOPE, endpoint="meta", rates=[(1, 1.0)], clock=CLOCK)
            with pytest.raises(BackendError, match="429 pause"):
                await limiter.pause(1.0)


async def test_refresh_fetches_even_when_the_shared_cache_has_a_value(
    backend: RedisBackend,
) -> None:
    async with SandboxServer() as sandbox:  # noqa: SIM117
        async with LaCaleClient(
            sandbox.api_key,
            base_url=sandbox.base_url,
            backend=backend,
            search_rate=None,
            meta_rate=None,
            cache_ttl=30,
        ) as client:
            await client.search("dune")
            await client.meta()
            await client.search("dune", cache="refresh")
            await client.meta(cache="refresh")
            await client.search("dune")
    sent = [r.endpoint for r in sandbox.requests]
    assert sent.count("search") == 2
    assert sent.count("meta") == 2


@pytest.mark.parametrize("junk", [b"inf", "nan", "junk", None, b"\xff"])
def test_a_reply_number_no_fleet_writes_is_malformed(junk: object) -> None:
    with pytest.raises(MalformedReply):
        reply_number(junk)


def test_a_wait_of_years_is_malformed_and_a_time_is_not() -> None:
    assert reply_number(b"1764600000.5") == 1764600000.5  # a Redis TIME, in seconds
    assert reply_number(b"-1", wait=True) == -1.0  # "wait for an exit"
    with pytest.raises(MalformedReply):
        reply_number(b"1e12", wait=True)


def test_a_reply_of_the_wrong_shape_is_a_redis_failure() -> None:
    with pytest.raises(REDIS_ERRORS):
        _parse_read([])


async def test_a_redis_that_evicts_keys_is_warned_about(
    redis_url: str, redis_prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    def warnings() -> list[str]:
        return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]

    with redis.Redis.from_url(redis_url) as raw:
        assert raw.config_get("maxmemory-policy")["maxmemory-policy"] == "noeviction"
        async with RedisBackend(redis_url, prefix=redis_prefix):
            pass
        assert warnings() == []
        raw.config_set("maxmemory-policy", "volatile-lru")
        try:
            async with RedisBackend(redis_url, prefix=redis_prefix):
                pass
        finally:
            raw.config_set("maxmemory-policy", "noeviction")
    [warning] = warnings()
    assert "maxmemory-policy 'volatile-lru'" in warning
    assert "use noeviction" in warning
