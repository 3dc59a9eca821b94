"""A Redis for the fleet tests: ``REDIS_URL`` when set, else a private ``redis-server``.

A pytest plugin: a test module loads it with ``pytest_plugins = ["_redis"]`` (tests/conftest.py
is not touched) and asks for the fixtures by name. Each test gets its own key prefix, and its
keys are deleted afterwards, so a shared ``REDIS_URL`` is never flushed. Without ``REDIS_URL``
and without the ``redis-server`` binary the tests are skipped.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager

import pytest
import redis

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


RedisFactory = Callable[..., AbstractContextManager[RedisServer]]
"""``spawn_redis``'s signature: ``factory(password=None)`` -> context manager of a server."""


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
