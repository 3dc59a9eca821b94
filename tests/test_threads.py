"""One budget per key per process, whatever the number of event loops or threads.

Limiters used to be shared per event loop: the same key used from two threads (two loops) got
twice the budget. These tests run real clients in real threads against a strict server on
127.0.0.1 and count arrivals where the tracker counts them.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest
from _strict_server import StrictServer
from _windows import max_in_window
from conftest import API_KEY

import lacale_async as la
from lacale_async import LaCaleClient

pytestmark = pytest.mark.integration


def _client(url: str, **options: Any) -> LaCaleClient:
    settings: dict[str, Any] = {
        "base_url": url,
        "cache_ttl": 0,
        "meta_rate": None,
        "download_rate": None,
        "quota_store": None,
    }
    settings.update(options)
    return LaCaleClient(API_KEY, **settings)


def _run_in_thread(url: str, tag: str, count: int, rate: tuple[int, float]) -> int:
    async def job() -> int:
        async with _client(url, search_rate=rate) as client:
            await asyncio.gather(*(client.search(f"{tag} {i}") for i in range(count)))
            return client.stats.requests

    return asyncio.run(job())


async def test_two_threads_on_one_key_share_one_endpoint_budget() -> None:
    # Regression: each thread's loop had its own limiter, so a 1 s window limited to 5 held 10.
    calls, period, each = 3, 0.4, 6
    async with StrictServer([(calls, period)]) as server:
        sent = await asyncio.gather(
            *(
                asyncio.to_thread(_run_in_thread, server.url, tag, each, (calls, period))
                for tag in ("a", "b")
            )
        )
        assert sum(sent) == 2 * each
        assert server.count(429) == 0
        assert max_in_window([a.at for a in server.arrivals], period) <= calls


async def test_two_threads_on_one_key_share_one_key_budget() -> None:
    calls, period, each = 3, 0.4, 5
    async with StrictServer([(calls, period)]) as server:

        def run(tag: str) -> int:
            async def job() -> int:
                async with _client(server.url, search_rate=None, key_rate=(calls, period)) as c:
                    await asyncio.gather(*(c.search(f"{tag} {i}") for i in range(each)))
                    return c.stats.requests

            return asyncio.run(job())

        sent = await asyncio.gather(*(asyncio.to_thread(run, tag) for tag in ("a", "b")))
        assert sum(sent) == 2 * each
        assert server.count(429) == 0
        assert max_in_window([a.at for a in server.arrivals], period) <= calls


async def test_a_client_used_from_another_loop_raises_at_once() -> None:
    async with StrictServer() as server:
        client = _client(server.url, search_rate=None)
        await client.open()
        try:
            errors: list[BaseException] = []

            def elsewhere() -> None:
                async def use() -> None:
                    await client.search("x")

                try:
                    asyncio.run(asyncio.wait_for(use(), 5))
                except BaseException as exc:  # what the other thread saw
                    errors.append(exc)

            thread = threading.Thread(target=elsewhere)
            thread.start()
            await asyncio.to_thread(thread.join)
            assert len(errors) == 1
            assert isinstance(errors[0], la.ClientStateError)
            assert "event loop" in str(errors[0])
            assert server.count() == 0
        finally:
            await client.aclose()
