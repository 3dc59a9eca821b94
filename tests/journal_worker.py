"""A process that spends key-budget units while the quota store is locked, then waits to be killed.

Run by tests/test_quota_journal.py, never collected by pytest. It opens the store (locked by
the test), takes COUNT units (the second one ended, the others in flight), prints ``spent``,
and waits on stdin: the test kills it with SIGKILL, so nothing is written at close.

Usage: ``python journal_worker.py STORE SCOPE COUNT``
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from lacale_async import FakeClock
from lacale_async import _sqlite as sqlite_module
from lacale_async._ledger import Grant, MemoryLedger
from lacale_async._quota_store import SqliteLedger, StoreFile

SPANS = [(3, 60.0, 60.25), (5, 86_400.0, 86_400.25)]


async def main(argv: list[str]) -> int:
    store, scope, count = argv
    sqlite_module.BUSY_TIMEOUT = 0.02  # the test holds the lock: give up on it at once
    clock = FakeClock(auto_advance=False)
    ledger = SqliteLedger(StoreFile(Path(store)), scope, clock.wall, MemoryLedger(clock.wall))
    grants = [await ledger.take(SPANS, 40.0) for _ in range(int(count))]
    assert isinstance(grants[1], Grant)
    await ledger.give_back(grants[1], counted=True)
    print("spent", flush=True)
    await asyncio.to_thread(sys.stdin.readline)
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1:])))
