"""Decode alone: one 50-result search body into typed objects, SDK vs stdlib vs pydantic."""

from __future__ import annotations

import argparse
import timeit
from collections.abc import Callable

from benchmarks._baselines import (
    FLOOR_DECODER,
    PYDANTIC_ADAPTER,
    decode_dataclasses,
)
from benchmarks._common import Section, Target, fmt_ratio, md_table, median, quiet_gc
from benchmarks._payload import search_body
from lacale_async._models import decode_search

__all__ = ["run"]

SDK = "lacale_async (msgspec structs)"
FLOOR = "plain msgspec struct (no hook)"
STDLIB = "json.loads + dataclasses + fromisoformat"
PYDANTIC = "pydantic v2 TypeAdapter(list[Model]).validate_json"


def _contenders(body: bytes) -> dict[str, Callable[[], object]]:
    return {
        SDK: lambda: decode_search(body),
        FLOOR: lambda: FLOOR_DECODER.decode(body),
        STDLIB: lambda: decode_dataclasses(body),
        PYDANTIC: lambda: PYDANTIC_ADAPTER.validate_json(body),
    }


def _check_same_answer(body: bytes) -> None:
    """Every contender must decode the same 50 titles and dates, or timing them is moot."""
    sdk = decode_search(body)
    dcs = decode_dataclasses(body)
    pyd = PYDANTIC_ADAPTER.validate_json(body)
    assert len(sdk) == len(dcs) == len(pyd) == 50
    for a, b, c in zip(sdk, dcs, pyd, strict=True):
        assert a.title == b.title == c.title
        assert a.pub_date == b.pub_date == c.pubDate


def run(quick: bool = False) -> Section:
    """Time each decoder on the same body; interleaved repeats, median per call.

    Args:
        quick: Fewer repeats (smoke test).

    Returns:
        The section for RESULTS.md.
    """
    body = search_body("https://la-cale.space")
    _check_same_answer(body)
    contenders = _contenders(body)
    repeats, number = (5, 100) if quick else (15, 500)
    samples: dict[str, list[float]] = {name: [] for name in contenders}
    with quiet_gc():
        for fn in contenders.values():
            fn()  # warm caches (pydantic builds validators lazily on first use)
        for _ in range(repeats):
            # Interleaved so that a noisy moment hurts every contender, not just one.
            for name, fn in contenders.items():
                samples[name].append(timeit.timeit(fn, number=number) / number)
    med = {name: median(v) for name, v in samples.items()}
    sdk = med[SDK]
    rows = [
        (name, f"{t * 1e6:.1f}", f"{1 / t:,.0f}", fmt_ratio(t / sdk)) for name, t in med.items()
    ]
    table = md_table(("Decoder", "µs / body (median)", "bodies/s", "time vs SDK"), rows)
    stdlib_ratio = med[STDLIB] / sdk
    pyd_ratio = med[PYDANTIC] / sdk
    return Section(
        title="Decode a 50-result search body",
        method=(
            f"{len(body):,}-byte UTF-8 body (accented titles, ms ISO dates with Z), decoded into "
            f"typed objects with parsed datetimes. `timeit`, {repeats} interleaved repeats of "
            f"{number} decodes per contender, GC off while timing; median per decode."
        ),
        table=table,
        targets=[
            Target(
                "SDK faster than stdlib json + dataclasses",
                sdk < med[STDLIB],
                f"stdlib takes {fmt_ratio(stdlib_ratio)} the SDK's time",
            ),
            Target(
                "SDK faster than pydantic v2",
                sdk < med[PYDANTIC],
                f"pydantic takes {fmt_ratio(pyd_ratio)} the SDK's time",
            ),
        ],
        notes=[
            "The SDK's `Torrent` has a `__post_init__` (forces UTC on a naive `pubDate`); "
            f"its cost is the gap to the plain struct: {fmt_ratio(sdk / med[FLOOR])}.",
        ],
    )


def main() -> None:
    """Run this benchmark alone and print its section."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    print(run(parser.parse_args().quick).markdown())


if __name__ == "__main__":
    main()
