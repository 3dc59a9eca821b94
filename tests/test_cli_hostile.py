"""Every command against a hostile tracker: no control character and no secret reaches output.

A loopback aiohttp server (its own loop in a thread, so the synchronous CLI can reach it)
answers with release names, categories, links and error bodies chosen to hurt: escape
sequences, C1 controls, bidi overrides, and echoes of the key and of download tokens in the
forms servers re-encode them in. Each run checks stdout and stderr byte for byte.
"""

from __future__ import annotations

import asyncio
import functools
import json
import re
import threading
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

import pytest
from _cli import make_nfo, make_torrent
from aiohttp import web
from click.testing import CliRunner, Result

from lacale_async import LaCaleClient, parse_torrent
from lacale_async._cli import _session
from lacale_async._cli._commands import cli

T = TypeVar("T")

# Characters whose URL, JSON and HTML forms all differ from the raw key, so an echo in any of
# them is a distinct string to look for.
KEY = "hk_live_Q9/x+Zr&v=7'K3Y\"SECRET"
TOKEN = "eyJhbGciOiJIUzI1NiJ9.eyJleHAiOjQxMDI0NDQ4MDB9.T0KEN-sig-DEADBEEF-4f2a"
"""A JWT expiring in 2100: the SDK uses its download link."""

EVIL = (
    "\x1b[2J\x1b]0;pwned\x07\x9b31m\x07Evil\x85Title\x1b]52;c;ZXZpbA==\x1b\\\u202eend"
    "\r\x00\x08\x7f\u2066\u2069\x1bP1$r\x1b\\\x9d8;;x\x9c"
)
"""ESC[2J, OSC title and clipboard writes, C1 CSI/NEL/OSC, BEL, CR, NUL, BS, DEL, DCS, bidi."""

# \n and \t are the only controls any output may hold (between lines, in multi-line logs).
FORBIDDEN = re.compile("[\x00-\x08\x0b-\x1f\x7f\x80-\x9f\u202a-\u202e\u2066-\u2069]")


def echoes(secret: str) -> dict[str, str]:
    """The forms a server echoes ``secret`` in: raw, URL-encoded, JSON-escaped (PHP style)."""
    return {
        "raw": secret,
        "url": quote(secret, safe=""),
        "json": json.dumps(secret)[1:-1].replace("/", "\\/"),
    }


def assert_safe(result: Result) -> None:
    """No forbidden character, no form of the key or the token, no traceback, in either stream."""
    for name, stream in (("stdout", result.stdout), ("stderr", result.stderr)):
        bad = FORBIDDEN.search(stream)
        assert bad is None, f"{name} holds {bad.group()!r}: {stream!r}"
        for secret in (KEY, TOKEN):
            for form, text in echoes(secret).items():
                # Any eight characters of it: a half-masked key is a leaked key.
                # From 1: the first eight are the vendor lead "hk_live_", ordinary text.
                for i in range(1, len(text) - 7):
                    part = text[i : i + 8]
                    assert part not in stream, (
                        f"{name} holds {part!r} of the {form} form: {stream!r}"
                    )
        assert "Traceback" not in stream


Reply = Callable[[web.Request], web.StreamResponse]


@dataclass
class Hostile:
    """A loopback tracker whose answer per endpoint a test sets; unset ones answer 404."""

    replies: dict[str, Reply] = field(default_factory=dict)
    url: str = ""

    def __post_init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._runner: web.AppRunner | None = None

    def _call(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout=10)

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        if path == "/api/external":
            name = "search"
        elif path == "/api/external/meta":
            name = "meta"
        elif path == "/api/external/upload":
            await request.read()
            name = "upload"
        else:
            name = "download"
        reply = self.replies.get(name)
        return reply(request) if reply is not None else web.Response(status=404)

    async def _start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}"

    async def _stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def start(self) -> None:
        self._thread.start()
        self._call(self._start())

    def stop(self) -> None:
        self._call(self._stop())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()


@pytest.fixture(scope="module")
def tracker() -> Iterator[Hostile]:
    server = Hostile()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def hostile(tracker: Hostile, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Hostile]:
    tracker.replies.clear()
    # The last search and the quota ledger stay in this test's folder.
    monkeypatch.setenv("LACALE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)
    # The tracker's real paces would make the suite wait in real time (tests never sleep):
    # what is tested here is the text, not the pacing.
    monkeypatch.setenv("LACALE_KEY_RATE", "off")
    unpaced = functools.partial(
        LaCaleClient,
        search_rate=None,
        meta_rate=None,
        download_rate=None,
        upload_rate=None,
        max_retries=0,
    )
    monkeypatch.setattr(_session, "LaCaleClient", unpaced)
    yield tracker
    tracker.replies.clear()


def run(server: Hostile, args: list[str], *, input: str | None = None) -> Result:
    env: dict[str, str | None] = {
        "LACALE_API_KEY": None,
        "LACALE_BASE_URL": None,
        "COLUMNS": "200",
    }
    base = ["--base-url", server.url, "--api-key", KEY]
    result = CliRunner(env=env).invoke(cli, [*base, *args], input=input, catch_exceptions=False)
    assert_safe(result)
    return result


TORRENT_BYTES = (
    b"d4:infod6:lengthi1e4:name1:x12:piece lengthi16384e6:pieces20:" + b"\0" * 20 + b"ee"
)
INFO_HASH = parse_torrent(TORRENT_BYTES).info_hash


def release(title: str = f"Film {EVIL} 1080p", **extra: Any) -> dict[str, Any]:
    return {
        "title": title,
        "guid": f"g-{EVIL}",
        "size": 1234,
        "pubDate": "2026-01-02T10:30:00Z",
        "link": f"https://t.test/torrents/film{EVIL}",
        "category": f"Films {EVIL}",
        "seeders": 3,
        "leechers": 1,
        "infoHash": INFO_HASH,
        **extra,
    }


def answer(value: object, status: int = 200) -> Reply:
    return lambda _request: web.json_response(value, status=status)


def error_body(form: str, status: int) -> Reply:
    """An error whose text holds ``EVIL`` and an echo of the key (``form``)."""
    text = f"{EVIL} bad credential {form} {EVIL}"
    return answer({"error": text, "message": text}, status)


META = {
    "categories": [
        {
            "id": f"c{EVIL}",
            "name": f"Films {EVIL}",
            "slug": "films",
            "children": [{"id": "c2", "name": EVIL, "slug": f"hd{EVIL}", "parentId": "c"}],
        }
    ],
    "tagGroups": [
        {"id": "g", "name": f"Qualité {EVIL}", "tags": [{"id": "t", "name": EVIL, "slug": "t"}]}
    ],
    "ungroupedTags": [{"id": "u", "name": f"Tag {EVIL}", "slug": "u"}],
}


@pytest.fixture
def torrent_file(tmp_path: Path) -> Path:
    return make_torrent(tmp_path, source="lacale")


def _command(name: str, torrent: Path, folder: Path) -> tuple[list[str], str | None]:
    """The arguments (and stdin) of one command reaching the endpoint it uses."""
    if name == "search":
        return ["search", "film"], None
    if name == "bulk":
        return ["bulk", "-"], "film\nautre\n"
    if name == "meta":
        return ["meta"], None
    if name == "download":
        return ["download", INFO_HASH, "-o", f"{folder}/"], None
    folder.mkdir(exist_ok=True)
    nfo = make_nfo(folder)
    return ["upload", str(torrent), "--category", "films", "--nfo", str(nfo)], None


ENDPOINT = {"search": "search", "bulk": "search", "meta": "meta", "download": "download"}
COMMANDS = ["search", "bulk", "meta", "download", "upload"]


FORMS = ["raw", "url", "json"]


@pytest.mark.parametrize("as_json", [False, True], ids=["text", "json"])
@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("status", [400, 401, 403, 404, 422])
@pytest.mark.parametrize("command", COMMANDS)
def test_a_refusal_echoing_the_key_and_escapes_is_one_clean_line_without_it(
    hostile: Hostile,
    torrent_file: Path,
    tmp_path: Path,
    command: str,
    status: int,
    form: str,
    as_json: bool,
) -> None:
    reply = error_body(echoes(KEY)[form], status)
    hostile.replies[ENDPOINT.get(command, "upload")] = reply
    hostile.replies.setdefault("meta", answer(META))
    args, stdin = _command(command, torrent_file, tmp_path / "out")
    result = run(hostile, [*(["--json"] if as_json else []), "-v", *args], input=stdin)
    assert result.exit_code != 0 or command == "bulk"
    assert "EvilTitle" in result.stdout + result.stderr, "the server's text is still shown"
    assert "pwned" not in result.stderr, "a whole OSC sequence goes, not only its ESC"
    if as_json and command == "bulk":
        for line in result.stdout.splitlines():
            json.loads(line)


@pytest.mark.parametrize("command", ["search", "meta", "upload"])
def test_a_server_error_echoing_the_key_is_one_clean_line_without_it(
    hostile: Hostile, torrent_file: Path, tmp_path: Path, command: str
) -> None:
    hostile.replies[ENDPOINT.get(command, "upload")] = error_body(echoes(KEY)["url"], 500)
    hostile.replies.setdefault("meta", answer(META))
    args, stdin = _command(command, torrent_file, tmp_path / "out")
    result = run(hostile, ["--timeout", "5", *args], input=stdin)
    assert result.exit_code != 0
    assert len([line for line in result.stderr.splitlines() if line.startswith("error:")]) == 1


@pytest.mark.parametrize("as_json", [False, True], ids=["text", "json"])
def test_search_and_bulk_show_hostile_releases_cleaned_and_json_keeps_them_exact(
    hostile: Hostile, as_json: bool
) -> None:
    hostile.replies["search"] = answer([release()])
    flag = ["--json"] if as_json else []
    search = run(hostile, [*flag, "search", "film"])
    bulk = run(hostile, [*flag, "bulk", "-"], input="film\n")
    assert search.exit_code == 0, search.stderr
    assert bulk.exit_code == 0, bulk.stderr
    if not as_json:
        assert "EvilTitle" in search.stdout
        assert "EvilTitle" in bulk.stdout
        return
    (shown,) = json.loads(search.stdout)
    assert shown["title"] == f"Film {EVIL} 1080p"
    assert shown["category"] == f"Films {EVIL}"
    assert shown["guid"] == f"g-{EVIL}"
    lines = [json.loads(line) for line in bulk.stdout.splitlines()]
    assert any(
        r["title"] == f"Film {EVIL} 1080p" for line in lines for r in line.get("results", [])
    )


@pytest.mark.parametrize("as_json", [False, True], ids=["text", "json"])
def test_meta_shows_hostile_names_cleaned_and_json_keeps_them_exact(
    hostile: Hostile, as_json: bool
) -> None:
    hostile.replies["meta"] = answer(META)
    result = run(hostile, [*(["--json"] if as_json else []), "meta"])
    assert result.exit_code == 0, result.stderr
    if as_json:
        data = json.loads(result.stdout)
        assert data["categories"][0]["children"][0]["name"] == EVIL
        assert data["tag_groups"][0]["name"] == f"Qualité {EVIL}"
        assert data["ungrouped_tags"][0]["name"] == f"Tag {EVIL}"
    else:
        assert "EvilTitle" in result.stdout
        assert "Qualité" in result.stdout


# Where a server may put the key or the token in a search result's ``link``.
LINKS = {
    "apikey-query": f"https://t.test/dl/{INFO_HASH}?apikey={quote(KEY, safe='')}",
    "token-query": f"https://t.test/api/download/{INFO_HASH}?token={TOKEN}",
    "passkey-later": f"https://t.test/dl/{INFO_HASH}?a=1&passkey={quote(KEY, safe='')}",
    "key-in-path": f"https://t.test/rss/{quote(KEY, safe='')}/dl/{INFO_HASH}",
    "html-escaped-query": f"https://t.test/dl/{INFO_HASH}?a=1&amp;apikey={quote(KEY, safe='')}",
    "access-token": f"https://t.test/dl/{INFO_HASH}?access_token={TOKEN}",
}


@pytest.mark.parametrize(
    ("link", "as_json"),
    [
        pytest.param(
            v,
            as_json,
            id=f"{k}-{'json' if as_json else 'text'}",
        )
        for k, v in LINKS.items()
        for as_json in (False, True)
    ],
)
def test_a_result_link_holding_the_key_or_a_token_is_never_printed_with_it(
    hostile: Hostile, link: str, as_json: bool
) -> None:
    hostile.replies["search"] = answer(
        [release(link=link, downloadLink=f"{hostile.url}/api/download/{INFO_HASH}?token={TOKEN}")]
    )
    flag = ["--json"] if as_json else []
    for args, stdin in ((["search", "film"], None), (["bulk", "-"], "film\n")):
        result = run(hostile, [*flag, *args], input=stdin)
        assert result.exit_code == 0, result.stderr
        assert INFO_HASH[:8] in result.stdout


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("as_json", [False, True], ids=["text", "json"])
def test_a_download_refused_with_an_echo_of_the_key_after_a_search_with_a_token_hides_both(
    hostile: Hostile, tmp_path: Path, form: str, as_json: bool
) -> None:
    hostile.replies["search"] = answer(
        [release(downloadLink=f"{hostile.url}/api/download/{INFO_HASH}?token={TOKEN}")]
    )
    # 'lacale download HASH' asks the documented path with the key, not the token link: the
    # key is what the client sent, so the key is what a refusal may echo.
    text = f"{EVIL} expired; key {echoes(KEY)[form]}"
    hostile.replies["download"] = answer({"error": text, "message": text}, 403)
    flag = ["--json"] if as_json else []
    found = run(hostile, [*flag, "search", "film"])
    assert found.exit_code == 0, found.stderr
    result = run(hostile, [*flag, "-v", "download", INFO_HASH[:8], "-o", f"{tmp_path}/"])
    assert result.exit_code != 0
    assert "EvilTitle" in result.stderr


@pytest.mark.parametrize("as_json", [False, True], ids=["text", "json"])
def test_an_upload_answer_with_a_hostile_link_is_printed_cleaned_and_without_the_key(
    hostile: Hostile, torrent_file: Path, tmp_path: Path, as_json: bool
) -> None:
    link = f"https://t.test/torrents/x{EVIL}?apikey={quote(KEY, safe='')}"
    hostile.replies["meta"] = answer(META)
    hostile.replies["upload"] = answer({"success": True, "id": EVIL, "slug": EVIL, "link": link})
    args, _ = _command("upload", torrent_file, tmp_path)
    result = run(hostile, [*(["--json"] if as_json else []), *args, "--title", f"T{EVIL}"])
    assert result.exit_code == 0, result.stderr
    if as_json:
        data = json.loads(result.stdout)
        assert data["slug"] == EVIL, "JSON keeps the server's text exact"
        assert data["link"].startswith(f"https://t.test/torrents/x{EVIL}?apikey=")
    else:
        assert "link: https://t.test/torrents/xEvilTitle" in result.stdout


def test_a_rejected_upload_echoing_the_key_and_escapes_is_one_clean_line(
    hostile: Hostile, torrent_file: Path, tmp_path: Path
) -> None:
    hostile.replies["meta"] = answer(META)
    text = f"{EVIL} duplicate of {echoes(KEY)['url']}"
    hostile.replies["upload"] = answer({"success": False, "error": text})
    args, _ = _command("upload", torrent_file, tmp_path)
    result = run(hostile, [*args, "--title", f"T{EVIL}"])
    assert result.exit_code != 0
    (line,) = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert "EvilTitle" in line


@pytest.mark.parametrize("as_json", [False, True], ids=["text", "json"])
def test_a_downloaded_torrent_path_from_a_hostile_hash_prefix_is_clean(
    hostile: Hostile, tmp_path: Path, as_json: bool
) -> None:
    hostile.replies["download"] = lambda _r: web.Response(
        body=TORRENT_BYTES, content_type="application/x-bittorrent"
    )
    folder = tmp_path / f"dl{EVIL.replace(chr(0), '')}"
    folder.mkdir()
    result = run(
        hostile, [*(["--json"] if as_json else []), "download", INFO_HASH, "-o", f"{folder}/"]
    )
    assert result.exit_code == 0, result.stderr
    if as_json:
        data = json.loads(result.stdout)
        assert Path(data["path"]).parent == folder, "JSON keeps the exact path"
    else:
        assert "dlEvilTitle" in result.stdout


@pytest.mark.parametrize("as_json", [False, True], ids=["text", "json"])
def test_a_ledger_folder_with_escapes_in_its_name_is_shown_cleaned(
    hostile: Hostile, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, as_json: bool
) -> None:
    # A path cannot hold NUL; every other character of EVIL can.
    monkeypatch.setenv("LACALE_CACHE_DIR", str(tmp_path / f"c{EVIL.replace(chr(0), '')}"))
    result = run(hostile, [*(["--json"] if as_json else []), "quota"])
    assert result.exit_code == 0, result.stderr
    if as_json:
        json.loads(result.stdout)


def test_a_bad_hash_is_refused_with_a_clean_line() -> None:
    result = CliRunner().invoke(cli, ["--sandbox", "download", f"ab{EVIL}cdef01"])
    assert_safe(result)
    assert result.exit_code != 0
    assert "info hash must be" in result.stderr, "what was typed is shown as repr escapes"
