"""``lacale quota`` and the key-budget lines of ``lacale bulk``, against the embedded sandbox."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner, Result

from lacale_async._cli._commands import cli


def invoke(args: list[str], *, input: str | None = None, key_rate: str | None = None) -> Result:
    env: dict[str, str | None] = {"LACALE_API_KEY": None, "LACALE_BASE_URL": None}
    if key_rate is not None:
        env["LACALE_KEY_RATE"] = key_rate
    return CliRunner(env=env).invoke(cli, args, input=input, catch_exceptions=False)


def test_quota_shows_every_window_and_where_it_is_kept() -> None:
    result = invoke(["--sandbox", "quota"])
    assert result.exit_code == 0
    assert "key budget: 60 of 60 per 60 s left, 200 of 200 per 24 h left" in result.stdout
    assert "kept in: memory" in result.stdout


def test_quota_json() -> None:
    result = invoke(["--sandbox", "--json", "quota"], key_rate="5/60")
    assert result.exit_code == 0
    doc = json.loads(result.stdout)
    assert doc["remaining"] == 5
    assert doc["windows"] == [
        {"calls": 5, "period": 60.0, "used": 0, "remaining": 5, "next_free_at": None}
    ]
    assert doc["at"].endswith("+00:00")


def test_bulk_ends_with_the_budget_left() -> None:
    result = invoke(["--sandbox", "bulk", "--top", "0"], input="a\nb\n")
    assert result.exit_code == 0
    assert "key budget: 58 of 60 per 60 s left, 198 of 200 per 24 h left" in result.stdout


@pytest.mark.parametrize("as_json", [False, True])
def test_bulk_says_how_many_queries_were_not_run_and_when_to_retry(as_json: bool) -> None:
    args = ["--sandbox", *(["--json"] if as_json else []), "bulk", "--top", "0"]
    result = invoke(args, input="a\nb\nc\nd\ne\nA\n", key_rate="3/86400")
    assert result.exit_code == 8  # the exit code of a rate limit
    assert "note: 2 queries were not run (key budget spent, nothing sent for them)" in (
        result.stderr
    )
    assert "key budget: 0 of 3 per 24 h left" in (result.stderr if as_json else result.stdout)
    if as_json:
        records = [json.loads(line) for line in result.stdout.splitlines()]
        refused = [r for r in records if not r["ok"]]
        assert len(records) == 6
        assert {r["query"] for r in refused} == {"d", "e"}
        assert all("not run" in r["error"] for r in refused)


@pytest.mark.parametrize("command", [["quota"], ["bulk", "--top", "0"]])
def test_a_key_rate_period_beyond_a_year_is_a_configuration_error_not_a_traceback(
    command: list[str],
) -> None:
    # Once one unit was spent, the budget's dates overflowed (OverflowError, a traceback).
    result = invoke(["--sandbox", *command], input="a\nb\n", key_rate="1/1e308")
    assert result.exit_code == 3
    assert "LACALE_KEY_RATE" in result.stderr
    assert "at most a year" in result.stderr
