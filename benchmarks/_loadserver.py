"""A fast local load server for the benchmarks, run in its own process.

It speaks just enough HTTP/1.1 (keep-alive, raw asyncio protocol, prebuilt response bytes) that
it is never the bottleneck of a client benchmark, and serves:

* ``GET /api/external`` — a realistic 50-result search answer (same body whatever the query),
  after an optional fixed latency, or 429 + ``Retry-After`` when a strict sliding-window rate
  limit (N arrivals per T seconds, counted at arrival) is exceeded; 401 without a key.
  With ``reset_rate`` p, a fraction p of searches is counted, then its connection is aborted
  unanswered (a reset after the server counted the request).
* ``GET /__stats`` — JSON counters (``?arrivals=1`` adds every arrival time and status).
* ``GET /__reset`` — zero the counters and the rate window.

The parent starts it with :class:`LoadServer`; the child stops by itself when its parent dies or
after a timeout, so a crashed benchmark never leaves it behind.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import random
import select
import subprocess
import sys
import time
from collections import deque
from dataclasses import dataclass, field
from types import TracebackType

import aiohttp

from benchmarks._payload import search_body
from benchmarks._pools import ROOT, pin

__all__ = ["API_KEY", "Arrival", "LoadServer", "ServerStats"]

API_KEY = "bench-key-not-a-secret"
_READY = "LOADSERVER-LISTENING"
_MAX_HEAD = 64 * 1024


def _response(status: str, body: bytes, extra: str = "") -> bytes:
    head = (
        f"HTTP/1.1 {status}\r\nContent-Type: application/json; charset=utf-8\r\n"
        f"Content-Length: {len(body)}\r\n{extra}Connection: keep-alive\r\n\r\n"
    )
    return head.encode("latin-1") + body


@dataclass
class _State:
    """Counters shared by every connection of the server process."""

    search_body: bytes
    latency: float
    rate: tuple[int, float] | None
    record: bool
    reset_rate: float = 0.0
    rng: random.Random = field(default_factory=lambda: random.Random(1))
    ok: bytes = b""
    unauthorized: bytes = _response("401 Unauthorized", b'{"error":"API key missing"}')
    not_found: bytes = _response("404 Not Found", b'{"error":"not found"}')
    searches: int = 0
    by_status: dict[int, int] = field(default_factory=dict)
    arrivals: list[tuple[float, int]] = field(default_factory=list)
    window: deque[float] = field(default_factory=deque)

    def __post_init__(self) -> None:
        self.ok = _response("200 OK", self.search_body)

    def reset(self) -> None:
        self.searches = 0
        self.by_status.clear()
        self.arrivals.clear()
        self.window.clear()

    def admit(self, now: float) -> tuple[int, bytes]:
        """Count one search arriving at ``now``; return its status and response bytes."""
        self.searches += 1
        status, response = 200, self.ok
        if self.rate is not None:
            calls, period = self.rate
            window = self.window
            # Half-open window (now - T, now]: only ACCEPTED arrivals use the budget, which is
            # the lenient reading; a client that still gets 429s really did send too fast.
            while window and window[0] <= now - period:
                window.popleft()
            if len(window) >= calls:
                retry_after = max(1, math.ceil(window[0] + period - now))
                status = 429
                response = _response(
                    "429 Too Many Requests",
                    b'{"error":"Too many requests"}',
                    f"Retry-After: {retry_after}\r\n",
                )
            else:
                window.append(now)
        self.by_status[status] = self.by_status.get(status, 0) + 1
        if self.record:
            self.arrivals.append((now, status))
        return status, response

    def stats_body(self, with_arrivals: bool) -> bytes:
        doc: dict[str, object] = {
            "searches": self.searches,
            "by_status": {str(k): v for k, v in self.by_status.items()},
            "now": time.monotonic(),
        }
        if with_arrivals:
            doc["arrivals"] = self.arrivals
        return json.dumps(doc).encode()


class _HttpProtocol(asyncio.Protocol):
    """One keep-alive connection: parse request heads, answer with prebuilt bytes."""

    def __init__(self, state: _State) -> None:
        self._state = state
        self._buf = bytearray()
        self._transport: asyncio.Transport | None = None
        self._loop = asyncio.get_running_loop()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None

    def data_received(self, data: bytes) -> None:
        now = time.monotonic()
        buf = self._buf
        buf += data
        while True:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                if len(buf) > _MAX_HEAD:
                    self._close()
                return
            head = bytes(buf[:end])
            lowered = head.lower()
            body_len = 0
            cl = lowered.find(b"\r\ncontent-length:")
            if cl >= 0:
                line_end = lowered.find(b"\r\n", cl + 2)
                body_len = int(lowered[cl + 17 : line_end if line_end >= 0 else None])
            if len(buf) < end + 4 + body_len:
                return
            del buf[: end + 4 + body_len]
            self._handle(head, lowered, now)

    def _handle(self, head: bytes, lowered: bytes, now: float) -> None:
        target = head.split(b" ", 2)[1]
        path, _, query = target.partition(b"?")
        state = self._state
        close = b"\r\nconnection: close" in lowered
        if path == b"/api/external":
            if b"\r\nx-api-key:" not in lowered and b"apikey=" not in query:
                self._write(state.unauthorized, close)
                return
            status, response = state.admit(now)
            if state.reset_rate and state.rng.random() < state.reset_rate:
                self._abort()
                return
            if state.latency > 0 and status == 200:
                self._loop.call_later(state.latency, self._write, response, close)
            else:
                self._write(response, close)
        elif path == b"/__stats":
            self._write(_response("200 OK", state.stats_body(b"arrivals=1" in query)), close)
        elif path == b"/__reset":
            state.reset()
            self._write(_response("200 OK", b"{}"), close)
        else:
            self._write(state.not_found, close)

    def _write(self, response: bytes, close: bool) -> None:
        transport = self._transport
        if transport is None or transport.is_closing():
            return
        transport.write(response)
        if close:
            transport.close()

    def _close(self) -> None:
        if self._transport is not None:
            self._transport.close()

    def _abort(self) -> None:
        if self._transport is not None:
            self._transport.abort()


async def _serve(args: argparse.Namespace) -> None:
    loop = asyncio.get_running_loop()
    rate = (int(args.rate_calls), float(args.rate_period)) if args.rate_calls else None
    # The link host does not matter to the benchmarks; a fixed one keeps the body size stable.
    state = _State(
        search_body("http://127.0.0.1:8080"), args.latency, rate, args.record, args.reset_rate
    )
    server = await loop.create_server(lambda: _HttpProtocol(state), "127.0.0.1", args.port)
    port = server.sockets[0].getsockname()[1]
    print(f"{_READY} {port}", flush=True)
    deadline = time.monotonic() + args.timeout
    stop = asyncio.Event()

    def watchdog() -> None:
        # Parent death re-parents us (getppid changes): stop instead of serving forever.
        if os.getppid() != args.parent_pid or time.monotonic() >= deadline:
            stop.set()
        else:
            loop.call_later(0.25, watchdog)

    watchdog()
    async with server:
        await stop.wait()


def main(argv: list[str] | None = None) -> None:
    """Run the load server (child process entry point)."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--latency", type=float, default=0.0)
    parser.add_argument("--rate-calls", type=int, default=0)
    parser.add_argument("--rate-period", type=float, default=0.0)
    parser.add_argument("--record", action="store_true")
    parser.add_argument("--reset-rate", type=float, default=0.0)
    parser.add_argument("--timeout", type=float, default=900.0)
    parser.add_argument("--parent-pid", type=int, default=os.getppid())
    asyncio.run(_serve(parser.parse_args(argv)))


@dataclass(frozen=True)
class Arrival:
    """One search request as the server saw it (``time.monotonic()`` of the server process)."""

    at: float
    status: int


@dataclass(frozen=True)
class ServerStats:
    """The server's counters at one moment."""

    searches: int
    by_status: dict[int, int]
    arrivals: list[Arrival]

    @property
    def rejected(self) -> int:
        """Number of 429 answers."""
        return self.by_status.get(429, 0)


class LoadServer:
    """Start the load server in a child process; a context manager.

    Args:
        latency: Seconds to wait before each 200 search answer.
        rate: ``(N, T)``: strict sliding-window limit, at most N accepted arrivals in any T s.
        record: Keep every arrival time (for the limiter plot; costs a little per request).
        timeout: The child exits after this many seconds whatever happens.
        reset_rate: Fraction of searches counted, then answered by a connection reset.

    The server is pinned to its own core (see ``benchmarks._pools.cores_for``), so that
    client processes pinned to the other one never share a core with it.
    """

    def __init__(
        self,
        *,
        latency: float = 0.0,
        rate: tuple[int, float] | None = None,
        record: bool = False,
        timeout: float = 900.0,
        reset_rate: float = 0.0,
    ) -> None:
        self._argv = [
            sys.executable,
            "-m",
            "benchmarks._loadserver",
            f"--latency={latency}",
            f"--timeout={timeout}",
            f"--parent-pid={os.getpid()}",
        ]
        if rate is not None:
            self._argv += [f"--rate-calls={rate[0]}", f"--rate-period={rate[1]}"]
        if record:
            self._argv.append("--record")
        if reset_rate:
            self._argv.append(f"--reset-rate={reset_rate}")
        self._proc: subprocess.Popen[str] | None = None
        self.base_url = ""
        self.api_key = API_KEY

    def __enter__(self) -> LoadServer:
        self._proc = subprocess.Popen(self._argv, cwd=ROOT, stdout=subprocess.PIPE, text=True)
        assert self._proc.stdout is not None
        ready, _, _ = select.select([self._proc.stdout], [], [], 15.0)
        line = self._proc.stdout.readline() if ready else ""
        if not line.startswith(_READY):
            self.__exit__(None, None, None)
            raise RuntimeError(f"load server did not start (got {line!r})")
        self.base_url = f"http://127.0.0.1:{int(line.split()[1])}"
        pin(self._proc.pid, "server")
        return self

    @property
    def pid(self) -> int:
        """Process id of the running server (to read its CPU time)."""
        if self._proc is None:
            raise RuntimeError("load server is not running")
        return self._proc.pid

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        proc.terminate()
        try:
            proc.wait(5.0)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()

    async def stats(self, *, arrivals: bool = False) -> ServerStats:
        """Read the server's counters (and arrival log with ``arrivals=True``)."""
        url = f"{self.base_url}/__stats" + ("?arrivals=1" if arrivals else "")
        async with aiohttp.ClientSession() as session, session.get(url) as resp:
            doc = await resp.json()
        return ServerStats(
            searches=int(doc["searches"]),
            by_status={int(k): int(v) for k, v in doc["by_status"].items()},
            arrivals=[Arrival(float(t), int(s)) for t, s in doc.get("arrivals", [])],
        )

    async def reset(self) -> None:
        """Zero the counters, the arrival log and the rate window."""
        async with aiohttp.ClientSession() as session, session.get(f"{self.base_url}/__reset"):
            pass


if __name__ == "__main__":
    main()
