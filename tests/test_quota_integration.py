"""The key budget against a strict tracker stand-in on 127.0.0.1 that counts every arrival.

The server enforces a daily-style key window scaled down (12 per second plus 5 per 0.25 s) and
resets connections after counting some requests, the two things that used to let arrivals
through unseen: zero 429s over 5N requests, and exactly as many arrivals as the client's stats
say it sent. Then two processes sharing one SQLite store never exceed the budget together.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

import pytest
from _strict_server import StrictServer
from _windows import max_in_window
from conftest import API_KEY

from lacale_async import FakeClock, LaCaleClient

pytestmark = pytest.mark.integration

WORKER = Path(__file__).with_name("quota_worker.py")
KEY_RATES = [(12, 1.0), (5, 0.25)]


@pytest.mark.slow
async def test_resets_and_latency_never_push_a_window_over_its_limit(tmp_path: Path) -> None:
    total = 5 * 12
    server = StrictServer(KEY_RATES, reset_rate=0.05, latency=(0.0, 0.05))
    async with (
        server,
        LaCaleClient(
            API_KEY,
            base_url=server.url,  # evaluated once the server has started
            search_rate=None,
            cache_ttl=0,
            max_retries=8,
            key_rate=KEY_RATES,
            quota_store=tmp_path / "q.sqlite3",
        ) as client,
    ):
        await asyncio.gather(*(client.search(f"q{i}") for i in range(total)))
        stats = client.stats
    assert server.resets > 0
    assert server.count(429) == 0
    assert server.count() == stats.requests  # every arrival is a request the client counted
    assert stats.key_budget.requests == stats.requests
    assert stats.requests == total + stats.retries
    arrivals = [a.at for a in server.arrivals]
    for calls, period in KEY_RATES:
        assert max_in_window(arrivals, period) <= calls


async def test_two_processes_sharing_one_store_never_exceed_the_budget(tmp_path: Path) -> None:
    store = tmp_path / "shared.sqlite3"
    async with StrictServer([(4, 1.0)]) as server:
        env = {**os.environ, "LACALE_API_KEY": API_KEY}
        procs = [
            await asyncio.create_subprocess_exec(
                sys.executable,
                str(WORKER),
                server.url,
                str(store),
                tag,
                "8",
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                env=env,
            )
            for tag in ("a", "b")
        ]
        for proc in procs:
            assert proc.stdout is not None
            line = await asyncio.wait_for(proc.stdout.readline(), 30)
            if line.strip() != b"ready":
                _, err = await proc.communicate()
                pytest.fail(f"worker did not start: {line!r} {err.decode()[-2000:]}")
        outputs = await asyncio.wait_for(
            asyncio.gather(*(p.communicate(b"go\n") for p in procs)), 60
        )
    reports = [json.loads(out.decode().strip().splitlines()[-1]) for out, _ in outputs]
    assert sum(r["requests"] for r in reports) == 8  # the shared 8 per hour, not 8 each
    assert sum(r["refused"] for r in reports) == 8
    assert all(r["errors"] == 0 for r in reports)
    assert server.count() == 8
    assert server.count(429) == 0
    assert max_in_window([a.at for a in server.arrivals], 1.0) <= 4


async def test_a_restart_knows_what_was_spent_against_a_real_server(tmp_path: Path) -> None:
    store = tmp_path / "q.sqlite3"
    async with StrictServer() as server:
        clock = FakeClock()

        def client(clock: FakeClock) -> LaCaleClient:
            return LaCaleClient(
                API_KEY,
                base_url=server.url,
                clock=clock,
                quota_store=store,
                search_rate=None,
                cache_ttl=0,
                key_rate=(3, 86_400.0),
            )

        async with client(clock) as first:
            for i in range(3):
                await first.search(f"q{i}")
        async with client(FakeClock(wall_start=clock.wall() + 15 * 3600)) as later:
            quota = await later.quota()
    assert server.count() == 3
    assert quota.remaining == 0
    assert quota.windows[0].next_free_at is not None
