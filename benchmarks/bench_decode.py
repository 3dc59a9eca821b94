"""Decode alone: one 50-result search body into typed objects, SDK vs stdlib vs pydantic.

Each decoder runs in its own worker process, garbage collector on, rounds shuffled; the older
GC-off, in-process figure is kept as a secondary one.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from benchmarks._baselines import FLOOR_DECODER, PYDANTIC_ADAPTER, decode_dataclasses
from benchmarks._common import Section, Target, gc_mode, load_average, md_table
from benchmarks._harness import Samples, cli, measure, ratio_stats
from benchmarks._payload import search_body
from benchmarks._pools import ContenderSpec
from lacale_async._models import decode_search

__all__ = ["open_floor", "open_pydantic", "open_sdk", "open_stdlib", "run"]

SDK = "lacale_async (msgspec structs)"
FLOOR = "plain msgspec struct"
STDLIB = "json.loads + dataclasses + fromisoformat"
PYDANTIC = "pydantic v2 TypeAdapter(list[Model]).validate_json"
_HERE = "benchmarks.bench_decode"
SPECS = [
    ContenderSpec(SDK, f"{_HERE}:open_sdk"),
    ContenderSpec(FLOOR, f"{_HERE}:open_floor"),
    ContenderSpec(STDLIB, f"{_HERE}:open_stdlib"),
    ContenderSpec(PYDANTIC, f"{_HERE}:open_pydantic"),
]
BODY = search_body("https://la-cale.space")


class _Decode:
    """One decoder's passes: ``number`` decodes of the same body, timed together."""

    def __init__(self, decode: Callable[[bytes], Sequence[Any]]) -> None:
        self._decode = decode
        assert len(decode(BODY)) == 50  # also warms lazy validators (pydantic)

    async def run(self, job: Mapping[str, Any]) -> dict[str, float]:
        decode, number, body = self._decode, int(job["number"]), BODY
        with gc_mode(on=bool(job["gc"])):
            start = time.perf_counter()
            for _ in range(number):
                decode(body)
            elapsed = time.perf_counter() - start
        return {"us": 1e6 * elapsed / number}

    async def aclose(self) -> None:
        pass


async def open_sdk(args: Mapping[str, Any]) -> _Decode:
    """The SDK's search decoder."""
    return _Decode(decode_search)


async def open_floor(args: Mapping[str, Any]) -> _Decode:
    """A plain msgspec struct, no timezone constraint."""
    return _Decode(FLOOR_DECODER.decode)


async def open_stdlib(args: Mapping[str, Any]) -> _Decode:
    """``json.loads`` + dataclasses + ``datetime.fromisoformat``."""
    return _Decode(decode_dataclasses)


async def open_pydantic(args: Mapping[str, Any]) -> _Decode:
    """pydantic v2's fastest path."""
    return _Decode(PYDANTIC_ADAPTER.validate_json)


def _check_same_answer() -> None:
    """Every contender must decode the same 50 titles and dates, or timing them is moot."""
    sdk = decode_search(BODY)
    dcs = decode_dataclasses(BODY)
    pyd = PYDANTIC_ADAPTER.validate_json(BODY)
    assert len(sdk) == len(dcs) == len(pyd) == 50
    for a, b, c in zip(sdk, dcs, pyd, strict=True):
        assert a.title == b.title == c.title
        assert a.pub_date == b.pub_date == c.pubDate


def _table(samples: Samples) -> str:
    sdk = samples.of(SDK, "us")
    rows = [
        (
            name,
            f"{samples.median(name, 'us'):.1f}",
            f"{1e6 / samples.median(name, 'us'):,.0f}",
            ratio_stats(samples.of(name, "us"), sdk).text() if name != SDK else "1.00x",
        )
        for name in samples.names
    ]
    return md_table(
        ("Decoder", "µs / body (median)", "bodies/s", "time vs SDK: median (min-max)"), rows
    )


async def _measure(
    quick: bool, rounds: int | None, size: int | None, variants: Sequence[str], secondary: bool
) -> Section:
    _check_same_answer()
    number = size or (100 if quick else 500)
    rounds = rounds or (3 if quick else 15)
    load0 = load_average()
    main = await measure(
        SPECS,
        {},
        lambda name, r: {"number": number, "gc": True},
        rounds=rounds,
        generations=1 if quick else 3,
        label="decode",
    )
    parts = ["### GC on, one process per decoder (verdicts)", "", _table(main)]
    notes = [f"Load average (1, 5, 15 min): {load0} at the start, {load_average()} at the end."]
    if secondary:
        old = await measure(
            SPECS,
            {},
            lambda name, r: {"number": number, "gc": False},
            rounds=rounds,
            in_process=True,
            label="old",
        )
        parts += ["", "### GC off, every decoder in one process (secondary)", "", _table(old)]
    stdlib = ratio_stats(main.of(STDLIB, "us"), main.of(SDK, "us"))
    pydantic = ratio_stats(main.of(PYDANTIC, "us"), main.of(SDK, "us"))
    floor = ratio_stats(main.of(SDK, "us"), main.of(FLOOR, "us"))
    notes.append(
        "The SDK's `Torrent` checks `pubDate` is timezone-aware in msgspec itself "
        f"(`Meta(tz=True)`) and has one more field (`downloadLink`); its time vs the plain "
        f"struct: {floor.text()}."
    )
    return Section(
        title="Decode a 50-result search body",
        method=(
            f"{len(BODY):,}-byte UTF-8 body (accented titles, ms ISO dates with Z), decoded into "
            f"typed objects with parsed datetimes. Each decoder in its own worker process, "
            f"{rounds} rounds shuffled, {number} decodes per pass, garbage collector ON while "
            "timing; median per decode."
        ),
        table="\n".join(parts),
        targets=[
            Target(
                "Decode, GC on: SDK faster than stdlib json + dataclasses",
                stdlib.median > 1.0,
                f"stdlib takes {stdlib.text()} the SDK's time",
            ),
            Target(
                "Decode, GC on: SDK faster than pydantic v2",
                pydantic.median > 1.0,
                f"pydantic takes {pydantic.text()} the SDK's time",
            ),
        ],
        notes=notes,
    )


def run(
    quick: bool = False,
    *,
    rounds: int | None = None,
    size: int | None = None,
    variants: Sequence[str] = (),
    secondary: bool = True,
) -> Section:
    """Time each decoder on the same body.

    Args:
        quick: 3 rounds of 100 decodes instead of 15 of 500.
        rounds: Rounds of the GC-on measurement.
        size: Decodes per pass.
        variants: Unused (decoders take no SDK setup hook).
        secondary: Also measure the older GC-off, in-process figure.

    Returns:
        The section for RESULTS.md.
    """
    return asyncio.run(_measure(quick, rounds, size, variants, secondary))


def main() -> None:
    """Run this benchmark alone and print its section."""
    cli(run, __doc__)


if __name__ == "__main__":
    main()
