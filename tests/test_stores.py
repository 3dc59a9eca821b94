"""Where a client's shared state lives (``_stores``): scopes, the backend seams, LocalBackend."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from conftest import API_KEY, BASE

from lacale_async import FakeClock
from lacale_async._errors import ConfigurationError
from lacale_async._ledger import MemoryLedger
from lacale_async._limiter import WindowLimiter
from lacale_async._quota_store import SqliteLedger
from lacale_async._stores import Backend, KeyLedgerBackend, LocalBackend, derive_scope


def test_a_scope_is_a_hex_digest_that_moves_with_the_key_origin_split() -> None:
    scope = derive_scope(API_KEY, BASE)
    assert len(scope) == 64
    assert set(scope) <= set("0123456789abcdef")
    assert API_KEY not in scope
    assert derive_scope(API_KEY, BASE) == scope
    # The separator keeps "ab" at "c" apart from "a" at "bc".
    assert derive_scope("ab", "c") != derive_scope("b", "ca")
    assert derive_scope("key", BASE) != derive_scope("key", BASE + "/")


def test_local_backend_meets_both_protocols_and_a_bare_object_neither() -> None:
    backend = LocalBackend()
    assert isinstance(backend, Backend)
    assert isinstance(backend, KeyLedgerBackend)
    assert not isinstance(object(), Backend)
    assert not isinstance(object(), KeyLedgerBackend)
    assert repr(backend) == "LocalBackend()"


def test_a_memory_key_ledger_is_one_per_clock_and_scope() -> None:
    backend = LocalBackend()
    clock = FakeClock()
    first = backend.key_ledger(scope="s", clock=clock, store=None)
    assert type(first) is MemoryLedger
    assert backend.key_ledger(scope="s", clock=clock, store=None) is first
    assert LocalBackend().key_ledger(scope="s", clock=clock, store=None) is first
    assert backend.key_ledger(scope="t", clock=clock, store=None) is not first
    # Stamps of one fake clock mean nothing to another.
    assert backend.key_ledger(scope="s", clock=FakeClock(), store=None) is not first


async def test_a_stored_key_ledger_is_shared_for_the_same_path(tmp_path: Path) -> None:
    backend = LocalBackend()
    clock = FakeClock()
    path = tmp_path / "q.sqlite3"
    ledger = backend.key_ledger(scope="s", clock=clock, store=path)
    assert isinstance(ledger, SqliteLedger)
    assert backend.key_ledger(scope="s", clock=clock, store=path) is ledger
    other = backend.key_ledger(scope="s", clock=clock, store=tmp_path / "other.sqlite3")
    assert other is not ledger
    assert isinstance(other, SqliteLedger)
    await ledger.aclose()
    await other.aclose()


def test_a_folder_as_store_gives_a_memory_ledger_warned_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="lacale_async")
    backend = LocalBackend()
    clock = FakeClock()
    folder = tmp_path / "a-folder"
    folder.mkdir()
    ledger = backend.key_ledger(scope="s", clock=clock, store=folder)
    assert type(ledger) is MemoryLedger
    assert backend.key_ledger(scope="s", clock=clock, store=folder) is ledger
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert str(folder) in warnings[0]


@pytest.mark.parametrize("rates", [[(0, 1.0)], [(1, 0.0)], [(1, -1.0)]])
def test_the_limiter_refuses_a_bad_rate(rates: list[tuple[int, float]]) -> None:
    with pytest.raises(ConfigurationError):
        LocalBackend().limiter(scope="s", endpoint="search", rates=rates, clock=FakeClock())


def test_limiters_of_one_scope_and_endpoint_share_one_budget() -> None:
    clock = FakeClock()
    backend = LocalBackend()
    a = backend.limiter(scope="s", endpoint="search", rates=[(1, 60.0)], clock=clock)
    b = backend.limiter(scope="s", endpoint="search", rates=[(1, 60.0)], clock=clock)
    assert a is not b
    assert isinstance(a, WindowLimiter)
    assert isinstance(b, WindowLimiter)
    assert a.log is b.log
    c = backend.limiter(scope="t", endpoint="search", rates=[(1, 60.0)], clock=clock)
    assert isinstance(c, WindowLimiter)
    assert c.log is not a.log


def test_each_cache_is_new_and_refuses_no_room() -> None:
    backend = LocalBackend()
    clock = FakeClock()
    one = backend.cache(scope="s", namespace="search", max_entries=2, clock=clock)
    assert backend.cache(scope="s", namespace="search", max_entries=2, clock=clock) is not one
    with pytest.raises(ConfigurationError):
        backend.cache(scope="s", namespace="search", max_entries=0, clock=clock)


async def test_aclose_releases_nothing_and_may_be_repeated() -> None:
    backend = LocalBackend()
    clock = FakeClock()
    ledger = backend.key_ledger(scope="s", clock=clock, store=None)
    await backend.aclose()
    await backend.aclose()
    assert backend.key_ledger(scope="s", clock=clock, store=None) is ledger
