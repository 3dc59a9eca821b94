"""Where a cache miss's time goes: the SDK entered at each layer, against the floor, in ONE process.

A diagnostic, not a verdict (``bench_throughput`` gives those, one process per contender). Every
contender here lives in the same process, on the same load server, and the passes of a round
alternate in a shuffled order, so no process placement (heap layout, code alignment) biases a
ratio: on the shared 2-vCPU machines a ratio's quartiles span about +-2%, against +-4% across
processes. Each SDK layer below ``search`` is entered through the client's private attributes
on purpose: it measures what the layers above it cost, by leaving them out.

Run: ``PYTHONPATH=$PWD python -m benchmarks.bench_layers --rounds 40``.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from benchmarks._baselines import SEARCH_PATH, AiohttpMsgspecFetch
from benchmarks._common import (
    drive,
    fmt_ratio,
    gc_mode,
    load_average,
    machine_info,
    md_table,
    median,
)
from benchmarks._loadserver import LoadServer
from benchmarks._pools import pin
from benchmarks._sdk import SdkFetch
from lacale_async._responses import decode_body

__all__ = ["LAYERS", "main"]

# Each layer's fetch, given an opened SdkFetch: the SDK entered one step lower each time.
_Layer = Callable[[SdkFetch], Callable[[str], Awaitable[object]]]


def _search(sdk: SdkFetch) -> Callable[[str], Awaitable[object]]:
    return sdk.client.search


def _engine(sdk: SdkFetch) -> Callable[[str], Awaitable[object]]:
    client = sdk.client
    engine: Any = client._opened
    prepare = client._search_args.prepare_text

    async def fetch(query: str) -> object:
        key, params = prepare(query)
        return [*await engine.fetch(engine.search, key, params, mode="use")]

    return fetch


def _sender(sdk: SdkFetch) -> Callable[[str], Awaitable[object]]:
    engine: Any = sdk.client._opened
    call, sender = engine.search, engine._sender

    async def fetch(query: str) -> object:
        resp = await sender.send(call.endpoint, "GET", call.path, params={"q": query})
        return [*decode_body(resp, call.decode, call.promised, engine.scrub)]

    return fetch


def _transport(sdk: SdkFetch) -> Callable[[str], Awaitable[object]]:
    engine: Any = sdk.client._opened
    call, transport = engine.search, engine._sender._transport

    async def fetch(query: str) -> object:
        resp = await transport.round_trip("GET", call.path, params={"q": query})
        if resp.status != 200:
            raise RuntimeError(f"unexpected status {resp.status}")
        return [*decode_body(resp, call.decode, call.promised, engine.scrub)]

    return fetch


def _session(sdk: SdkFetch) -> Callable[[str], Awaitable[object]]:
    engine: Any = sdk.client._opened
    call, transport = engine.search, engine._sender._transport
    session, url = transport._session, transport.url_for(SEARCH_PATH)

    async def fetch(query: str) -> object:
        # The floor's own code on the SDK's session (its options: no per-request timers).
        async with session.get(url, params={"q": query}) as resp:
            if resp.status != 200:
                raise RuntimeError(f"unexpected status {resp.status}")
            body = await resp.read()
        return [*call.decode(body)]

    return fetch


LAYERS: dict[str, tuple[_Layer, str]] = {
    "search": (_search, "client.search(q): the whole SDK"),
    "search (A/A)": (_search, "the same, a second client: the noise of one ratio"),
    "engine": (_engine, "engine.fetch: without search()'s own code (its memo, hit check)"),
    "sender": (_sender, "sender.send + decode: without the engine (key, flight, stats)"),
    "transport": (_transport, "transport.round_trip + decode: without the sender"),
    "session": (_session, "the floor's code on the SDK's aiohttp session and decoder"),
}


async def _measure(rounds: int, count: int) -> dict[str, list[float]]:
    pin(0, "client")
    with LoadServer() as server:
        floor = AiohttpMsgspecFetch(server.base_url, server.api_key)
        opened = [await SdkFetch(server.base_url, server.api_key).open() for _ in LAYERS]
        fetches: dict[str, Callable[[str], Awaitable[object]]] = {"floor": floor}
        for (name, (layer, _)), sdk in zip(LAYERS.items(), opened, strict=True):
            fetches[name] = layer(sdk)
        try:
            for name, fetch in fetches.items():  # keep-alive connections open, code warm
                await drive(fetch, [f"warm {name} {i}" for i in range(2000)], 16)
            ratios: dict[str, list[float]] = {name: [] for name in LAYERS}
            for r in range(rounds):
                order = list(fetches)
                random.shuffle(order)
                took: dict[str, float] = {}
                for name in order:
                    queries = [f"amélie épisode {name} {r} {i}" for i in range(count)]
                    with gc_mode(on=True):
                        took[name] = await drive(fetches[name], queries, 16)
                for name in LAYERS:
                    ratios[name].append(took["floor"] / took[name])
            return ratios
        finally:
            await floor.aclose()
            for sdk in opened:
                await sdk.aclose()


def _report(
    ratios: dict[str, list[float]], rounds: int, count: int, info: list[tuple[str, str]]
) -> str:
    rows = []
    for name, (_, what) in LAYERS.items():
        q1, _, q3 = statistics.quantiles(ratios[name], n=4)
        rows.append((name, what, fmt_ratio(median(ratios[name])), f"{q1:.2f} - {q3:.2f}"))
    return "\n\n".join(
        (
            f"Cache misses at concurrency 16, {count} distinct searches per pass, {rounds} "
            "rounds, every contender in this one process (pinned to the client core), passes "
            "shuffled per round, GC on. Speed vs raw aiohttp + msgspec: median of the "
            "per-round ratios (quartiles).",
            md_table(("entered at", "what it leaves out", "speed vs floor", "q1 - q3"), rows),
            md_table(("", ""), [*info, ("Load average at the end", load_average())]),
        )
    )


def main(argv: Sequence[str] | None = None) -> None:
    """Measure every layer and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--count", type=int, default=1000, help="searches per pass")
    args = parser.parse_args(argv)
    info = machine_info()  # its load average is the one at the start
    ratios = asyncio.run(_measure(args.rounds, args.count))
    print(_report(ratios, args.rounds, args.count, info))


if __name__ == "__main__":
    main()
