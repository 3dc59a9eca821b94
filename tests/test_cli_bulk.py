"""``lacale bulk`` (``_cli._bulk``): its line parsing and its output, tested directly.

``run_bulk`` runs against the embedded sandbox in-process (real sockets on 127.0.0.1), with
consoles writing to strings; the command itself through click's runner.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from _cli import SANDBOX, invoke
from click.testing import CliRunner
from conftest import NO_LIMITS
from rich.console import Console

from lacale_async import LaCaleClient
from lacale_async._bulk import SearchQuery
from lacale_async._cli._bulk import BulkLine, read_queries, run_bulk
from lacale_async._cli._commands import cli
from lacale_async._cli._userdata import load_hashes
from lacale_async.testing import SandboxConfig, SandboxServer


@pytest.fixture(autouse=True)
def _own_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # run_bulk remembers the hashes it showed: each test reads only its own.
    monkeypatch.setenv("LACALE_CACHE_DIR", str(tmp_path / "cache"))


# -- read_queries ---------------------------------------------------------------------------


def test_blank_lines_and_comments_are_skipped_and_lines_keep_their_numbers() -> None:
    lines = read_queries(["# films\n", "Amélie\r\n", "\n", "   \t\n", "  # indented\n", "C# x\n"])
    assert [(line.number, line.text) for line in lines] == [(2, "Amélie"), (6, "C# x")]
    assert all(line.error is None for line in lines)


def test_only_the_line_ending_is_removed_from_a_query() -> None:
    [line] = read_queries(["  amelie \t\r\n"])
    assert line.text == "  amelie \t"
    assert line.query == SearchQuery(query="  amelie \t")


def test_every_query_gets_the_categories_and_duplicates_stay_in_order() -> None:
    lines = read_queries(["b\n", "a\n", "b"], ("films", "series"))
    assert lines == [
        BulkLine(text="b", query=SearchQuery(query="b", categories=("films", "series")), number=1),
        BulkLine(text="a", query=SearchQuery(query="a", categories=("films", "series")), number=2),
        BulkLine(text="b", query=SearchQuery(query="b", categories=("films", "series")), number=3),
    ]


def test_no_input_gives_no_queries() -> None:
    assert read_queries([]) == []
    assert read_queries(["\n", "# only a comment\n"]) == []


def test_a_line_the_api_would_refuse_carries_its_error_and_number() -> None:
    lines = read_queries(["ok\n", "x" * 200 + "\n", "# c\n", "y" * 201 + "\n", "bad \ud800\n"])
    assert [line.number for line in lines] == [1, 2, 4, 5]
    assert lines[0].error is None
    assert lines[1].error is None, "200 characters is the limit, not over it"
    assert lines[2].text == "y" * 201
    assert str(lines[2].error) == (
        "line 4: query is 201 characters long; the API accepts at most 200"
    )
    assert str(lines[3].error).startswith("line 5: query contains characters that cannot be sent")


# -- run_bulk against the sandbox -----------------------------------------------------------


@pytest.fixture
async def sandbox() -> AsyncIterator[SandboxServer]:
    async with SandboxServer(SandboxConfig(seed=0)) as server:
        yield server


@pytest.fixture
async def client(sandbox: SandboxServer) -> AsyncIterator[LaCaleClient]:
    async with sandbox.client(**NO_LIMITS) as opened:
        yield opened


def _console() -> tuple[Console, io.StringIO]:
    buffer = io.StringIO()
    return Console(file=buffer, width=200, force_terminal=False), buffer


def _searches(sandbox: SandboxServer) -> list[str]:
    return [r.endpoint for r in sandbox.requests if r.endpoint == "search"]


def _add(sandbox: SandboxServer, title: str) -> str:
    """Put one copy of a catalogue torrent with ``title`` in the sandbox; return its hash."""
    model = next(t for t in sandbox.catalogue if t.approved)
    info_hash = hashlib.sha1(title.encode()).hexdigest()
    copy = dataclasses.replace(
        model, title=title, info_hash=info_hash, other_hashes=(), published_ms=2**41
    )
    sandbox.catalogue.add(copy)
    return info_hash


async def test_equal_lines_are_searched_once_and_reported_for_each_line(
    sandbox: SandboxServer, client: LaCaleClient, capsys: pytest.CaptureFixture[str]
) -> None:
    out, buffer = _console()
    err, _ = _console()
    lines = read_queries(["amelie\n", "zzz-none\n", "amelie\n"])
    code = await run_bulk(client, lines, concurrency=2, top=0, as_json=False, out=out, err=err)
    assert code == 0
    assert len(_searches(sandbox)) == 2
    shown = buffer.getvalue().splitlines()
    assert len(shown) == 3
    amelie = [line for line in shown if line.startswith("amelie  (")]
    assert len(amelie) == 2
    assert amelie[0] == amelie[1] != "amelie  (no results)"
    assert "zzz-none  (no results)" in shown
    printed = capsys.readouterr()
    assert "stats: requests sent 2," in printed.out, "the summary goes to stdout with tables"
    assert "duplicates merged 1," in printed.out
    assert "key budget: " in printed.out
    assert printed.err == ""


async def test_one_result_is_counted_in_the_singular_and_its_hash_remembered(
    sandbox: SandboxServer, client: LaCaleClient
) -> None:
    info_hash = _add(sandbox, "Zyxwvut.Unique.2024")
    out, buffer = _console()
    err, _ = _console()
    lines = read_queries(["Zyxwvut\n"])
    assert await run_bulk(client, lines, concurrency=1, top=0, as_json=False, out=out, err=err) == 0
    assert buffer.getvalue() == "Zyxwvut  (1 result)\n"
    assert load_hashes() == [info_hash]


async def test_a_table_shows_at_most_top_rows_per_query(
    sandbox: SandboxServer, client: LaCaleClient
) -> None:
    for n in range(3):
        _add(sandbox, f"Qwertzu.Part{n}.2024")
    out, buffer = _console()
    err, _ = _console()
    lines = read_queries(["Qwertzu\n"])
    assert await run_bulk(client, lines, concurrency=1, top=1, as_json=False, out=out, err=err) == 0
    text = buffer.getvalue()
    assert "Qwertzu  (3 results)" in text
    assert sum(f"Qwertzu.Part{n}.2024" in text for n in range(3)) == 1
    assert "more not shown" in text


async def test_refused_lines_fail_first_without_being_sent_and_set_the_exit_code(
    sandbox: SandboxServer, client: LaCaleClient, capsys: pytest.CaptureFixture[str]
) -> None:
    out, _ = _console()
    err, _ = _console()
    lines = read_queries(["amelie\n", "x" * 201 + "\n"])
    code = await run_bulk(client, lines, concurrency=1, top=0, as_json=True, out=out, err=err)
    assert code == 4
    printed = capsys.readouterr()
    records = [json.loads(line) for line in printed.out.splitlines()]
    assert [r["query"] for r in records] == ["x" * 201, "amelie"]
    assert records[0] == {
        "query": "x" * 201,
        "ok": False,
        "results": [],
        "error": "line 2: query is 201 characters long; the API accepts at most 200",
    }
    assert records[1]["ok"] is True
    assert records[1]["error"] is None
    assert len(_searches(sandbox)) == 1
    # Standard output stays JSON lines: the stats, budget and failure count go to stderr.
    assert "stats: requests sent 1," in printed.err
    assert "key budget: " in printed.err
    assert "error: 1 of 2 queries failed" in printed.err


async def test_a_failed_query_in_a_table_is_shortened_and_secrets_are_masked(
    client: LaCaleClient,
) -> None:
    out, buffer = _console()
    err, _ = _console()
    lines = read_queries(["é" * 250 + "\n"])
    # "200" stands in for a key: whatever secrets are given never reach the output.
    code = await run_bulk(
        client, lines, concurrency=1, top=5, as_json=False, out=out, err=err, secrets=("200",)
    )
    assert code == 4
    assert buffer.getvalue() == (
        "é" * 59 + "…: error: line 1: query is 250 characters long; the API accepts at most ***\n"
    )


async def test_control_characters_of_a_query_are_removed_in_a_table_and_escaped_in_json(
    client: LaCaleClient, capsys: pytest.CaptureFixture[str]
) -> None:
    query = "zz\x1b]0;pwned\x07\x9b31mnone\x85"
    table, buffer = _console()
    err, _ = _console()
    lines = read_queries([query + "\n"])
    assert (
        await run_bulk(client, lines, concurrency=1, top=1, as_json=False, out=table, err=err) == 0
    )
    assert buffer.getvalue() == "zznone  (no results)\n"
    capsys.readouterr()
    assert (
        await run_bulk(client, lines, concurrency=1, top=1, as_json=True, out=table, err=err) == 0
    )
    [line] = capsys.readouterr().out.splitlines()
    assert "\x1b" not in line
    assert "\x9b" not in line
    assert json.loads(line)["query"] == query, "JSON gives the original text back"


async def test_no_queries_is_said_and_sends_nothing(
    sandbox: SandboxServer, client: LaCaleClient, capsys: pytest.CaptureFixture[str]
) -> None:
    out, buffer = _console()
    err, _ = _console()
    assert await run_bulk(client, [], concurrency=1, top=5, as_json=False, out=out, err=err) == 0
    printed = capsys.readouterr()
    assert printed.err == "note: no queries to run (blank lines and # comments are skipped)\n"
    assert "stats: requests sent 0," in printed.out
    assert buffer.getvalue() == ""
    assert _searches(sandbox) == []


# -- the command ----------------------------------------------------------------------------


def test_a_byte_order_mark_is_not_part_of_the_first_query(tmp_path: Path) -> None:
    queries = tmp_path / "q.txt"
    queries.write_bytes("\ufeffzzz-none\n".encode())
    result = invoke([*SANDBOX, "--json", "bulk", str(queries)])
    assert result.exit_code == 0, result.stderr
    assert [json.loads(line)["query"] for line in result.stdout.splitlines()] == ["zzz-none"]


@pytest.mark.parametrize("stdin", [["-"], []], ids=["dash", "piped"])
def test_a_byte_order_mark_on_stdin_is_not_part_of_the_first_query(stdin: list[str]) -> None:
    result = invoke([*SANDBOX, "--json", "bulk", *stdin], input="\ufeffzzz-none\n")
    assert result.exit_code == 0, result.stderr
    assert [json.loads(line)["query"] for line in result.stdout.splitlines()] == ["zzz-none"]


@pytest.mark.parametrize("stdin", [["-"], []], ids=["dash", "piped"])
def test_queries_that_are_not_utf8_are_a_validation_error(stdin: list[str]) -> None:
    runner = CliRunner(env={"LACALE_API_KEY": None, "LACALE_BASE_URL": None})
    result = runner.invoke(
        cli, [*SANDBOX, "bulk", *stdin], input=b"caf\xe9\n", catch_exceptions=False
    )
    assert result.exit_code == 4
    assert result.stderr == "error: the queries are not UTF-8 text\n"
    assert result.stdout == ""


@pytest.mark.parametrize("option", [["--concurrency", "0"], ["--top", "-1"]])
def test_a_concurrency_below_one_or_negative_rows_are_usage_errors(option: list[str]) -> None:
    result = invoke([*SANDBOX, "bulk", "-", *option], input="amelie\n")
    assert result.exit_code == 2
    assert option[0] in result.stderr


def test_piped_stdin_that_is_not_utf8_is_refused_whole_in_a_real_process() -> None:
    # A real process's stdin decodes with surrogateescape, which click's runner does not
    # show: each line then failed on its own, and --json echoed the raw byte (invalid UTF-8).
    env = {**os.environ, "LC_ALL": "C.UTF-8", "LANG": "C.UTF-8"}
    for name in ("LACALE_API_KEY", "LACALE_BASE_URL", "PYTHONIOENCODING"):
        env.pop(name, None)
    done = subprocess.run(
        [sys.executable, "-m", "lacale_async", "--sandbox", "--json", "bulk"],
        input=b"caf\xe9\n",
        capture_output=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert (done.returncode, done.stdout) == (4, b"")
    assert done.stderr == b"error: the queries are not UTF-8 text\n"
