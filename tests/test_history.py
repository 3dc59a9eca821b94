"""ExitHistory: the record both the endpoint limiters and the key budget decide from."""

from __future__ import annotations

import gc
import math

from lacale_async._history import ExitHistory


class _History(ExitHistory):
    """The base's locked steps, driven the way its two subclasses drive them."""

    __slots__ = ()

    def enter(self) -> None:
        with self._lock:
            self._in_flight += 1

    def widen(self, calls: int, horizon: float) -> None:
        with self._lock:
            self._widen_locked(calls, horizon)

    def exit(self, now: float, *, counted: bool = True) -> None:
        with self._lock:
            self._prune_locked(now)
            self._exit_locked(now, counted=counted)

    def pause(self, until: float) -> None:
        with self._lock:
            self._pause_until = until

    def use(self, user: object) -> None:
        with self._lock:
            self._users.add(user)

    @property
    def exits(self) -> list[float]:
        with self._lock:
            return list(self._done)


class _User:
    pass


def test_a_new_history_binds_nothing() -> None:
    assert _History().idle_at(0.0)


def test_a_request_in_flight_binds_until_it_exits_uncounted() -> None:
    history = _History()
    history.enter()
    assert not history.idle_at(100.0)
    history.exit(100.0, counted=False)
    assert history.exits == []
    assert history.idle_at(100.0)


def test_an_exit_binds_for_the_longest_window_seen() -> None:
    history = _History()
    history.widen(5, 10.0)
    history.widen(2, 60.0)  # a second, longer window raises the horizon
    history.widen(1, 1.0)  # a shorter one never lowers it
    history.enter()
    history.exit(0.0)
    assert not history.idle_at(59.9)
    assert history.idle_at(60.0)
    assert history.exits == []


def test_only_the_largest_n_seen_is_kept() -> None:
    history = _History()
    history.widen(3, math.inf)
    for t in range(5):
        history.enter()
        history.exit(float(t))
    history.idle_at(5.0)  # prunes
    assert history.exits == [2.0, 3.0, 4.0]


def test_exit_stamps_never_go_back_in_time() -> None:
    history = _History()
    history.widen(10, 100.0)
    for now in (5.0, 4.0, 6.0):  # another thread stamped a hair later
        history.enter()
        history.exit(now)
    assert history.exits == [5.0, 5.0, 6.0]


def test_a_pause_binds_until_it_ends() -> None:
    history = _History()
    history.pause(30.0)
    assert not history.idle_at(29.0)
    assert history.idle_at(30.0)


def test_a_living_user_binds_and_a_collected_one_does_not() -> None:
    history = _History()
    user = _User()
    history.use(user)
    assert not history.idle_at(0.0)
    del user
    gc.collect()
    assert history.idle_at(0.0)
