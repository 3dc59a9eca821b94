"""Running one command (``_cli._run``): its consoles, its failure lines and exit codes, its logs."""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import AsyncIterator

import click
import pytest

import lacale_async as la
from lacale_async._cli._run import (
    connect,
    echo_json,
    handled,
    note,
    run_command,
    stderr_console,
    stdout_console,
)
from lacale_async._cli._session import Settings
from lacale_async._cli._streams import EXIT_BROKEN_PIPE
from lacale_async._secret import Secret
from lacale_async.testing import SandboxServer

SECRET = "run-KEY-5e4d3c2b1a-SECRET"
KEYED = Settings(api_key=Secret(SECRET), base_url="http://127.0.0.1:9")
_LOGGER = logging.getLogger("lacale_async")


def _exit_of(excinfo: pytest.ExceptionInfo[click.exceptions.Exit]) -> int:
    return excinfo.value.exit_code


# -- consoles and lines -----------------------------------------------------------------------


def test_results_on_a_pipe_get_120_columns_unless_columns_says_otherwise(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("COLUMNS", raising=False)
    assert not stdout_console().is_terminal
    assert stdout_console().width == 120
    monkeypatch.setenv("COLUMNS", "64")
    assert stdout_console().width == 64


def test_the_progress_console_writes_on_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    stderr_console().print("progress")
    out, err = capsys.readouterr()
    assert (out, err) == ("", "progress\n")


def test_a_note_goes_to_stderr_without_its_escape_sequences(
    capsys: pytest.CaptureFixture[str],
) -> None:
    note("note: \x1b]0;pwned\x07title\x1b[2J\nnext")
    out, err = capsys.readouterr()
    assert (out, err) == ("", "note: title next\n")


def test_json_is_indented_by_default_and_one_line_without_indent(
    capsys: pytest.CaptureFixture[str],
) -> None:
    value = {"title": "Évil\x9b31m", "n": [1, 2]}
    echo_json(value)
    pretty = capsys.readouterr().out
    echo_json(value, indent=None)
    compact = capsys.readouterr().out
    assert pretty.count("\n") > 1
    assert compact == '{"title":"Évil\\u009b31m","n":[1,2]}\n'
    assert json.loads(pretty) == json.loads(compact) == value


# -- handled: one line and one exit code per failure -------------------------------------------


def test_an_sdk_error_is_one_masked_line_and_its_own_exit_code(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(click.exceptions.Exit) as excinfo, handled(KEYED):
        raise la.NotFoundError(f"no torrent for key {SECRET}\nsecond line", status=404)
    assert _exit_of(excinfo) == 6
    assert capsys.readouterr().err == "error: no torrent for key *** second line\n"


def test_a_closed_stdout_ends_with_141_and_says_nothing(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # BrokenPipeError is an OSError: it must not be reported as a file system failure.
    with pytest.raises(click.exceptions.Exit) as excinfo, handled(KEYED):
        raise BrokenPipeError(32, "Broken pipe")
    assert _exit_of(excinfo) == EXIT_BROKEN_PIPE
    assert capsys.readouterr().err == ""


def test_a_file_system_failure_is_one_masked_line_and_exit_1(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(click.exceptions.Exit) as excinfo, handled(KEYED):
        raise PermissionError(13, "Permission denied", f"/ro/{SECRET}.torrent")
    assert _exit_of(excinfo) == 1
    assert capsys.readouterr().err == "error: [Errno 13] Permission denied: '/ro/***.torrent'\n"


@pytest.mark.parametrize(
    ("hint", "line"),
    [
        (None, "interrupted\n"),
        ("", "interrupted\n"),
        ("search for info hash abc", "interrupted: search for info hash abc\n"),
    ],
)
def test_ctrl_c_says_interrupted_with_the_hint_when_there_is_one(
    hint: str | None, line: str, capsys: pytest.CaptureFixture[str]
) -> None:
    asked: list[bool] = []

    def interrupt_hint() -> str | None:
        asked.append(True)
        return hint

    with (
        pytest.raises(click.exceptions.Exit) as excinfo,
        handled(KEYED, interrupt_hint=interrupt_hint),
    ):
        raise KeyboardInterrupt
    assert _exit_of(excinfo) == 130
    assert capsys.readouterr().err == line
    assert asked == [True]


def test_ctrl_c_without_a_hint_function_says_interrupted(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(click.exceptions.Exit) as excinfo, handled(Settings()):
        raise KeyboardInterrupt
    assert _exit_of(excinfo) == 130
    assert capsys.readouterr().err == "interrupted\n"


def test_a_bug_is_not_disguised_as_a_failure_line(capsys: pytest.CaptureFixture[str]) -> None:
    # Only expected failures become one line; anything else keeps its traceback for a report.
    with pytest.raises(ValueError, match="a bug"), handled(KEYED):
        raise ValueError("a bug")
    assert capsys.readouterr().err == ""


def test_a_block_that_succeeds_prints_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    with handled(KEYED):
        pass
    assert capsys.readouterr() == ("", "")


# -- run_command: the coroutine's exit code, and its logging -----------------------------------


def test_a_command_returning_0_ends_normally_and_another_code_exits_with_it() -> None:
    async def ok() -> int:
        return 0

    async def partial() -> int:
        return 3

    assert run_command(KEYED, ok) is None  # type: ignore[func-returns-value]
    with pytest.raises(click.exceptions.Exit) as excinfo:
        run_command(KEYED, partial)
    assert _exit_of(excinfo) == 3


def test_a_failing_command_exits_with_its_errors_code(capsys: pytest.CaptureFixture[str]) -> None:
    async def conflict() -> int:
        raise la.ConflictError("already uploaded")

    with pytest.raises(click.exceptions.Exit) as excinfo:
        run_command(KEYED, conflict)
    assert _exit_of(excinfo) == 7
    assert capsys.readouterr().err == "error: already uploaded\n"


def test_without_verbose_only_warnings_reach_stderr_and_the_handler_goes_away(
    capsys: pytest.CaptureFixture[str],
) -> None:
    before = list(_LOGGER.handlers)

    async def logs() -> int:
        _LOGGER.debug("debug detail")
        _LOGGER.info("info detail")
        _LOGGER.warning("key %s paused", SECRET)
        return 0

    run_command(KEYED, logs)
    assert capsys.readouterr().err == "warning: key *** paused\n"
    assert _LOGGER.handlers == before
    assert _LOGGER.level == logging.NOTSET


def test_without_verbose_debug_stays_quiet_even_when_the_logger_lets_it_through(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # A logger left at DEBUG (by an embedding program, or an earlier -v): the notes still
    # show warnings only.

    async def logs() -> int:
        _LOGGER.debug("debug detail")
        _LOGGER.error("store unreadable")
        return 0

    _LOGGER.setLevel(logging.DEBUG)  # setLevel, not the attribute: it clears the level cache
    try:
        run_command(KEYED, logs)
    finally:
        _LOGGER.setLevel(logging.NOTSET)
    assert capsys.readouterr().err == "warning: store unreadable\n"


def test_verbose_logs_debug_masked_and_cleaned_then_restores_the_logger(
    capsys: pytest.CaptureFixture[str],
) -> None:
    before = list(_LOGGER.handlers)
    verbose = Settings(api_key=Secret(SECRET), base_url="http://127.0.0.1:9", verbose=True)
    levels: list[int] = []

    async def logs() -> int:
        levels.append(_LOGGER.level)
        _LOGGER.debug("sent key=%s\x1b[2J\nnext line", SECRET)
        raise la.ServerError("down", status=503)

    with pytest.raises(click.exceptions.Exit) as excinfo:
        run_command(verbose, logs)
    assert _exit_of(excinfo) == 9
    err = capsys.readouterr().err
    lines = err.splitlines()
    assert lines[0].endswith(" DEBUG lacale_async: sent key=***")
    assert lines[1:] == ["next line", "error: down"]
    assert SECRET not in err
    assert levels == [logging.DEBUG]
    # Restored even though the command failed: the next command starts from a clean logger.
    assert _LOGGER.handlers == before
    assert _LOGGER.level == logging.NOTSET


# -- connect: the command's client -------------------------------------------------------------


@contextlib.asynccontextmanager
async def _recording(server: SandboxServer, seen: list[str]) -> AsyncIterator[None]:
    seen.append(f"entered {server.base_url}")
    try:
        yield
    finally:
        seen.append("exited")


async def test_connect_opens_a_sandbox_client_and_runs_the_hook_beside_the_sandbox(
    capsys: pytest.CaptureFixture[str],
) -> None:
    seen: list[str] = []
    async with connect(
        Settings(sandbox=True), on_sandbox=lambda server: _recording(server, seen)
    ) as client:
        assert len(seen) == 1
        assert seen[0].startswith("entered http://127.0.0.1:")
        meta = await client.meta()
        assert any(c.slug == "films" for c in meta.iter_categories())
    assert seen[1:] == ["exited"]
    with pytest.raises(la.ClientStateError):
        await client.meta()
    # --sandbox asked for it: no note saying the sandbox stands in for a missing key.
    assert capsys.readouterr() == ("", "")
