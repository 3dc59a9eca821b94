"""The command's standard streams (``_cli._streams``), tested directly."""

from __future__ import annotations

import errno
import io
import os
import signal
import sys
from pathlib import Path

import pytest

from lacale_async._cli._streams import (
    EXIT_BROKEN_PIPE,
    PipeSafeConsole,
    harden_streams,
    silence_stdout,
)


def _wrapper(encoding: str = "ascii", errors: str = "strict") -> io.TextIOWrapper:
    return io.TextIOWrapper(io.BytesIO(), encoding=encoding, errors=errors)


def _written(stream: io.TextIOWrapper) -> bytes:
    stream.flush()
    buffer = stream.buffer
    assert isinstance(buffer, io.BytesIO)
    return buffer.getvalue()


@pytest.mark.skipif(not hasattr(signal, "SIGPIPE"), reason="no SIGPIPE on this platform")
def test_a_broken_pipe_exits_as_a_shell_reports_sigpipe() -> None:
    assert EXIT_BROKEN_PIPE == 128 + signal.SIGPIPE


def test_characters_the_encoding_lacks_become_question_marks_on_both_streams(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    out, err = _wrapper(), _wrapper("cp1252")
    monkeypatch.setattr(sys, "stdout", out)
    monkeypatch.setattr(sys, "stderr", err)
    harden_streams()
    out.write("Amélie 日本\n")
    err.write("Amélie 日本\n")
    assert _written(out) == b"Am?lie ??\n"
    assert _written(err) == "Amélie ??\n".encode("cp1252"), "what cp1252 can show is kept"


def test_a_stream_that_already_chose_its_errors_keeps_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    out = _wrapper(errors="backslashreplace")
    monkeypatch.setattr(sys, "stdout", out)
    harden_streams()
    assert out.errors == "backslashreplace"
    out.write("é")
    assert _written(out) == b"\\xe9"


def test_streams_that_are_not_text_wrappers_or_cannot_change_are_left_alone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    detached = _wrapper()
    detached.detach()
    monkeypatch.setattr(sys, "stdout", io.StringIO())
    monkeypatch.setattr(sys, "stderr", detached)
    harden_streams()  # neither raises
    assert detached.errors == "strict"


def _open_fds() -> set[str]:
    return set(os.listdir("/proc/self/fd"))


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc/self/fd")
def test_silenced_stdout_writes_go_nowhere_and_no_descriptor_leaks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "stdout.txt"
    with target.open("w", encoding="utf-8") as stream:
        monkeypatch.setattr(sys, "stdout", stream)
        stream.write("before\n")
        stream.flush()
        before = _open_fds()
        silence_stdout()
        assert _open_fds() == before, "the null device's own descriptor is closed"
        stream.write("after\n")
        stream.flush()  # into the null device: no error
    assert target.read_text(encoding="utf-8") == "before\n"


@pytest.mark.parametrize("stream", [io.StringIO(), None])
def test_a_stdout_without_a_descriptor_is_not_silenced(
    stream: io.StringIO | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A test runner's buffer, or no stdout at all (pythonw): nothing would fail at exit.
    monkeypatch.setattr(sys, "stdout", stream)
    silence_stdout()
    if stream is not None:
        stream.write("still kept")
        assert stream.getvalue() == "still kept"


class _ClosedPipe(io.StringIO):
    """A stdout whose reader went away: every write raises, and is counted."""

    def __init__(self) -> None:
        super().__init__()
        self.writes = 0

    def write(self, text: str) -> int:
        self.writes += 1
        raise BrokenPipeError(errno.EPIPE, os.strerror(errno.EPIPE))


def test_a_closed_pipe_raises_broken_pipe_instead_of_rich_exiting_with_1() -> None:
    pipe = _ClosedPipe()
    console = PipeSafeConsole(file=pipe)
    with pytest.raises(BrokenPipeError) as broken:
        console.print("row")
    assert broken.value.errno == errno.EPIPE
    assert console.quiet
    console.print("next row")
    assert pipe.writes == 1, "nothing more is written once the pipe is gone"


def test_on_broken_pipe_stops_writing_then_raises() -> None:
    console = PipeSafeConsole(file=io.StringIO())
    with pytest.raises(BrokenPipeError):
        console.on_broken_pipe()
    assert console.quiet
