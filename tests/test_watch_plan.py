"""The interval arithmetic of a watch: budget share, the cache floor, backoff."""

from __future__ import annotations

import math
import random
from typing import Any

import pytest
from _windows import max_in_window

from lacale_async import ConfigurationError, SearchQuery, ValidationError
from lacale_async._watch_plan import (
    SERVER_CACHE_TTL,
    WatchSettings,
    budget_interval,
    check_watch,
    plan_interval,
    retry_delay,
)

DAY = 86_400.0


def no_refusal(query: str | None, tmdb_id: str | None) -> None:
    return None


def settings(queries: Any = "dune", **options: Any) -> WatchSettings:
    args: dict[str, Any] = {
        "interval": None,
        "state": None,
        "include_existing": False,
        "match": None,
        "budget_share": 0.5,
        "rng": None,
        "origin": "https://la-cale.space",
        "cache_ttl": 30.0,
        "refuse_empty": no_refusal,
    }
    args.update(options)
    return check_watch(queries, **args)


def test_the_issue_example_ten_queries_two_hundred_a_day_half_share() -> None:
    assert budget_interval(200, DAY, 0.5, 10) == pytest.approx(8640.0)  # 2.4 h


@pytest.mark.parametrize(("calls", "share", "count"), [(200, 0.5, 3), (200, 0.3, 7), (60, 1.0, 7)])
def test_polls_spaced_by_the_interval_never_exceed_the_share(
    calls: int, share: float, count: int
) -> None:
    interval = budget_interval(calls, DAY, share, count)
    # Each query polled as soon as allowed, the queries' phases anywhere: the worst case.
    rng = random.Random(count)
    times = [
        phase + k * interval
        for phase in (rng.uniform(0, interval) for _ in range(count))
        for k in range(40)
    ]
    assert max_in_window(times, DAY) <= share * calls


def test_more_queries_than_the_share_allows_spread_over_more_than_a_window() -> None:
    interval = budget_interval(10, DAY, 0.5, 20)  # 5 searches a day for 20 queries
    assert interval == pytest.approx(4 * DAY)


def test_without_a_budget_the_cache_ttl_is_the_floor() -> None:
    plan = plan_interval(settings(["a", "b"]), [])
    assert plan.interval == 30.0
    assert plan.window is None
    assert "no budget" in plan.describe()


def test_the_floor_holds_even_when_the_budget_allows_more() -> None:
    plan = plan_interval(settings(), [(60, 60.0), (100_000, DAY)])
    assert plan.interval == 30.0


def test_a_client_without_cache_still_meets_the_server_s_cache() -> None:
    assert settings(cache_ttl=0).floor == SERVER_CACHE_TTL


def test_the_longest_window_decides() -> None:
    plan = plan_interval(settings(["a", "b"]), [(200, DAY), (60, 60.0)])
    assert plan.window == (200, DAY)
    assert plan.interval == pytest.approx(DAY / 50)
    assert "about 100 searches of the key's 200 per 24 h" in plan.describe()


def test_a_given_interval_that_fits_is_kept_and_one_that_does_not_is_refused() -> None:
    fits = plan_interval(settings([str(n) for n in range(10)], interval=9000), [(200, DAY)])
    assert fits.interval == 9000
    assert fits.given
    with pytest.raises(ConfigurationError, match=r"one every 8640 s \(2 h 24 min\) fits"):
        plan_interval(settings([str(n) for n in range(10)], interval=8000), [(200, DAY)])


def test_an_interval_under_the_floor_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="interval >= 30") as cached:
        settings(interval=10)
    assert cached.value.hint == "use interval >= 30 (or a shorter cache_ttl)"
    # Without a client cache the floor is the tracker's own: no cache_ttl would lower it.
    with pytest.raises(ConfigurationError, match="search cache \\(30 s\\)") as uncached:
        settings(interval=10, cache_ttl=0)
    assert uncached.value.hint == "use interval >= 30"


def test_queries_collapse_by_the_search_cache_s_normalisation() -> None:
    items = settings(
        ["Amélie", "amelie ", SearchQuery("AMELIE"), SearchQuery("amelie", ("films",))]
    )
    assert [q.query for q in items.queries] == [
        SearchQuery("Amélie"),
        SearchQuery("amelie", ("films",)),
    ]
    # The key names the origin and the normalised query, never the API key.
    assert "la-cale.space" in items.queries[0].key
    assert "amelie" in items.queries[0].key


def test_categories_given_as_a_list_become_a_tuple() -> None:
    item = settings(SearchQuery("dune", ["films"])).queries[0]  # type: ignore[arg-type]
    assert item.query.categories == ("films",)


def test_the_empty_search_rule_is_the_client_s() -> None:
    def refuse(query: str | None, tmdb_id: str | None) -> None:
        raise ValidationError("needs a query")

    with pytest.raises(ValidationError, match="needs a query"):
        settings(SearchQuery(), refuse_empty=refuse)


def test_backoff_is_next_round_then_doubles_up_to_an_hour() -> None:
    assert [retry_delay(60, n, None) for n in range(1, 9)] == [
        60,
        120,
        240,
        480,
        960,
        1920,
        3600,
        3600,
    ]
    # A long interval is never shortened, nor stretched past itself.
    assert retry_delay(8640, 5, None) == 8640
    # What the server said to wait wins when it is longer.
    assert retry_delay(60, 1, 500.0) == 500


def test_a_retry_after_beyond_a_day_is_asked_again_after_a_day() -> None:
    # 10**9 s (a hostile or broken server) would have stopped the query for good.
    assert retry_delay(60, 1, 1e9) == DAY
    assert retry_delay(60, 1, math.inf) == DAY
    assert retry_delay(60, 1, math.nan) == 60
    assert retry_delay(2 * DAY, 1, 1e9) == 2 * DAY  # never sooner than the interval


def test_a_share_too_small_for_one_poll_a_year_is_refused() -> None:
    # budget_share=5e-324 made the computed interval inf, which no sleep or date takes.
    with pytest.raises(ConfigurationError, match="less than one search a year"):
        plan_interval(settings(budget_share=5e-324), [(200, DAY)])


def test_a_state_path_under_an_unknown_home_is_refused_before_anything_runs() -> None:
    # pathlib raised a raw RuntimeError ("Could not determine home directory").
    with pytest.raises(ValidationError, match=r"state path .* names no home folder"):
        settings(state="~no_such_user_zz/watch.sqlite3")
