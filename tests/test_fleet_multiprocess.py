"""Fleet mode end to end: four worker processes on one key, one sandbox, one Redis."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("redis")

from lacale_async.testing import RateLimit, SandboxConfig, SandboxServer

pytest_plugins = ["_redis"]
pytestmark = [pytest.mark.redis, pytest.mark.integration, pytest.mark.slow]

WORKER = Path(__file__).with_name("fleet_worker.py")
WORKERS = 4
N, PERIOD = 5, 1.0  # the sandbox's strict key limit, and the rate every worker configures


async def run_fleet(
    sandbox: SandboxServer, redis_url: str, prefix: str, count: int, mode: str
) -> tuple[list[dict[str, Any]], float]:
    """Start the workers, release them together, and return their reports and the run time."""
    env = {**os.environ, "LACALE_API_KEY": sandbox.api_key}
    procs = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            str(WORKER),
            redis_url,
            prefix,
            sandbox.base_url,
            str(i),
            str(count),
            mode,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=env,
        )
        for i in range(WORKERS)
    ]
    try:
        for proc in procs:
            assert proc.stdout is not None
            line = await asyncio.wait_for(proc.stdout.readline(), 20)
            if line.strip() != b"ready":
                _, err = await proc.communicate()
                pytest.fail(f"worker did not start: {line!r} {err.decode()[-2000:]}")
        loop = asyncio.get_running_loop()
        start = loop.time()
        outputs = await asyncio.wait_for(
            asyncio.gather(*(p.communicate(b"go\n") for p in procs)), 25
        )
        elapsed = loop.time() - start
    finally:
        for proc in procs:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
    reports = []
    for proc, (out, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, f"{out.decode()} {err.decode()[-2000:]}"
        reports.append(json.loads(out.decode().splitlines()[-1]))
    return reports, elapsed


def strict_sandbox(**options: Any) -> SandboxServer:
    limits = {"search": RateLimit(N, PERIOD)}
    return SandboxServer(
        SandboxConfig(key_limits=limits, ip_limits=limits, rate_limit_mode="sliding", **options)
    )


async def test_four_processes_share_one_budget_with_zero_429s(
    redis_url: str, redis_prefix: str
) -> None:
    count = 10
    async with strict_sandbox() as sandbox:
        reports, elapsed = await run_fleet(sandbox, redis_url, redis_prefix, count, "distinct")
        searches = [r for r in sandbox.requests if r.endpoint == "search"]
        assert sandbox.throttled_total == 0
    assert [r["searches"] for r in reports] == [count] * WORKERS
    assert sum(r["rate_limited"] for r in reports) == 0
    assert len(searches) == WORKERS * count
    assert all(r.status == 200 for r in searches)
    # 40 requests at 5 per second: a burst of 5, then 7 more windows. Each process alone
    # would have finished in 1 s (and drawn 429s): the budget really is shared.
    total = WORKERS * count
    assert (total // N - 1) * PERIOD <= elapsed <= (total // N) * PERIOD * 1.5


async def test_identical_searches_across_processes_send_one_request(
    redis_url: str, redis_prefix: str
) -> None:
    async with strict_sandbox() as sandbox:
        reports, _ = await run_fleet(sandbox, redis_url, redis_prefix, 5, "same")
        searches = [r for r in sandbox.requests if r.endpoint == "search"]
    assert [r["searches"] for r in reports] == [5] * WORKERS
    assert len(searches) == 1
    assert sum(r["requests"] for r in reports) == 1
