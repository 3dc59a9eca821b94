"""One worker process of the fleet test: a LaCaleClient on a RedisBackend, driven from stdin.

Run by tests/test_fleet_multiprocess.py, never collected by pytest. It opens its backend and
client, prints ``ready``, waits for a line on stdin (so all workers start together), runs its
searches concurrently and prints one JSON line with what it saw. The API key comes from the
``LACALE_API_KEY`` environment variable, never from the command line.

Usage: ``python fleet_worker.py REDIS_URL PREFIX BASE_URL INDEX COUNT distinct|same``
"""

from __future__ import annotations

import asyncio
import json
import sys

from lacale_async import LaCaleClient, LaCaleError
from lacale_async.fleet import RedisBackend


async def main(argv: list[str]) -> int:
    redis_url, prefix, base_url, index, count, mode = argv
    n = int(count)
    if mode == "distinct":
        queries = [f"worker {index} query {i}" for i in range(n)]
    else:
        queries = ["the same query"] * n
    async with (
        RedisBackend(redis_url, prefix=prefix) as backend,
        LaCaleClient(
            base_url=base_url,
            backend=backend,
            search_rate=(5, 1.0),
            cache_ttl=0 if mode == "distinct" else 30,
            max_retries=0,  # a 429 must show as a failure, not be retried away
        ) as client,
    ):
        print("ready", flush=True)
        await asyncio.to_thread(sys.stdin.readline)
        try:
            results = await asyncio.gather(*(client.search(q) for q in queries))
        except LaCaleError as exc:
            print(json.dumps({"error": f"{type(exc).__name__}: {exc}"}), flush=True)
            return 1
        stats = client.stats
    print(
        json.dumps(
            {
                "searches": len(results),
                "requests": stats.endpoints["search"].requests,
                "rate_limited": stats.rate_limited,
            }
        ),
        flush=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1:])))
