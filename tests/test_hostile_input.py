"""Hostile local input and file-system states: refused with an SDK error before anything is
sent, nothing half-written left behind, no secret in what is raised.

The network is faked at the HTTP boundary (aioresponses); the file-system failures a root
test run cannot provoke with permissions (a read-only folder, a full disk) are made by
monkeypatching the os functions the SDK calls.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import sqlite3
import stat
import tempfile
from contextlib import aclosing
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from _mocked import DOWNLOAD, META, SEARCH, UPLOAD, calls, offline_client, sent
from aioresponses import aioresponses
from conftest import API_KEY, META_JSON, info_hash_of, make_torrent, torrent_json

import lacale_async as la
from lacale_async import LaCaleClient, _sqlite
from lacale_async._watch_state import WatchState

pytest_plugins = ["_mocked"]

TORRENT = make_torrent("Le.Cercle.Rouge.1970.1080p")
HASH = info_hash_of(TORRENT)
UPLOADED = {"success": True, "id": "t1", "slug": "le-cercle-rouge", "link": "https://x/t1"}


def leftovers(folder: Path) -> list[str]:
    """Every entry of ``folder``, temp files (``.name.xxxx.part``) included."""
    return sorted(os.listdir(folder))


def answer_download(mock: aioresponses) -> None:
    mock.get(DOWNLOAD, body=TORRENT, content_type="application/x-bittorrent", repeat=True)


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


# -- download_to: where the file would go ------------------------------------------------------


async def test_a_dangling_symlink_is_an_existing_file_and_is_never_written_through(
    client: LaCaleClient, mock: aioresponses, tmp_path: Path
) -> None:
    answer_download(mock)
    elsewhere = tmp_path / "elsewhere.torrent"
    link = tmp_path / "x.torrent"
    link.symlink_to(elsewhere)
    with pytest.raises(la.DestinationExistsError):
        await client.download_to(HASH, link)
    assert sent(mock) == 0
    # Replacing it replaces the link itself: the file it pointed at is never created.
    path = await client.download_to(HASH, link, overwrite=True)
    assert path == link
    assert not link.is_symlink()
    assert link.read_bytes() == TORRENT
    assert not elsewhere.exists()
    assert leftovers(tmp_path) == ["x.torrent"]


async def test_a_symlink_to_a_folder_saves_inside_that_folder(
    client: LaCaleClient, mock: aioresponses, tmp_path: Path
) -> None:
    answer_download(mock)
    real = tmp_path / "real"
    real.mkdir()
    (tmp_path / "alias").symlink_to(real, target_is_directory=True)
    path = await client.download_to(HASH, tmp_path / "alias")
    assert path.parent == tmp_path / "alias"
    assert leftovers(real) == ["Le.Cercle.Rouge.1970.1080p.torrent"]
    assert (real / path.name).read_bytes() == TORRENT


async def test_a_fifo_at_the_destination_is_refused_never_opened_nor_replaced(
    client: LaCaleClient, mock: aioresponses, tmp_path: Path
) -> None:
    answer_download(mock)
    fifo = tmp_path / "x.torrent"
    os.mkfifo(fifo)
    with pytest.raises(la.DestinationExistsError):
        await client.download_to(HASH, fifo)
    # Opening the FIFO to write would block for a reader that never comes, and renaming over
    # it would swap the user's pipe for a file: refused too, before anything is sent.
    with pytest.raises(la.StorageError, match="not a regular file"):
        await asyncio.wait_for(client.download_to(HASH, fifo, overwrite=True), 10)
    assert sent(mock) == 0
    assert stat.S_ISFIFO(fifo.lstat().st_mode)


async def test_a_folder_the_user_cannot_write_is_refused_before_sending(
    client: LaCaleClient, mock: aioresponses, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Root ignores chmod: the check the SDK makes (access) is what says "read-only".
    monkeypatch.setattr(os, "access", lambda path, mode: False)
    for destination in (tmp_path, tmp_path / "x.torrent"):
        with pytest.raises(la.StorageError, match="cannot write into folder"):
            await client.download_to(HASH, destination)
    assert sent(mock) == 0
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize(
    "name",
    [
        pytest.param("x" * 300 + ".torrent", id="ascii-300"),
        # 408 bytes in only 208 characters: the limit is in bytes.
        pytest.param("é" * 200 + ".torrent", id="utf8-408-bytes"),
        pytest.param("x" * 300 + "/y.torrent", id="overlong-folder"),
    ],
)
async def test_an_overlong_name_is_a_storage_error_before_sending(
    client: LaCaleClient, mock: aioresponses, tmp_path: Path, name: str
) -> None:
    with pytest.raises(la.StorageError) as caught:
        await client.download_to(HASH, tmp_path / name)
    assert sent(mock) == 0
    assert leftovers(tmp_path) == []
    assert len(str(caught.value)) < 1000


@pytest.mark.parametrize(
    "destination",
    [
        pytest.param("x\x00.torrent", id="nul"),
        pytest.param("x\udcff.torrent", id="lone-surrogate"),
        pytest.param(b"x.torrent", id="bytes"),
        pytest.param(None, id="none"),
    ],
)
async def test_a_path_the_file_system_cannot_be_asked_about_is_refused_before_sending(
    client: LaCaleClient, mock: aioresponses, in_tmp: Path, destination: Any
) -> None:
    with pytest.raises(la.ValidationError):
        await client.download_to(HASH, destination)
    assert sent(mock) == 0
    assert leftovers(in_tmp) == []


async def test_a_file_given_as_a_folder_is_refused_before_sending(
    client: LaCaleClient, mock: aioresponses, tmp_path: Path
) -> None:
    (tmp_path / "file").write_bytes(b"keep")
    with pytest.raises(la.ValidationError, match="not a folder"):
        await client.download_to(HASH, f"{tmp_path}/file/")
    with pytest.raises(la.ValidationError, match="not a folder"):
        await client.download_to(HASH, tmp_path / "file" / "x.torrent")
    assert sent(mock) == 0
    assert (tmp_path / "file").read_bytes() == b"keep"


async def test_an_empty_destination_is_refused_before_sending(
    client: LaCaleClient, mock: aioresponses, in_tmp: Path
) -> None:
    # os.path.isdir("") is False and open("") fails: "" names no folder and no file, it is
    # an unset setting ("--output $EMPTY"), never a request for the current folder.
    answer_download(mock)
    with pytest.raises(la.ValidationError):
        await client.download_to(HASH, "")
    assert sent(mock) == 0
    assert leftovers(in_tmp) == []


class _Shifting:
    """A path-like that names a good path when checked and a NUL-holding one afterwards."""

    def __init__(self) -> None:
        self.calls = 0

    def __fspath__(self) -> str:
        self.calls += 1
        return "ok.torrent" if self.calls == 1 else "bad\x00.torrent"


async def test_a_path_like_is_read_once_so_what_was_checked_is_what_is_written(
    client: LaCaleClient, mock: aioresponses, in_tmp: Path
) -> None:
    answer_download(mock)
    path = await client.download_to(HASH, _Shifting())
    # The path as given (relative to the working folder), checked and written once.
    assert path == Path("ok.torrent")
    assert (in_tmp / "ok.torrent").is_file()
    assert leftovers(in_tmp) == ["ok.torrent"]


# -- download_to: the write fails --------------------------------------------------------------


def _failing(code: int) -> Any:
    def fail(*args: Any, **kwargs: Any) -> Any:
        raise OSError(code, os.strerror(code))

    return fail


@pytest.mark.parametrize(
    ("call", "code"),
    [
        pytest.param("write", errno.ENOSPC, id="disk-full-mid-write"),
        pytest.param("fsync", errno.EIO, id="io-error-at-fsync"),
        pytest.param("link", errno.ENOSPC, id="disk-full-at-publish"),
    ],
)
@pytest.mark.parametrize("existing", [False, True])
async def test_a_failing_write_leaves_no_partial_or_temp_file(
    client: LaCaleClient,
    mock: aioresponses,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    call: str,
    code: int,
    existing: bool,
) -> None:
    answer_download(mock)
    target = tmp_path / "x.torrent"
    if existing:
        target.write_bytes(b"the old one")
        # With overwrite the publish is a rename, which then fails instead of the link.
        call = "replace" if call == "link" else call
    monkeypatch.setattr(os, call, _failing(code))
    with pytest.raises(la.StorageError) as caught:
        await client.download_to(HASH, target, overwrite=existing)
    assert not isinstance(caught.value, la.DestinationExistsError)
    assert os.strerror(code) in str(caught.value)
    assert API_KEY not in str(caught.value)
    assert sent(mock) == 1
    monkeypatch.undo()
    if existing:
        assert leftovers(tmp_path) == ["x.torrent"]
        assert target.read_bytes() == b"the old one"
    else:
        assert leftovers(tmp_path) == []


async def test_a_folder_turned_read_only_after_the_check_leaves_nothing(
    client: LaCaleClient, mock: aioresponses, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    answer_download(mock)

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise PermissionError(errno.EACCES, "Permission denied")

    # The temp file cannot even be created: the folder became read-only meanwhile.
    monkeypatch.setattr(tempfile, "mkstemp", refuse)
    with pytest.raises(la.StorageError, match="Permission denied"):
        await client.download_to(HASH, tmp_path)
    assert leftovers(tmp_path) == []


async def test_a_folder_named_like_the_torrent_is_never_replaced(
    client: LaCaleClient, mock: aioresponses, tmp_path: Path
) -> None:
    answer_download(mock)
    squatter = tmp_path / "Le.Cercle.Rouge.1970.1080p.torrent"
    squatter.mkdir()
    (squatter / "inside").write_bytes(b"keep")
    with pytest.raises(la.DestinationExistsError):
        await client.download_to(HASH, tmp_path)
    with pytest.raises(la.StorageError, match="not a regular file"):
        await client.download_to(HASH, tmp_path, overwrite=True)
    assert leftovers(tmp_path) == [squatter.name]
    assert leftovers(squatter) == ["inside"]


async def test_failures_with_the_key_in_the_query_never_show_it(
    mock: aioresponses, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: Any
) -> None:
    caplog.set_level(logging.DEBUG)
    answer_download(mock)
    mock.get(SEARCH, exception=asyncio.TimeoutError(), repeat=True)
    seen: list[BaseException] = []
    async with offline_client(auth="query", max_retries=1) as client:
        with pytest.raises(la.RequestTimeoutError) as timed_out:
            await client.search("x")
        seen.append(timed_out.value)
        monkeypatch.setattr(os, "write", _failing(errno.ENOSPC))
        with pytest.raises(la.StorageError) as full:
            await client.download_to(HASH, tmp_path)
        seen.append(full.value)
    assert sent(mock) == 3  # the search and its retry, the download
    for error in seen:
        for shown in (str(error), repr(error), repr(error.__cause__), repr(error.__context__)):
            assert API_KEY not in shown
    assert caplog.records
    assert API_KEY not in caplog.text


# -- upload: what is read from disk ------------------------------------------------------------


async def _upload(client: LaCaleClient, **over: Any) -> la.UploadResult:
    fields: dict[str, Any] = {"title": "Le Cercle Rouge", "category": "films", "torrent": TORRENT}
    fields.update(over)
    return await client.upload(**fields)


def _answer_upload(mock: aioresponses) -> None:
    mock.get(META, payload=META_JSON, repeat=True)
    mock.post(UPLOAD, payload=UPLOADED, repeat=True)


def _torrent_paths(tmp_path: Path) -> dict[str, tuple[Path, type[la.LaCaleError], str]]:
    folder = tmp_path / "folder.torrent"
    folder.mkdir()
    fifo = tmp_path / "fifo.torrent"
    os.mkfifo(fifo)
    link_to_fifo = tmp_path / "link.torrent"
    link_to_fifo.symlink_to(fifo)
    loop = tmp_path / "loop.torrent"
    loop.symlink_to(loop)
    empty = tmp_path / "empty.torrent"
    empty.write_bytes(b"")
    big = tmp_path / "big.torrent"
    with big.open("wb") as file:  # sparse: 10 MiB + 1 of nothing
        file.truncate(10 * 1024 * 1024 + 1)
    length_bomb = tmp_path / "length.torrent"
    length_bomb.write_bytes(b"d4:info" + b"9" * 5000 + b":x")
    nesting_bomb = tmp_path / "nested.torrent"
    nesting_bomb.write_bytes(b"d4:info" + b"l" * 1_000_000 + b"e" * 1_000_001)
    dict_bomb = tmp_path / "dicts.torrent"
    dict_bomb.write_bytes(b"d4:info" + b"d1:a" * 500_000 + b"i0e" + b"e" * 500_001)
    # What the message says tells which check refused it: a device is never read at all.
    return {
        "folder": (folder, la.ValidationError, "is a folder"),
        "fifo": (fifo, la.ValidationError, "not a regular file"),
        "symlink-to-fifo": (link_to_fifo, la.ValidationError, "not a regular file"),
        "device": (Path("/dev/zero"), la.ValidationError, "not a regular file"),
        "empty": (empty, la.InvalidTorrentError, "empty"),
        "sparse-over-limit": (big, la.ValidationError, r"is over \d+ bytes"),
        "giant-length-prefix": (length_bomb, la.InvalidTorrentError, "bencode"),
        "million-deep-lists": (nesting_bomb, la.InvalidTorrentError, "bencode"),
        "half-million-deep-dicts": (dict_bomb, la.InvalidTorrentError, "bencode"),
        "missing": (tmp_path / "missing.torrent", la.ValidationError, "not found"),
        "symlink-loop": (loop, la.ValidationError, "cannot read"),
        "overlong-name": (tmp_path / ("x" * 300), la.ValidationError, "File name too long"),
    }


_NOT_A_FILE = [
    "folder",
    "fifo",
    "symlink-to-fifo",
    "symlink-loop",
    "device",
    "sparse-over-limit",
    "missing",
]
_NOT_A_TORRENT = ["empty", "giant-length-prefix", "million-deep-lists", "half-million-deep-dicts"]


@pytest.mark.parametrize(
    ("field", "kind"),
    [
        *[("torrent", kind) for kind in [*_NOT_A_FILE, "overlong-name", *_NOT_A_TORRENT]],
        # Any bytes make an NFO: only what is no readable file is refused.
        *[("nfo", kind) for kind in [*_NOT_A_FILE, "overlong-name"]],
    ],
)
async def test_a_file_that_cannot_be_a_torrent_or_nfo_is_refused_before_sending(
    client: LaCaleClient, mock: aioresponses, tmp_path: Path, field: str, kind: str
) -> None:
    _answer_upload(mock)
    path, error, says = _torrent_paths(tmp_path)[kind]
    with pytest.raises(error, match=says) as caught:
        await asyncio.wait_for(_upload(client, **{field: path}), 10)
    assert not isinstance(caught.value, la.InvalidTorrentError) or field == "torrent"
    assert len(str(caught.value)) < 1000
    assert sent(mock) == 0  # not even the meta the slugs need


async def test_a_binary_nfo_is_sent_byte_for_byte_and_a_huge_one_is_refused(
    client: LaCaleClient, mock: aioresponses, tmp_path: Path
) -> None:
    _answer_upload(mock)
    binary = bytes(range(256)) * 4  # NUL, invalid UTF-8, every byte
    nfo = tmp_path / "film.nfo"
    nfo.write_bytes(binary)
    await _upload(client, nfo=nfo)
    [(_, _, kwargs)] = [c for c in calls(mock) if c[0] == "POST"]
    form: aiohttp.FormData = kwargs["data"]
    [part] = [f for f in form._fields if f[0]["name"] == "nfoFile"]
    assert part[2] == binary
    before = sent(mock)
    with pytest.raises(la.ValidationError, match="over"):
        await _upload(client, nfo=b"\xff" * (1024 * 1024 + 1))
    assert sent(mock) == before


@pytest.mark.parametrize(
    "over",
    [
        pytest.param({"title": "Le Cercle\udcff Rouge"}, id="title-lone-surrogate"),
        pytest.param({"title": "   "}, id="title-blank"),
        pytest.param({"description": "ok\ud800"}, id="description-lone-surrogate"),
        pytest.param({"description": b"bytes"}, id="description-bytes"),
        pytest.param({"category": "   "}, id="category-blank"),
        pytest.param({"tags": ["1080p\udcff"]}, id="tag-lone-surrogate"),
        pytest.param({"tags": "1080p"}, id="tags-one-string"),
        pytest.param({"cover_url": "https://x.test/a\x00.jpg"}, id="cover-nul"),
        pytest.param({"tmdb_id": "12\x0034"}, id="tmdb-nul"),
        pytest.param({"torrent": "x\x00.torrent"}, id="torrent-path-nul"),
        pytest.param({"nfo": "film\udcff.nfo"}, id="nfo-path-surrogate"),
    ],
)
async def test_text_that_cannot_be_sent_as_given_is_refused_before_sending(
    client: LaCaleClient, mock: aioresponses, over: dict[str, Any]
) -> None:
    _answer_upload(mock)
    with pytest.raises(la.ValidationError):
        await _upload(client, **over)
    assert sent(mock) == 0


@pytest.mark.parametrize("name", ["", "..", ".", "../../etc/passwd", "a\x00b", " . ", "CON"])
async def test_a_torrent_name_that_is_no_file_name_is_uploaded_under_a_plain_one(
    client: LaCaleClient, mock: aioresponses, name: str
) -> None:
    _answer_upload(mock)
    await _upload(client, torrent=make_torrent(name), nfo=b"nfo")
    [(_, _, kwargs)] = [c for c in calls(mock) if c[0] == "POST"]
    form: aiohttp.FormData = kwargs["data"]
    names = [o["filename"] for o, _h, _v in form._fields if "filename" in o]
    assert len(names) == 2
    for filename in names:
        assert filename == Path(filename).name
        assert filename.endswith((".torrent", ".nfo"))
        assert not filename.startswith(".")
        assert "\x00" not in filename
        assert filename.split(".")[0].upper() != "CON"


async def test_a_hostile_torrent_name_cannot_forge_multipart_headers(
    client: LaCaleClient, mock: aioresponses
) -> None:
    _answer_upload(mock)
    hostile = make_torrent('../../x"\r\nContent-Type: text/html\r\n\r\n<b>')
    await _upload(client, torrent=hostile, nfo=b"nfo")
    [(_, _, kwargs)] = [c for c in calls(mock) if c[0] == "POST"]
    form: aiohttp.FormData = kwargs["data"]
    for options, _headers, _value in form._fields:
        filename = options.get("filename")
        if filename is not None:
            assert not any(c in filename for c in '\r\n"/\\'), filename


@pytest.mark.parametrize("field", ["torrent", "nfo"])
async def test_torrent_text_passed_as_a_path_is_not_quoted_back_whole_or_with_the_key(
    client: LaCaleClient, mock: aioresponses, field: str
) -> None:
    # A .torrent's content decoded to str by mistake: str is a path, and a private tracker's
    # announce URL holds the passkey (here, the client's own key).
    text = f"d8:announce80:https://tracker.test/announce?passkey={API_KEY}e4:infod4:name3:abcee"
    for given in (text, text * 100):  # not found; name too long
        with pytest.raises(la.ValidationError) as caught:
            await _upload(client, **{field: given})
        assert sent(mock) == 0
        assert API_KEY not in str(caught.value)
        assert len(str(caught.value)) < 1000


# -- upload: never sent twice blindly ----------------------------------------------------------


@pytest.mark.parametrize(
    "failure",
    [
        pytest.param(asyncio.TimeoutError(), id="timeout"),
        pytest.param(aiohttp.ServerDisconnectedError(), id="disconnected"),
        pytest.param(aiohttp.ClientPayloadError("cut"), id="payload"),
    ],
)
async def test_an_upload_that_may_have_left_is_never_sent_again(
    client: LaCaleClient, mock: aioresponses, failure: Exception
) -> None:
    mock.get(META, payload=META_JSON, repeat=True)
    mock.post(UPLOAD, exception=failure)
    mock.post(UPLOAD, payload=UPLOADED)  # a retry would land here, a duplicate
    with pytest.raises(la.TransportError) as caught:
        await _upload(client)
    assert caught.value.outcome_unknown
    assert sent(mock, "POST") == 1
    assert API_KEY not in str(caught.value)


async def test_an_upload_that_never_connected_is_sent_again_once(
    client: LaCaleClient, mock: aioresponses
) -> None:
    mock.get(META, payload=META_JSON, repeat=True)
    refused = aiohttp.ClientConnectorError(
        aiohttp.client_reqrep.ConnectionKey("tracker.test", 443, True, True, None, None, None),
        ConnectionRefusedError(errno.ECONNREFUSED, "refused"),
    )
    mock.post(UPLOAD, exception=refused)
    mock.post(UPLOAD, payload=UPLOADED)
    result = await _upload(client)
    assert result.info_hash
    assert sent(mock, "POST") == 2


# -- watch: the state file ---------------------------------------------------------------------


def _state_files(tmp_path: Path) -> dict[str, Path]:
    folder = tmp_path / "folder.db"
    folder.mkdir()
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"\x00\xffnot a database" * 1000)
    header_only = tmp_path / "header.db"
    header_only.write_bytes(b"SQLite format 3\x00" + b"\xff" * 84)
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE seen (hash TEXT)")  # a name ours uses too
        conn.execute("INSERT INTO seen VALUES ('theirs')")
    conn.close()
    fifo = tmp_path / "fifo.db"
    os.mkfifo(fifo)
    return {
        "folder": folder,
        "garbage": garbage,
        "header-only": header_only,
        "another-apps-sqlite": other,
        "fifo": fifo,
        "in-a-missing-folder": tmp_path / "missing" / "w.db",
        "under-a-file": garbage / "w.db",
    }


@pytest.mark.parametrize(
    "kind",
    [
        "folder",
        "garbage",
        "header-only",
        "another-apps-sqlite",
        "fifo",
        "in-a-missing-folder",
        "under-a-file",
    ],
)
async def test_a_state_file_that_cannot_be_ours_stops_the_watch_before_any_search(
    client: LaCaleClient, mock: aioresponses, tmp_path: Path, kind: str
) -> None:
    mock.get(SEARCH, payload=[], repeat=True)
    path = _state_files(tmp_path)[kind]
    before = path.read_bytes() if path.is_file() else None
    async with aclosing(client.watch("FRENCH", state=path, interval=3600)) as events:
        with pytest.raises(la.StorageError) as caught:
            await asyncio.wait_for(anext(events), 10)
    assert "cannot be used" in str(caught.value)
    assert sent(mock) == 0
    if before is not None:
        assert path.read_bytes() == before  # another program's file is left untouched


@pytest.mark.parametrize("state", ["w\x00.db", "w\udcff.db", b"w.db", 3])
async def test_a_state_path_that_cannot_name_a_file_is_refused_by_watch_itself(
    client: LaCaleClient, mock: aioresponses, in_tmp: Path, state: Any
) -> None:
    with pytest.raises(la.LaCaleError):
        client.watch("FRENCH", state=state, interval=3600)
    assert sent(mock) == 0
    assert leftovers(in_tmp) == []


# -- search: what is typed ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    [
        pytest.param("x" * 10 * 1024 * 1024, id="10-MB"),
        pytest.param("é\udcff" * 5_000_000, id="10-M-chars-with-surrogates"),
        pytest.param("film\ud800", id="lone-surrogate"),
    ],
)
async def test_a_query_that_cannot_be_sent_is_refused_quickly_with_a_short_message(
    client: LaCaleClient, mock: aioresponses, query: str
) -> None:
    with pytest.raises(la.ValidationError) as caught:
        await client.search(query)
    with pytest.raises(la.ValidationError):
        await client.search(query, categories="films")
    with pytest.raises(la.ValidationError):
        [_ async for _ in client.search_many([query, "ok"])]
    assert len(str(caught.value)) < 500
    assert sent(mock) == 0


# -- options: no secret in what is raised or shown --------------------------------------------


@pytest.mark.parametrize(
    "base_url",
    [
        "https://user:hunter2-secret@tracker.test",
        "https://hunter2-secret@tracker.test",
        "https://tracker.test?apikey=hunter2-secret",
        "https://tracker.test/#hunter2-secret",
        "https://tracker.test&apikey=hunter2-secret",
        "https://tracker.test:hunter2-secret@",
        "ftp://user:hunter2-secret@tracker.test",
        "https://user:hunter2-secret@tracker.test:99999",
        "https://user:hunter2-secret@[::1",
        f"https://tracker.test/{API_KEY}",
    ],
)
def test_a_base_url_holding_a_secret_is_refused_without_quoting_it(base_url: str) -> None:
    with pytest.raises(la.ConfigurationError) as caught:
        LaCaleClient(API_KEY, base_url=base_url)
    shown = f"{caught.value} {caught.value!r} {caught.value.__cause__!r}"
    assert "hunter2" not in shown
    assert API_KEY not in shown


async def test_a_state_file_locked_by_another_program_is_a_storage_error(
    client: LaCaleClient, mock: aioresponses, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mock.get(SEARCH, payload=[torrent_json(0)], repeat=True)
    path = tmp_path / "w.db"
    WatchState(path).close()
    monkeypatch.setattr(_sqlite, "BUSY_TIMEOUT", 0.01)
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        async with aclosing(client.watch("FRENCH", state=path, interval=3600)) as events:
            with pytest.raises(la.StorageError) as caught:
                await asyncio.wait_for(anext(events), 10)
    finally:
        holder.rollback()
        holder.close()
    assert "locked" in str(caught.value)
    assert sent(mock) <= 1
    # Only this run failed: the file is whole and opens once the other program lets go.
    WatchState(path).close()


async def test_a_state_file_in_a_read_only_folder_stops_the_watch_before_any_search(
    client: LaCaleClient, mock: aioresponses, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mock.get(SEARCH, payload=[], repeat=True)
    path = tmp_path / "w.db"
    real_open = os.open

    def read_only(file: Any, flags: int, *args: Any, **kwargs: Any) -> int:
        if Path(file) == path and flags & os.O_CREAT:
            raise PermissionError(errno.EACCES, "Permission denied", str(file))
        return real_open(file, flags, *args, **kwargs)

    # Root ignores chmod: the folder refuses the new file the way a read-only one would.
    monkeypatch.setattr(os, "open", read_only)
    async with aclosing(client.watch("FRENCH", state=path, interval=3600)) as events:
        with pytest.raises(la.StorageError, match="Permission denied"):
            await asyncio.wait_for(anext(events), 10)
    assert sent(mock) == 0
    assert leftovers(tmp_path) == []
