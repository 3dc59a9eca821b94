"""Helpers of the CLI tests: run the command in-process, and a sandbox in a thread."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import json
import os
import re
import threading
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

import pytest
import torf
from click.testing import CliRunner, Result

from lacale_async._cli._commands import cli
from lacale_async.testing import Fault, SandboxConfig, SandboxServer

# Recognisable so any leak into stdout/stderr is caught by every invoke().
KEY = "cli-KEY-0f9e8d7c6b5a-SECRET"
SANDBOX = ["--sandbox", "--api-key", KEY]
TORRENT_FIELDS = {
    "title",
    "guid",
    "size",
    "pub_date",
    "link",
    "category",
    "seeders",
    "leechers",
    "info_hash",
    "magnet",
}
T = TypeVar("T")


def key_windows(key: str, size: int = 8) -> set[str]:
    """Every ``size``-character run of the key in its wire forms (raw, quoted once, twice)."""
    once = quote(key, safe="")
    forms = (key, once, quote(once, safe=""))
    return {f[i : i + size].lower() for f in forms for i in range(len(f) - size + 1)}


def assert_no_window(text: str, key: str) -> None:
    """Fail when any 8 characters of ``key`` (in a wire form) appear in ``text``."""
    lowered = text.lower()
    found = sorted(w for w in key_windows(key) if w in lowered)
    assert not found, f"key characters in the output: {found}"


def invoke(
    args: list[str], *, input: str | None = None, env: dict[str, str] | None = None
) -> Result:
    """Run the CLI in-process; fail on a leaked key or a traceback."""
    base_env: dict[str, str | None] = {
        "LACALE_API_KEY": None,
        "LACALE_BASE_URL": None,
        "COLUMNS": "200",
    }
    base_env.update(env or {})
    result = CliRunner(env=base_env).invoke(cli, args, input=input, catch_exceptions=False)
    # The key this run was given (ODD_KEY...), else the default one.
    keys = {args[i + 1] for i, a in enumerate(args[:-1]) if a == "--api-key"} or {KEY}
    for stream in (result.stdout, result.stderr):
        for key in keys:
            assert_no_window(stream, key)
    assert "Traceback" not in result.stderr
    return result


def error_lines(result: Result) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.startswith("error:")]


class ThreadedSandbox:
    """A SandboxServer on its own event loop in a thread, so sync CLI calls can reach it."""

    def __init__(self, config: SandboxConfig) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self.server = SandboxServer(config)

    def call(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout=10)

    def start(self) -> None:
        self._thread.start()
        self.call(self.server.start())

    def stop(self) -> None:
        self.call(self.server.close())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()

    def add_fault(self, fault: Fault, endpoint: str, times: int | None = 1) -> None:
        async def add() -> None:
            self.server.faults.add(fault, endpoint=endpoint, times=times)

        self.call(add())

    def reset(self) -> None:
        async def reset() -> None:
            self.server.reset()

        self.call(reset())


def running(config: SandboxConfig) -> Iterator[ThreadedSandbox]:
    """Run a sandbox in its thread for a fixture's lifetime (``yield from running(...)``)."""
    sandbox = ThreadedSandbox(config)
    sandbox.start()
    try:
        yield sandbox
    finally:
        sandbox.stop()


def args_of(sandbox: ThreadedSandbox) -> Iterator[list[str]]:
    """The command's options to reach ``sandbox``, reset before and after one test."""
    sandbox.reset()
    yield ["--base-url", sandbox.server.base_url, "--api-key", sandbox.server.api_key]
    sandbox.reset()


@pytest.fixture(scope="module")
def remote() -> Iterator[ThreadedSandbox]:
    yield from running(SandboxConfig(seed=0))


@pytest.fixture
def remote_args(remote: ThreadedSandbox) -> Iterator[list[str]]:
    yield from args_of(remote)


def make_torrent(folder: Path, name: str = "Mon.Film.2024.1080p.mkv", **kw: Any) -> Path:
    """Create a real single-file torrent with torf (no source flag unless given)."""
    content = folder / name
    content.write_bytes(os.urandom(40_000))
    torrent = torf.Torrent(path=content, private=True, trackers=["https://t.test/announce"], **kw)
    torrent.generate()
    out = folder / f"{name}.torrent"
    torrent.write(out)
    return out


def make_nfo(folder: Path) -> Path:
    """Write an NFO: the live tracker (and the sandbox's live profile) requires one."""
    nfo = folder / "release.nfo"
    nfo.write_text("Mon Film (2024) - 1080p - notes de version", encoding="utf-8")
    return nfo


@pytest.fixture(scope="module")
def amelie_hash() -> str:
    result = invoke([*SANDBOX, "--json", "search", "amelie"])
    assert result.exit_code == 0
    return str(json.loads(result.stdout)[0]["info_hash"])


EVIL = "\x1b[2J\x1b]0;pwned\x07\x9b31m\x07Evil\x85Title\x1b]52;c;ZXZpbA==\x1b\\\u202eend"
"""Server text with ESC[2J, OSC title and clipboard writes, C1 CSI and NEL, BEL, a bidi override."""

CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
"""Any character that must never reach a terminal (newline and tab aside)."""


def add_torrent(sandbox: ThreadedSandbox, title: str) -> str:
    """Put a copy of a catalogue torrent with ``title`` in the threaded sandbox; return its hash."""

    async def add() -> str:
        catalogue = sandbox.server.catalogue
        model = next(t for t in catalogue if t.approved)
        info_hash = hashlib.sha1(title.encode()).hexdigest()
        catalogue.add(
            dataclasses.replace(
                model, title=title, info_hash=info_hash, other_hashes=(), published_ms=2**41
            )
        )
        return info_hash

    return sandbox.call(add())
