"""Fleet mode against a misbehaving Redis: fake servers speaking broken RESP, keys another
program garbled or deleted, a paused, flushed or re-passworded server.

What must hold whatever Redis does: every error a user meets is a :class:`LaCaleError` with a
clear message and never the password; ``"fail"`` raises, ``"local"`` warns once and limits in
process; the shared limiter never lets more through than its rates without saying so.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import shutil
import socket
import subprocess
import time
import traceback
from collections.abc import Awaitable, Callable, Iterator
from types import TracebackType
from typing import TYPE_CHECKING

import pytest

redis = pytest.importorskip("redis")

from lacale_async import (  # noqa: E402
    BackendError,
    Clock,
    FakeClock,
    LaCaleError,
    MonotonicClock,
)
from lacale_async.fleet import RedisBackend, RedisLimiter  # noqa: E402

if TYPE_CHECKING:
    from _redis import RedisFactory
    from redis import Redis as SyncRedis

pytest_plugins = ["_redis"]
pytestmark = pytest.mark.redis

SCOPE = "h" * 64
PASSWORD = "hunter2-fleet-pw"

# What the fake server answers to one command: bytes to send, or None to never answer.
Answer = Callable[[list[bytes]], bytes | None]


class FakeRedis:
    """A TCP server on 127.0.0.1 that parses RESP commands and answers what ``answer`` says.

    ``PING`` and the ``CLIENT``/``HELLO`` handshake redis-py sends on connect get ordinary
    replies unless ``answer`` handles them, so a backend opens and the hostility starts with
    the first real command. ``close_after`` closes each connection after that many replies.
    """

    def __init__(self, answer: Answer, *, handshake: bool = True, close_after: int = 0) -> None:
        self._answer = answer
        self._handshake = handshake
        self._close_after = close_after
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self.commands: list[list[bytes]] = []
        self.port = 0

    @property
    def url(self) -> str:
        return f"redis://:{PASSWORD}@127.0.0.1:{self.port}/0"

    async def __aenter__(self) -> FakeRedis:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._server is not None
        self._server.close()
        for writer in list(self._writers):
            writer.close()
        await self._server.wait_closed()

    def _reply(self, command: list[bytes]) -> bytes | None:
        name = command[0].upper() if command else b""
        if self._handshake:
            if name == b"PING":
                return b"+PONG\r\n"
            if name in (b"CLIENT", b"AUTH", b"SELECT"):
                return b"+OK\r\n"
            if name == b"HELLO":
                return b"%1\r\n$5\r\nproto\r\n:3\r\n"
        return self._answer(command)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        replies = 0
        try:
            while True:
                header = await reader.readline()
                if not header.startswith(b"*"):
                    return
                command = []
                for _ in range(int(header[1:])):
                    size = int((await reader.readline())[1:])
                    command.append((await reader.readexactly(size + 2))[:-2])
                self.commands.append(command)
                reply = self._reply(command)
                if reply is None:
                    continue  # never answered: the client waits for its timeout
                writer.write(reply)
                await writer.drain()
                replies += 1
                if self._close_after and replies >= self._close_after:
                    return
        except (OSError, asyncio.IncompleteReadError, ValueError):
            return
        finally:
            self._writers.discard(writer)
            writer.close()


def assert_clean(exc: BaseException) -> None:
    """A LaCaleError whose message, repr, traceback and chain never hold the password.

    The chain is walked the way tracebacks and error reporters walk it: a context suppressed
    with ``from None`` is not part of it.
    """
    assert isinstance(exc, LaCaleError), f"{type(exc).__name__} escaped: {exc}"
    assert "Redis" in str(exc)
    shown = "".join(traceback.format_exception(exc)) + repr(exc)
    chained: BaseException | None = exc
    while chained is not None:
        shown += str(chained) + repr(chained)
        suppressed = chained.__suppress_context__
        chained = chained.__cause__ or (None if suppressed else chained.__context__)
    assert PASSWORD not in shown


async def one_slot(limiter: RedisLimiter) -> None:
    async with limiter.slot():
        pass


def search_limiter(
    backend: RedisBackend, rates: list[tuple[int, float]], clock: Clock | None = None
) -> RedisLimiter:
    limiter = backend.limiter(
        scope=SCOPE,
        endpoint="search",
        rates=rates,
        clock=clock if clock is not None else MonotonicClock(),
    )
    assert isinstance(limiter, RedisLimiter)
    return limiter


async def raises_fast(call: Awaitable[object], within: float = 5.0) -> BaseException:
    """Await ``call``; return what it raised (``within`` is only a safety net)."""
    try:
        await asyncio.wait_for(call, within)
    except TimeoutError as exc:
        pytest.fail(f"still waiting after {within}s: {exc!r}")
    except Exception as exc:  # the test inspects whatever escaped
        return exc
    pytest.fail("nothing was raised")


# -- fake servers speaking broken RESP -------------------------------------------------------


async def test_a_server_that_never_answers_fails_open_within_the_timeout() -> None:
    async with FakeRedis(lambda _: None, handshake=False) as fake:
        backend = RedisBackend(fake.url, timeout=0.2)
        exc = await raises_fast(backend.open())
    assert isinstance(exc, BackendError)
    assert_clean(exc)
    assert "cannot reach Redis" in str(exc)


async def test_protocol_garbage_at_open_is_a_backend_error() -> None:
    async with FakeRedis(lambda _: b"?this is no resp\r\n", handshake=False) as fake:
        backend = RedisBackend(fake.url, timeout=0.5)
        exc = await raises_fast(backend.open())
    assert isinstance(exc, BackendError)
    assert_clean(exc)


@pytest.mark.parametrize(
    "reply",
    [
        pytest.param(None, id="never-answers"),
        pytest.param(b"?garbage\r\n", id="protocol-garbage"),
        pytest.param(b"-ERR " + PASSWORD.encode() + b" is wrong\r\n", id="error-quoting-pw"),
        pytest.param(b":7\r\n", id="an-integer"),
        pytest.param(b"*1\r\n$1\r\n1\r\n", id="an-array-too-short"),
    ],
)
async def test_a_hostile_reply_to_a_slot_is_a_clean_backend_error_under_fail(
    reply: bytes | None,
) -> None:
    async with (
        FakeRedis(lambda _: reply) as fake,
        RedisBackend(fake.url, timeout=0.2) as backend,
    ):
        exc = await raises_fast(one_slot(search_limiter(backend, [(3, 1.0)])))
        assert isinstance(exc, BackendError)
        assert_clean(exc)
        assert "waiting for a search rate-limit slot" in str(exc)
        assert not backend.degraded


@pytest.mark.parametrize(
    "reply",
    [pytest.param(b"+OK\r\n", id="status-OK"), pytest.param(b"$2\r\n10\r\n", id="bulk-10")],
)
async def test_a_string_reply_to_a_slot_is_a_backend_error_not_a_long_wait(reply: bytes) -> None:
    async with (
        FakeRedis(lambda _: reply) as fake,
        RedisBackend(fake.url, timeout=0.2) as backend,
    ):
        exc = await raises_fast(one_slot(search_limiter(backend, [(3, 1.0)])), within=1.0)
        assert isinstance(exc, BackendError)


async def test_a_server_that_closes_after_each_reply_is_a_backend_error() -> None:
    # Each connection answers its first command (the connect handshake), then hangs up.
    async with FakeRedis(lambda _: b"+PONG\r\n", handshake=False, close_after=1) as fake:
        backend = RedisBackend(fake.url, timeout=0.5)
        exc = await raises_fast(backend.open())
    assert isinstance(exc, BackendError)
    assert_clean(exc)


async def test_a_fake_that_stops_answering_degrades_once_and_limits_locally(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="lacale_async.fleet")
    clock = FakeClock()
    async with (
        FakeRedis(lambda _: None) as fake,
        RedisBackend(fake.url, on_redis_error="local", timeout=0.2) as backend,
    ):
        limiter = search_limiter(backend, [(2, 10.0)], clock)
        entries = []
        for _ in range(3):
            async with limiter.slot():
                entries.append(clock.now())
        assert backend.degraded
    # The local window still holds: the third waited for the first's 10 s window (fake time).
    assert entries[2] - entries[0] >= 10.0
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert PASSWORD not in caplog.text


async def test_a_cache_read_answered_with_garbage_bytes_is_a_miss() -> None:
    async with (
        FakeRedis(lambda c: b"$5\r\n\xff\x00lc1\r\n" if c[0].upper() == b"GET" else b":1\r\n") as f,
        RedisBackend(f.url, timeout=0.2) as backend,
    ):
        cache = backend.cache(scope=SCOPE, namespace="search", max_entries=8, clock=FakeClock())
        assert await cache.get("dune") is None
        # The unreadable entry was dropped so the next reader fetches afresh.
        deleted = [c[1:] for c in f.commands if c[0].upper() == b"DEL"]
        assert deleted == [[cache_key("lacale", "dune").encode()]]


# -- a real Redis: garbled, deleted, paused, re-passworded -----------------------------------


def rl_key(prefix: str, part: str) -> str:
    return f"{prefix}:{{{SCOPE}}}:rl:search:{part}"


def cache_key(prefix: str, key: str) -> str:
    digest = hashlib.sha256(key.encode()).hexdigest()[:32]
    return f"{prefix}:{{{SCOPE}}}:c:search:{digest}"


def wrong_type(raw: SyncRedis, key: str) -> None:
    raw.delete(key)
    raw.rpush(key, "not", "what", "the", "sdk", "wrote")


@pytest.mark.parametrize("part", ["busy", "done", "pause", "span"])
async def test_a_limiter_key_of_the_wrong_type_is_a_clean_backend_error(
    redis_url: str, redis_prefix: str, part: str
) -> None:
    async with RedisBackend(redis_url, prefix=redis_prefix, timeout=1.0) as backend:
        limiter = search_limiter(backend, [(5, 1.0)])
        await one_slot(limiter)
        with redis.Redis.from_url(redis_url) as raw:
            wrong_type(raw, rl_key(redis_prefix, part))
        exc = await raises_fast(one_slot(limiter))
    assert isinstance(exc, BackendError)
    assert_clean(exc)
    assert "waiting for a search rate-limit slot" in str(exc)


@pytest.mark.parametrize("part", ["span", "pause"])
async def test_a_limiter_key_holding_text_is_a_clean_backend_error(
    redis_url: str, redis_prefix: str, part: str
) -> None:
    async with RedisBackend(redis_url, prefix=redis_prefix, timeout=1.0) as backend:
        limiter = search_limiter(backend, [(5, 1.0)])
        await one_slot(limiter)
        with redis.Redis.from_url(redis_url) as raw:
            raw.set(rl_key(redis_prefix, part), b"\xff not a number")
        exc = await raises_fast(one_slot(limiter))
    assert isinstance(exc, BackendError)
    assert_clean(exc)


async def test_a_garbled_key_under_local_degrades_once_and_counts_the_redis_slots(
    redis_url: str, redis_prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="lacale_async.fleet")
    clock = FakeClock()
    async with RedisBackend(
        redis_url, prefix=redis_prefix, on_redis_error="local", timeout=1.0
    ) as backend:
        limiter = search_limiter(backend, [(2, 10.0)], clock)
        entries = []
        for i in range(3):
            if i == 2:
                with redis.Redis.from_url(redis_url) as raw:
                    wrong_type(raw, rl_key(redis_prefix, "done"))
            async with limiter.slot():
                entries.append(clock.now())
        assert backend.degraded
    # The two slots taken in Redis fill the local window: the third waits 10 s (fake time).
    assert entries[1] - entries[0] < 10.0
    assert entries[2] - entries[0] >= 10.0
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "WRONGTYPE" in warnings[0]


async def test_a_script_flush_mid_run_reloads_the_scripts_and_keeps_the_window(
    redis_url: str, redis_prefix: str
) -> None:
    async with RedisBackend(redis_url, prefix=redis_prefix, timeout=1.0) as backend:
        limiter = search_limiter(backend, [(3, 30.0)])
        for _ in range(3):
            await one_slot(limiter)
        with redis.Redis.from_url(redis_url) as raw:
            raw.script_flush()
        # NOSCRIPT is answered by loading the script again; the full window still holds.
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(one_slot(limiter), 0.3)
        with redis.Redis.from_url(redis_url) as raw:
            assert raw.zcard(rl_key(redis_prefix, "done")) == 3
            assert raw.zcard(rl_key(redis_prefix, "busy")) == 0


async def test_a_flushall_mid_run_never_silently_lets_the_window_overflow(
    redis_factory: RedisFactory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="lacale_async.fleet")
    with redis_factory() as server:
        async with RedisBackend(server.url, timeout=1.0) as backend:
            limiter = search_limiter(backend, [(3, 30.0)])
            for _ in range(3):
                await one_slot(limiter)
            with redis.Redis.from_url(server.url) as raw:
                raw.flushall()
            # It waits for the window, by this process's own grants, and says why.
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(one_slot(limiter), 0.3)
    [warning] = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert "lost the shared rate-limit window" in warning


async def test_a_cache_entry_of_the_wrong_type_is_a_miss(redis_url: str, redis_prefix: str) -> None:
    # Under the default "fail": a WRONGTYPE raised BackendError out of search(); under "local"
    # one such key sent the whole backend, limiters too, local for good.
    async with RedisBackend(redis_url, prefix=redis_prefix, timeout=1.0) as backend:
        cache = backend.cache(scope=SCOPE, namespace="search", max_entries=8, clock=FakeClock())
        with redis.Redis.from_url(redis_url) as raw:
            wrong_type(raw, cache_key(redis_prefix, "dune"))
            assert await cache.get("dune") is None
            assert raw.exists(cache_key(redis_prefix, "dune")) == 0  # dropped, as corrupt bytes


@pytest.mark.parametrize("part", ["busy", "done", "pause"])
async def test_a_key_budget_key_of_the_wrong_type_is_a_clean_backend_error(
    redis_url: str, redis_prefix: str, part: str
) -> None:
    async with RedisBackend(redis_url, prefix=redis_prefix, timeout=1.0) as backend:
        ledger = backend.key_ledger(scope=SCOPE, clock=MonotonicClock(), store=None)
        with redis.Redis.from_url(redis_url) as raw:
            wrong_type(raw, f"{redis_prefix}:{{{SCOPE}}}:kb:{part}")
        exc = await raises_fast(ledger.take([(3, 1.0, 1.02)], 30.0))
    assert isinstance(exc, BackendError)
    assert_clean(exc)
    assert "key-wide budget" in str(exc)


async def test_a_client_pause_is_a_backend_error_within_the_timeout(
    redis_factory: RedisFactory,
) -> None:
    with redis_factory(password=PASSWORD) as server:
        async with RedisBackend(server.url, timeout=0.2) as backend:
            limiter = search_limiter(backend, [(3, 1.0)])
            await one_slot(limiter)
            with redis.Redis.from_url(server.url) as raw:
                # Not unpaused: this Redis (7.0) holds CLIENT UNPAUSE itself until the end.
                raw.execute_command("CLIENT", "PAUSE", 5000, "ALL")
            exc = await raises_fast(one_slot(limiter), within=2.0)
    assert isinstance(exc, BackendError)
    assert_clean(exc)


async def test_a_password_changed_mid_run_is_a_clean_error_and_a_clean_warning(
    redis_factory: RedisFactory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="lacale_async")
    with redis_factory(password=PASSWORD) as server:
        async with (
            RedisBackend(server.url, timeout=0.5) as failing,
            RedisBackend(server.url, on_redis_error="local", timeout=0.5) as local,
        ):
            strict, lenient = search_limiter(failing, [(3, 1.0)]), search_limiter(local, [(3, 1.0)])
            await one_slot(strict)
            await one_slot(lenient)
            with redis.Redis.from_url(server.url) as raw:
                raw.config_set("requirepass", "another-" + PASSWORD)
                raw.execute_command("CLIENT", "KILL", "TYPE", "normal")
            exc = await raises_fast(one_slot(strict))
            await one_slot(lenient)
            assert local.degraded
    assert isinstance(exc, BackendError)
    assert_clean(exc)
    assert PASSWORD not in caplog.text
    assert [r.levelno for r in caplog.records].count(logging.WARNING) == 1


async def test_redis_killed_while_a_slot_is_held_never_raises_at_exit(
    redis_factory: RedisFactory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="lacale_async.fleet")
    with redis_factory(password=PASSWORD) as server:
        async with RedisBackend(server.url, timeout=0.2) as backend:
            limiter = search_limiter(backend, [(3, 1.0)])
            async with limiter.slot():
                server.kill()  # mid-request: the tracker's answer must not be thrown away
            exc = await raises_fast(one_slot(limiter))
    assert isinstance(exc, BackendError)
    assert_clean(exc)
    [warning] = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert "frees when its lease ends" in warning
    assert PASSWORD not in caplog.text


async def test_a_full_redis_under_noeviction_is_a_clean_backend_error(
    redis_factory: RedisFactory,
) -> None:
    with redis_factory(password=PASSWORD) as server:
        async with RedisBackend(server.url, timeout=1.0) as backend:
            limiter = search_limiter(backend, [(3, 1.0)])
            with redis.Redis.from_url(server.url) as raw:
                raw.config_set("maxmemory", 1)
                try:
                    exc = await raises_fast(one_slot(limiter))
                finally:
                    raw.config_set("maxmemory", 0)
    assert isinstance(exc, BackendError)
    assert_clean(exc)
    assert "maxmemory" in str(exc)


async def test_exit_stamps_in_the_future_count_as_now_not_as_a_day_away(
    redis_url: str, redis_prefix: str
) -> None:
    async with RedisBackend(redis_url, prefix=redis_prefix, timeout=1.0) as backend:
        limiter = search_limiter(backend, [(3, 1.0)])
        await one_slot(limiter)
        with redis.Redis.from_url(redis_url) as raw:
            seconds, _ = raw.time()
            raw.zadd(rl_key(redis_prefix, "done"), {f"x{i}": seconds + 86_400 for i in range(3)})
        # Refused (a BackendError) or admitted after at most the 1 s window: never a day.
        with contextlib.suppress(BackendError):
            await asyncio.wait_for(one_slot(limiter), 2.0)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def redis_on(port: int) -> Iterator[None]:
    """Run a ``redis-server`` with ``PASSWORD`` on ``port`` (a restart reuses the port)."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed (apt-get install redis-server)")
    args = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly"]
    args += ["no", "--requirepass", PASSWORD, "--loglevel", "warning"]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 5.0
        with redis.Redis(port=port, password=PASSWORD, socket_timeout=0.2) as probe:
            while True:
                with contextlib.suppress(redis.RedisError):
                    if probe.ping():
                        break
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail("redis-server did not start")
                time.sleep(0.02)  # waiting for a real process: no clock to inject
        yield
    finally:
        proc.kill()
        proc.wait(timeout=5)


async def test_a_redis_restarted_mid_run_fails_one_call_then_serves_again_under_fail() -> None:
    port = free_port()
    url = f"redis://:{PASSWORD}@127.0.0.1:{port}/0"
    with redis_on(port):
        backend = RedisBackend(url, timeout=0.3)
        await backend.open()
    try:
        limiter = search_limiter(backend, [(3, 1.0)])
        exc = await raises_fast(one_slot(limiter))  # the server is gone meanwhile
        assert isinstance(exc, BackendError)
        assert_clean(exc)
        with redis_on(port):
            # "fail" is per call: once Redis is back, the same backend shares limits again.
            await one_slot(limiter)
            with redis.Redis(port=port, password=PASSWORD) as raw:
                assert raw.zcard(rl_key("lacale", "done")) == 1
        assert not backend.degraded
    finally:
        await backend.aclose()
