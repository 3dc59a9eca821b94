"""The command names its own settings (LACALE_KEY_RATE, --budget-share), never Python's."""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import pytest
from _cli import ThreadedSandbox, args_of, error_lines, invoke, running

from lacale_async import QuotaExceededError
from lacale_async._cli._names import CLI_NAMES, log_text
from lacale_async._watch_plan import WatchPlan
from lacale_async._wording import Worded
from lacale_async.testing import RateLimit, SandboxConfig

pytestmark = pytest.mark.integration
pytest_plugins = ["_cli"]

# A Python parameter, not inside the command's own name for it (LACALE_KEY_RATE).
ENTRY = [sys.executable, "-c", "import _lacale_async_cli as m; m.main()"]
PYTHON_NAMES = re.compile(r"(?<![A-Z_-])(key_rate|budget_share|quota_store|max_quota_wait)")


@pytest.fixture(scope="module")
def stingy() -> Iterator[ThreadedSandbox]:
    """A tracker whose real budget (1 a day) is smaller than the one the command assumes."""
    yield from running(SandboxConfig(seed=0, key_budget=(RateLimit(1, 86_400.0),)))


@pytest.fixture
def stingy_args(stingy: ThreadedSandbox) -> Iterator[list[str]]:
    yield from args_of(stingy)


def test_a_spent_budget_names_the_variable_that_sets_it(
    remote_args: list[str], tmp_path: Path
) -> None:
    env = {"LACALE_KEY_RATE": "1/86400", "LACALE_QUOTA_STORE": str(tmp_path / "q.sqlite3")}
    assert invoke([*remote_args, "search", "dune"], env=env).exit_code == 0
    result = invoke([*remote_args, "search", "dune"], env=env)
    assert result.exit_code == 8
    (line,) = error_lines(result)
    assert "the key-wide budget is spent: 1 of 1 requests" in line
    assert "(LACALE_KEY_RATE 1 per 24 h, kept in " in line
    assert not PYTHON_NAMES.search(result.stderr)


def test_a_429_within_the_budget_warns_with_the_variable_to_lower(
    stingy_args: list[str], tmp_path: Path
) -> None:
    env = {"LACALE_QUOTA_STORE": str(tmp_path / "q.sqlite3")}
    result = invoke([*stingy_args, "bulk", "--concurrency", "1"], input="a\nb\n", env=env)
    assert result.exit_code == 8
    assert "warning: the tracker answered 429 to a search request" in result.stderr
    assert "smaller than LACALE_KEY_RATE, or another program" in result.stderr
    assert "; lower LACALE_KEY_RATE" in result.stderr
    assert not PYTHON_NAMES.search(result.stdout + result.stderr)
    # The next command: the pause that 429 set (kept in the store), in the command's words.
    # A process of its own: in this one the search limiter would first wait out its own
    # copy of the pause, up to max_retry_wait (2 min).
    run = subprocess.run(
        [*ENTRY, *stingy_args, "search", "c"],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert run.returncode == 8
    (line,) = [line for line in run.stderr.splitlines() if line.startswith("error:")]
    assert "the key-wide budget is paused" in line
    assert "smaller than LACALE_KEY_RATE; the next request may go in " in line
    assert not PYTHON_NAMES.search(run.stderr)


def test_an_unusable_quota_store_warns_with_the_variable(
    remote_args: list[str], tmp_path: Path
) -> None:
    result = invoke([*remote_args, "search", "dune"], env={"LACALE_QUOTA_STORE": str(tmp_path)})
    assert result.exit_code == 0
    (warning,) = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert "cannot use the quota store" in warning
    assert warning.endswith(
        "point LACALE_QUOTA_STORE at another file, or set LACALE_QUOTA_STORE=off to keep the "
        "budget in memory on purpose"
    )
    assert not PYTHON_NAMES.search(result.stderr)


def test_no_key_budget_names_the_variable_that_turned_it_off() -> None:
    result = invoke(["--sandbox", "quota"], env={"LACALE_KEY_RATE": "off"})
    assert result.exit_code == 0
    assert "key budget: none (LACALE_KEY_RATE=off)" in result.stdout


def test_the_watch_plan_names_the_option() -> None:
    plan = WatchPlan(interval=8640.0, count=10, window=(200, 86400.0), share=0.5, given=False)
    assert "(--budget-share 0.5): about 100 searches" in plan.describe(CLI_NAMES)
    assert "(budget_share=0.5): about 100 searches" in str(plan.wording)  # for Python
    off = WatchPlan(interval=30.0, count=1, window=None, share=0.5, given=False)
    assert off.describe(CLI_NAMES).endswith("(the key has no budget: LACALE_KEY_RATE=off)")
    assert off.describe().endswith("(the key has no budget: key_rate=None)")


def test_a_log_record_is_worded_with_the_commands_names() -> None:
    rate = Worded(lambda names: names.name("key_rate"))
    record = logging.makeLogRecord({"msg": "lower %s (%d)", "args": (rate, 3)})
    assert log_text(record) == "lower LACALE_KEY_RATE (3)"
    assert record.getMessage() == "lower key_rate (3)"
    plain = logging.makeLogRecord({"msg": "%s%%", "args": ("50",)})
    assert log_text(plain) == "50%"
    # An error passed as an argument (the watch's retry warning) is worded by its wording.
    wording = Worded(lambda names: f"spent ({names.name('key_rate')} 1 per 24 h)")
    spent = QuotaExceededError(
        str(wording),
        wording=wording,
        retry_after=60.0,
        retry_at=datetime(2026, 1, 1, tzinfo=timezone.utc),
    )
    failed = logging.makeLogRecord({"msg": "failed (%s: %s)", "args": ("Quota", spent)})
    assert log_text(failed) == "failed (Quota: spent (LACALE_KEY_RATE 1 per 24 h))"
    assert str(spent) == "spent (key_rate 1 per 24 h)"


def test_a_warning_without_verbose_is_masked_and_cleaned(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from lacale_async._cli._run import _WarningNotes

    handler = _WarningNotes(("sekrit-key-0123456789", ""))
    record = logging.makeLogRecord(
        {
            "levelno": logging.WARNING,
            "msg": "server said %s; lower %s",
            "args": (
                "sekrit-key-0123456789 \x1b[2Jgone",
                Worded(lambda names: names.name("key_rate")),
            ),
        }
    )
    handler.emit(record)
    err = capsys.readouterr().err
    assert err == "warning: server said *** gone; lower LACALE_KEY_RATE\n"
