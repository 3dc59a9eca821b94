"""The benchmark harness: its pools run contenders in this loop or in worker processes."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from benchmarks._harness import measure, ratio_stats, shuffled_rounds
from benchmarks._pools import ContenderSpec, load_factory

pytestmark = pytest.mark.slow


class _Echo:
    """A contender answering each job with its round and its factory's argument."""

    def __init__(self, scale: float) -> None:
        self.scale = scale
        self.closed = False

    async def run(self, job: dict[str, Any]) -> dict[str, float]:
        return {"value": self.scale * (job["round"] + 1)}

    async def aclose(self) -> None:
        self.closed = True


async def open_one(args: Mapping[str, Any]) -> _Echo:
    return _Echo(args["scale"])


async def open_two(args: Mapping[str, Any]) -> _Echo:
    return _Echo(2 * args["scale"])


SPECS = [
    ContenderSpec("one", "tests.test_bench_harness:open_one"),
    ContenderSpec("two", "tests.test_bench_harness:open_two"),
]


@pytest.mark.parametrize("in_process", [True, False])
async def test_measure_runs_every_contender_once_per_round(in_process: bool) -> None:
    samples = await measure(
        SPECS,
        {"scale": 1.5},
        lambda name, r: {"round": r},
        rounds=4,
        generations=1 if in_process else 2,
        in_process=in_process,
        label="test",
    )
    assert samples.of("one", "value") == [1.5, 3.0, 4.5, 6.0]
    assert samples.of("two", "value") == [3.0, 6.0, 9.0, 12.0]
    stats = ratio_stats(samples.of("two", "value"), samples.of("one", "value"))
    assert (stats.median, stats.low, stats.high, stats.rounds) == (2.0, 2.0, 2.0, 4)


def test_rounds_are_shuffled_from_the_seed_and_factories_load() -> None:
    orders = list(shuffled_rounds(["a", "b", "c"], 5, seed=7))
    assert orders == list(shuffled_rounds(["a", "b", "c"], 5, seed=7))
    assert all(sorted(order) == ["a", "b", "c"] for order in orders)
    assert load_factory("tests.test_bench_harness:open_one").__name__ == "open_one"
