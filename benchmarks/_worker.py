"""A worker process hosting one contender: ``python -m benchmarks._worker module:factory``.

It reads one JSON message per line on stdin and answers one line on stdout:
``{"open": args}`` opens the contender, ``{"run": job}`` runs one pass; EOF closes the
contender and exits (so a parent that dies never leaves a worker behind). The contender stays
open between passes, in one event loop, as it would in a long-running application.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import traceback
from typing import Any

from benchmarks._pools import Contender, load_factory, run_setup


def _reply(message: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


async def _serve(factory: str) -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=1 << 20)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    contender: Contender | None = None
    try:
        while line := await reader.readline():
            message: dict[str, Any] = json.loads(line)
            try:
                if "open" in message:
                    contender = await load_factory(factory)(message["open"])
                    _reply({"result": {}})
                else:
                    assert contender is not None, "run before open"
                    _reply({"result": await contender.run(message["run"])})
            except Exception as exc:  # the parent reports it; the traceback goes to stderr
                traceback.print_exc()
                _reply({"error": f"{type(exc).__name__}: {exc}"})
    finally:
        if contender is not None:
            await contender.aclose()


def main() -> None:
    """Worker entry point."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("factory", help="module:function opening the contender")
    parser.add_argument("--setup", help="path.py:function to call first (an ablation)")
    args = parser.parse_args()
    if args.setup:
        run_setup(args.setup)
    asyncio.run(_serve(args.factory))


if __name__ == "__main__":
    main()
