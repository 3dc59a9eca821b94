"""A Redis for the fleet tests: ``REDIS_URL`` when set, else a private ``redis-server``.

A pytest plugin: a test module loads it with ``pytest_plugins = ["_redis"]`` (tests/conftest.py
is not touched) and asks for the fixtures by name. Each test gets its own key prefix, and its
keys are deleted afterwards, so a shared ``REDIS_URL`` is never flushed. Without ``REDIS_URL``
and without the ``redis-server`` binary the tests are skipped.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractContextManager
from types import TracebackType
from typing import Any

import pytest
import pytest_asyncio
import redis

from lacale_async.fleet import RedisBackend

NO_SERVER = (
    "no Redis for the fleet tests: set REDIS_URL=redis://host:port/db, or install "
    "redis-server (apt-get install redis-server)"
)


def free_port() -> int:
    """Return a TCP port that was free on 127.0.0.1 a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _pings(port: int, password: str | None) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2) as sock:
            if password:
                sock.sendall(f"AUTH {password}\r\n".encode())
                sock.recv(64)
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


class RedisServer:
    """A ``redis-server`` process started by the tests, on 127.0.0.1."""

    def __init__(self, port: int, proc: subprocess.Popen[bytes], password: str | None) -> None:
        self.port = port
        self.password = password
        self._proc = proc

    @property
    def url(self) -> str:
        """The server's URL, with its password when it has one."""
        auth = f":{self.password}@" if self.password else ""
        return f"redis://{auth}127.0.0.1:{self.port}/0"

    def kill(self) -> None:
        """Kill the server at once (SIGKILL), as a crash would."""
        if self._proc.poll() is None:
            self._proc.kill()
        self._proc.wait(timeout=5)


@contextlib.contextmanager
def spawn_redis(password: str | None = None) -> Iterator[RedisServer]:
    """Start a throw-away ``redis-server`` on a free port; skip the test when there is none.

    Args:
        password: Makes the server require this password (``--requirepass``).

    Yields:
        The running server; it is killed on exit.
    """
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed (apt-get install redis-server)")
    for _ in range(3):  # the free port can be taken between the probe and the bind
        port = free_port()
        args = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
        args += ["--appendonly", "no", "--daemonize", "no", "--loglevel", "warning"]
        if password:
            args += ["--requirepass", password]
        proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        server = RedisServer(port, proc, password)
        deadline = time.monotonic() + 5.0
        while proc.poll() is None and time.monotonic() < deadline:
            if _pings(port, password):
                try:
                    yield server
                finally:
                    server.kill()
                return
            time.sleep(0.02)
        server.kill()
    pytest.fail("redis-server did not start")


class ReplyDelayProxy:
    """A TCP proxy to a Redis on 127.0.0.1 that holds every reply back for ``delay`` seconds.

    Commands reach Redis at once, so a test can see a command's effect while its sender still
    waits for the reply (and cancel the sender then), or drop that reply with
    :meth:`cut_next_reply`, as a network failure would.

    Args:
        target: The Redis port.
        delay: Seconds each reply is held back.
    """

    def __init__(self, target: int, delay: float) -> None:
        self._target = target
        self._delay = delay
        self._cut = False
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._pumps: set[asyncio.Future[None]] = set()
        self.port = 0

    def url(self, db: int = 0) -> str:
        """The URL to reach Redis through the proxy."""
        return f"redis://127.0.0.1:{self.port}/{db}"

    def cut_next_reply(self) -> None:
        """Drop the next reply due and close its connection instead of delivering it."""
        self._cut = True

    async def __aenter__(self) -> ReplyDelayProxy:
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
        # The pumps, not the handlers: asyncio logs a connection handler that was cancelled.
        for pump in list(self._pumps):
            pump.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        loop = asyncio.get_running_loop()
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self._target)
        replies: asyncio.Queue[tuple[float, bytes] | None] = asyncio.Queue()

        async def requests() -> None:
            while data := await reader.read(65536):
                up_writer.write(data)
                await up_writer.drain()

        async def hold() -> None:
            while data := await up_reader.read(65536):
                replies.put_nowait((loop.time() + self._delay, data))
            replies.put_nowait(None)

        async def deliver() -> None:
            while (item := await replies.get()) is not None:
                due, data = item
                await asyncio.sleep(max(0.0, due - loop.time()))
                if self._cut:
                    self._cut = False
                    return
                writer.write(data)
                await writer.drain()

        pumps = [asyncio.ensure_future(c) for c in (requests(), hold(), deliver())]
        self._pumps.update(pumps)
        try:
            await asyncio.wait(pumps, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for pump in pumps:
                pump.cancel()
            await asyncio.gather(*pumps, return_exceptions=True)
            self._pumps.difference_update(pumps)
            for w in (writer, up_writer):
                w.close()
                with contextlib.suppress(OSError):
                    await w.wait_closed()
            self._tasks.discard(task)


RedisFactory = Callable[..., AbstractContextManager[RedisServer]]
"""``spawn_redis``'s signature: ``factory(password=None)`` -> context manager of a server."""


@pytest.fixture
def reply_delay_proxy() -> type[ReplyDelayProxy]:
    """The :class:`ReplyDelayProxy` class: ``async with reply_delay_proxy(port, delay):``."""
    return ReplyDelayProxy


@pytest.fixture
def redis_factory() -> RedisFactory:
    """Start private servers that a test may kill: ``with redis_factory() as server:``."""
    return spawn_redis


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """The URL of the Redis the fleet tests share (``REDIS_URL`` or a private server)."""
    env = os.environ.get("REDIS_URL")
    if env:
        yield env
        return
    if shutil.which("redis-server") is None:
        pytest.skip(NO_SERVER)
    with spawn_redis() as server:
        yield server.url


@pytest.fixture
def redis_prefix(redis_url: str) -> Iterator[str]:
    """A key prefix of this test alone; its keys are deleted when the test ends."""
    prefix = f"lacale-test-{uuid.uuid4().hex[:12]}"
    yield prefix
    with contextlib.suppress(redis.RedisError), redis.Redis.from_url(redis_url) as client:
        keys = list(client.scan_iter(match=f"{prefix}:*", count=1000))
        if keys:
            client.delete(*keys)


@pytest_asyncio.fixture
async def backends(redis_url: str, redis_prefix: str) -> AsyncIterator[list[RedisBackend]]:
    """Two backends with their own connections: two "processes" sharing one Redis."""
    async with (
        RedisBackend(redis_url, prefix=redis_prefix) as one,
        RedisBackend(redis_url, prefix=redis_prefix) as two,
    ):
        yield [one, two]
