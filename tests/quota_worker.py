"""One process of the two-process quota test: a LaCaleClient on a shared SQLite quota store.

Run by tests/test_quota_integration.py, never collected by pytest. It opens its client, prints
``ready``, waits for a line on stdin (so both processes start together), runs its searches
concurrently and prints one JSON line with what it saw. The API key comes from
``LACALE_API_KEY``, never from the command line.

Usage: ``python quota_worker.py BASE_URL STORE TAG COUNT``
"""

from __future__ import annotations

import asyncio
import json
import sys

from lacale_async import LaCaleClient, QuotaExceededError

RATES = [(4, 1.0), (8, 3600.0)]


async def main(argv: list[str]) -> int:
    base_url, store, tag, count = argv
    async with LaCaleClient(
        base_url=base_url,
        search_rate=None,
        cache_ttl=0,
        max_retries=0,  # a 429 must show as a failure, not be retried away
        key_rate=RATES,
        quota_store=store,
    ) as client:
        print("ready", flush=True)
        await asyncio.to_thread(sys.stdin.readline)
        results = await asyncio.gather(
            *(client.search(f"{tag} {i}") for i in range(int(count))), return_exceptions=True
        )
        stats = client.stats
    refused = sum(isinstance(r, QuotaExceededError) for r in results)
    other = [repr(r) for r in results if isinstance(r, BaseException)]
    print(
        json.dumps(
            {"requests": stats.requests, "refused": refused, "errors": len(other) - refused}
        ),
        flush=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1:])))
