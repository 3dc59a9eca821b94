"""WindowLog: admission arithmetic at the window's edges, the pause, exits and the FIFO turn.

The log takes the clock's time as an argument, so these tests pass times by hand: every
boundary is exact, and nothing sleeps.
"""

from __future__ import annotations

import asyncio
import gc
import math

import pytest

from lacale_async._gate import EPSILON
from lacale_async._windowlog import Window, WindowLog

TWO_PER_TEN: list[Window] = [(2, 10.0, 0.5)]


class User:
    """Stands for a limiter: the log is in use while one lives."""


def registered(windows: list[Window]) -> tuple[WindowLog, User]:
    log = WindowLog()
    user = User()
    log.register(windows, user)
    return log, user


def spend(log: WindowLog, windows: list[Window], at: float, until: float) -> None:
    """Admit one request at ``at`` and end it, counted, at ``until``."""
    assert log.try_admit(at, windows) is None
    log.release(until)


def test_a_new_log_is_empty_and_unpaused() -> None:
    log = WindowLog()
    assert log.in_flight == 0
    assert log.pause_until == -math.inf
    assert repr(log) == "WindowLog(in_flight=0, recent=0)"


def test_requests_are_admitted_at_once_while_the_window_has_room() -> None:
    log, _user = registered(TWO_PER_TEN)
    assert log.try_admit(0.0, TWO_PER_TEN) is None
    assert log.try_admit(0.0, TWO_PER_TEN) is None
    assert log.in_flight == 2
    assert repr(log) == "WindowLog(in_flight=2, recent=0)"


def test_a_spent_window_reopens_exactly_period_plus_margin_after_the_oldest_exit() -> None:
    log, _user = registered(TWO_PER_TEN)
    spend(log, TWO_PER_TEN, 0.0, 1.0)
    spend(log, TWO_PER_TEN, 1.0, 2.0)
    # The 2nd most recent exit (1.0) must be 10 + 0.5 seconds old.
    assert log.try_admit(2.0, TWO_PER_TEN) == pytest.approx(9.5)
    assert log.try_admit(11.0, TWO_PER_TEN) == pytest.approx(0.5)
    assert log.in_flight == 0  # the refusals counted nothing
    assert log.try_admit(11.5, TWO_PER_TEN) is None
    assert log.in_flight == 1


def test_a_wait_within_epsilon_counts_as_reached() -> None:
    windows: list[Window] = [(1, 10.0, 0.0)]
    log, _user = registered(windows)
    spend(log, windows, 0.0, 1.0)
    due = 11.0
    early = log.try_admit(due - 1e-6, windows)
    assert isinstance(early, float)
    assert early > EPSILON
    # Float rounding must not become a nanosecond sleep: this close, the request goes.
    assert log.try_admit(due - EPSILON / 2, windows) is None


def test_requests_in_flight_and_recent_exits_share_a_windows_calls() -> None:
    windows: list[Window] = [(3, 10.0, 0.0)]
    log, _user = registered(windows)
    assert log.try_admit(0.0, windows) is None
    assert log.try_admit(0.0, windows) is None
    log.release(1.0)
    # One in flight, one exit: a third fits.
    assert log.try_admit(1.0, windows) is None
    # Two in flight: the next must wait for the one exit (at 1.0) to leave the window.
    assert log.try_admit(1.0, windows) == pytest.approx(10.0)


async def test_every_slot_in_flight_waits_for_an_exit_not_a_time() -> None:
    log, _user = registered(TWO_PER_TEN)
    assert log.try_admit(0.0, TWO_PER_TEN) is None
    assert log.try_admit(0.0, TWO_PER_TEN) is None
    waiting = log.try_admit(0.0, TWO_PER_TEN)
    assert isinstance(waiting, asyncio.Future)
    assert not waiting.done()
    log.release(3.0)
    assert waiting.done()
    assert log.in_flight == 1
    # A slot is free, but that exit now binds the window: a time to wait, not an exit.
    assert log.try_admit(3.0, TWO_PER_TEN) == pytest.approx(10.5)


async def test_the_strictest_window_decides_and_a_full_one_waits_for_an_exit() -> None:
    windows: list[Window] = [(1, 1.0, 0.0), (3, 100.0, 0.0)]
    log, _user = registered(windows)
    spend(log, windows, 0.0, 0.0)
    spend(log, windows, 1.0, 1.0)
    spend(log, windows, 2.0, 2.0)
    # The per-second window is free again at 3.0, but the third exit fills 3 per 100 s.
    assert log.try_admit(3.0, windows) == pytest.approx(97.0)
    log.admit()  # one in flight, admitted elsewhere (the fleet's Redis mirror)
    assert isinstance(log.try_admit(200.0, windows), asyncio.Future)  # 1 per 1 s: all taken
    log.release(200.0)


def test_an_uncounted_release_gives_its_slot_back_unspent() -> None:
    windows: list[Window] = [(1, 10.0, 0.0)]
    log, _user = registered(windows)
    assert log.try_admit(0.0, windows) is None
    log.release(1.0, counted=False)
    assert log.in_flight == 0
    assert repr(log) == "WindowLog(in_flight=0, recent=0)"
    assert log.try_admit(1.0, windows) is None


def test_a_pause_holds_everyone_back_and_only_moves_later() -> None:
    log, _user = registered(TWO_PER_TEN)
    log.pause(30.0)
    log.pause(5.0)  # earlier: ignored
    assert log.pause_until == 30.0
    assert log.try_admit(0.0, TWO_PER_TEN) == pytest.approx(30.0)
    assert log.try_admit(29.0, TWO_PER_TEN) == pytest.approx(1.0)
    assert log.in_flight == 0
    assert log.try_admit(30.0, TWO_PER_TEN) is None


def test_the_longer_of_a_pause_and_a_window_wait_is_returned() -> None:
    windows: list[Window] = [(1, 10.0, 0.0)]
    log, _user = registered(windows)
    spend(log, windows, 0.0, 0.0)
    log.pause(4.0)
    assert log.try_admit(1.0, windows) == pytest.approx(9.0)  # the window: until 10
    log.pause(15.0)
    assert log.try_admit(1.0, windows) == pytest.approx(14.0)  # the pause: until 15


def test_exits_stamped_out_of_order_never_move_earlier() -> None:
    windows: list[Window] = [(1, 10.0, 0.0)]
    log, _user = registered(windows)
    log.admit()
    log.admit()
    log.release(5.0)
    log.release(4.0)  # another thread's stamp, a hair behind: counted as 5.0
    assert log.try_admit(5.0, windows) == pytest.approx(10.0)


def test_register_keeps_the_history_the_widest_window_needs() -> None:
    log, _user = registered([(2, 10.0, 0.0)])
    log.register([(3, 100.0, 0.0)], User())  # another limiter on the log, wider
    for t in (0.0, 1.0, 2.0, 3.0):
        log.admit()
        log.release(t)
    assert not log.idle_at(3.0)  # prunes: the 3 most recent exits are all any window needs
    assert repr(log) == "WindowLog(in_flight=0, recent=3)"
    assert not log.idle_at(101.5)  # 1.0 left the widest window (100 s); 2.0 is still in it
    assert repr(log) == "WindowLog(in_flight=0, recent=2)"


def test_a_log_is_in_use_while_a_registered_limiter_lives() -> None:
    log, user = registered(TWO_PER_TEN)
    assert not log.idle_at(1000.0)  # no request, no exit, no pause: only the user binds
    del user
    gc.collect()
    assert log.idle_at(1000.0)


def test_an_exit_and_a_pause_keep_the_log_busy_exactly_as_long_as_they_bind() -> None:
    log, user = registered(TWO_PER_TEN)
    del user
    gc.collect()
    log.admit()
    assert not log.idle_at(100.0)  # a request in flight
    log.release(1.0)
    assert not log.idle_at(11.0)  # the exit at 1.0 binds until 1 + 10 + 0.5
    assert log.idle_at(11.5)
    log.pause(20.0)
    assert not log.idle_at(19.0)
    assert log.idle_at(20.0)


async def test_an_exit_in_another_thread_wakes_the_waiter_on_its_own_loop() -> None:
    windows: list[Window] = [(1, 10.0, 0.0)]
    log, _user = registered(windows)
    assert log.try_admit(0.0, windows) is None
    waiting = log.try_admit(0.0, windows)
    assert isinstance(waiting, asyncio.Future)
    await asyncio.to_thread(log.release, 2.0)
    await asyncio.wait_for(waiting, 1.0)
    assert log.try_admit(2.0, windows) == pytest.approx(10.0)


async def test_turns_are_taken_first_come_first_served() -> None:
    log = WindowLog()
    order: list[str] = []

    async def turn(name: str, release: asyncio.Event | None = None) -> None:
        await log.wait_turn()
        order.append(name)
        if release is not None:
            await release.wait()
        log.end_turn()

    hold = asyncio.Event()
    first = asyncio.create_task(turn("first", hold))
    await asyncio.sleep(0)
    later = [asyncio.create_task(turn(name)) for name in ("second", "third")]
    await asyncio.sleep(0)
    assert order == ["first"]  # the others queue while the first holds the turn
    hold.set()
    await asyncio.gather(first, *later)
    assert order == ["first", "second", "third"]
