"""StatsRecorder and its snapshots: a client's counters, frozen when read."""

from __future__ import annotations

import msgspec
import pytest

from lacale_async._stats import (
    ClientStats,
    EndpointCounters,
    EndpointStats,
    KeyBudgetStats,
    KeyCounters,
    StatsRecorder,
)


def test_a_new_recorder_reads_zero_for_every_endpoint_in_order() -> None:
    stats = StatsRecorder().snapshot()
    assert list(stats.endpoints) == ["search", "meta", "upload", "download"]
    assert all(e == EndpointStats() for e in stats.endpoints.values())
    assert stats.key_budget == KeyBudgetStats()
    assert (stats.cache_hits, stats.cache_misses, stats.coalesced) == (0, 0, 0)
    assert (stats.requests, stats.retries, stats.rate_limited, stats.limiter_wait) == (0, 0, 0, 0)


def test_a_snapshot_copies_every_counter_to_its_own_field() -> None:
    recorder = StatsRecorder()
    # Distinct values: a field copied from the wrong counter cannot go unnoticed.
    upload = recorder.endpoints["upload"]
    upload.requests, upload.retries, upload.rate_limited, upload.errors = 11, 12, 13, 14
    upload.limiter_wait = 1.5
    key = recorder.key
    key.requests, key.wait, key.refused, key.unexpected_429 = 21, 2.5, 23, 24
    recorder.cache_hits, recorder.cache_misses, recorder.coalesced = 31, 32, 33
    stats = recorder.snapshot()
    assert stats.endpoints["upload"] == EndpointStats(
        requests=11, retries=12, rate_limited=13, errors=14, limiter_wait=1.5
    )
    assert stats.endpoints["search"] == EndpointStats()
    assert stats.key_budget == KeyBudgetStats(requests=21, wait=2.5, refused=23, unexpected_429=24)
    assert (stats.cache_hits, stats.cache_misses, stats.coalesced) == (31, 32, 33)


def test_every_endpoint_counts_on_its_own() -> None:
    recorder = StatsRecorder()
    recorder.endpoints["search"].requests += 2
    recorder.endpoints["download"].errors += 1
    stats = recorder.snapshot()
    assert stats.endpoints["search"] == EndpointStats(requests=2)
    assert stats.endpoints["download"] == EndpointStats(errors=1)
    assert stats.endpoints["meta"] == stats.endpoints["upload"] == EndpointStats()


def test_a_snapshot_does_not_move_with_later_counts() -> None:
    recorder = StatsRecorder()
    recorder.endpoints["meta"].requests = 1
    recorder.key.refused = 1
    before = recorder.snapshot()
    recorder.endpoints["meta"].requests += 1
    recorder.key.refused += 1
    recorder.count_coalesced()
    assert before.endpoints["meta"].requests == 1
    assert before.key_budget.refused == 1
    assert before.coalesced == 0
    assert recorder.snapshot().endpoints["meta"].requests == 2


def test_a_snapshot_is_frozen_and_its_endpoints_are_its_own() -> None:
    recorder = StatsRecorder()
    stats = recorder.snapshot()
    with pytest.raises(AttributeError):
        stats.cache_hits = 1  # type: ignore[misc]
    with pytest.raises(AttributeError):
        stats.endpoints["search"].requests = 1  # type: ignore[misc]
    # The dict itself can be changed by its reader, but only in that snapshot.
    stats.endpoints["search"] = EndpointStats(requests=99)
    assert recorder.snapshot().endpoints["search"] == EndpointStats()


def test_the_totals_add_up_every_endpoint() -> None:
    stats = ClientStats(
        endpoints={
            "search": EndpointStats(requests=5, retries=2, rate_limited=1, limiter_wait=0.25),
            "meta": EndpointStats(requests=1),
            "download": EndpointStats(requests=3, retries=1, rate_limited=2, limiter_wait=1.5),
        }
    )
    assert (stats.requests, stats.retries, stats.rate_limited) == (9, 3, 3)
    assert stats.limiter_wait == pytest.approx(1.75)


def test_stats_without_endpoints_total_zero_and_default_the_rest() -> None:
    stats = ClientStats(endpoints={})
    assert (stats.requests, stats.retries, stats.rate_limited, stats.limiter_wait) == (0, 0, 0, 0)
    assert stats.key_budget == KeyBudgetStats()
    assert (stats.cache_hits, stats.cache_misses, stats.coalesced) == (0, 0, 0)


def test_the_stats_are_keyword_only() -> None:
    with pytest.raises(TypeError):
        EndpointStats(1)  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        KeyBudgetStats(1)  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        ClientStats({})  # type: ignore[call-arg]


def test_a_snapshot_round_trips_through_json_for_a_dashboard() -> None:
    recorder = StatsRecorder()
    recorder.endpoints["search"].limiter_wait = 0.5
    recorder.key.unexpected_429 = 1
    recorder.cache_hits = 4
    stats = recorder.snapshot()
    encoded = msgspec.json.decode(msgspec.json.encode(stats))
    assert encoded["endpoints"]["search"]["limiter_wait"] == 0.5
    assert encoded["key_budget"]["unexpected_429"] == 1
    assert msgspec.json.decode(msgspec.json.encode(stats), type=ClientStats) == stats


async def test_a_redirect_hop_counts_as_one_more_request_and_nothing_else() -> None:
    counters = EndpointCounters()
    await counters.count_hop()
    await counters.count_hop()
    assert counters.requests == 2
    assert (counters.retries, counters.rate_limited, counters.errors) == (0, 0, 0)
    assert counters.limiter_wait == 0.0


def test_count_coalesced_counts_one_call_each_time() -> None:
    recorder = StatsRecorder()
    recorder.count_coalesced()
    recorder.count_coalesced()
    stats = recorder.snapshot()
    assert stats.coalesced == 2
    assert (stats.cache_hits, stats.cache_misses, stats.requests) == (0, 0, 0)


def test_the_key_counters_start_at_zero() -> None:
    key = KeyCounters()
    assert (key.requests, key.wait, key.refused, key.unexpected_429) == (0, 0.0, 0, 0)
