"""The ``lacale`` command line, run against the embedded sandbox and a sandbox in a thread."""

from __future__ import annotations

import functools
import io
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from _cli import (
    KEY,
    SANDBOX,
    TORRENT_FIELDS,
    ThreadedSandbox,
    error_lines,
    invoke,
    make_nfo,
    make_torrent,
)
from click.testing import CliRunner

from lacale_async import (
    APIError,
    AuthenticationError,
    BackendError,
    BadRequestError,
    ClientStateError,
    ConfigurationError,
    ConflictError,
    ConnectError,
    DestinationExistsError,
    IntegrityError,
    InvalidTorrentError,
    LaCaleClient,
    LaCaleError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    RequestTimeoutError,
    ResponseError,
    ServerError,
    TransportError,
    UploadRejectedError,
    ValidationError,
    apply_source_flag,
    parse_torrent,
)
from lacale_async._cli._commands import cli
from lacale_async._cli._exit import EXIT_CODES, error_line, exit_code
from lacale_async._cli._render import human_size
from lacale_async.testing import Fault

pytest_plugins = ["_cli"]  # fixtures: remote, remote_args, amelie_hash

# -- search ---------------------------------------------------------------------------------


def test_search_without_key_uses_the_sandbox_and_says_so_in_one_line() -> None:
    result = invoke(["search", "Amélie"])
    assert result.exit_code == 0, result.stderr
    notes = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(notes) == 1
    assert "embedded sandbox" in notes[0]
    assert "http://127.0.0.1:" in notes[0]
    assert "Amélie" in result.stdout
    assert re.search(r"\d+\.\d (GiB|MiB)", result.stdout)
    assert re.search(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}", result.stdout)


def test_search_json_shows_the_torrent_page_but_never_a_download_token() -> None:
    result = invoke([*SANDBOX, "--json", "search", "amelie"])
    assert result.exit_code == 0, result.stderr
    items = json.loads(result.stdout)
    assert items
    assert all(
        re.fullmatch(r"http://127\.0\.0\.1:\d+/torrents/[0-9a-z]{12}", i["link"]) for i in items
    )
    for stream in (result.stdout, result.stderr):
        assert "token" not in stream
        assert "/api/download/" not in stream
        assert "eyJ" not in stream  # the start of every JWT


def test_search_json_is_an_array_of_snake_case_objects_with_iso_dates() -> None:
    result = invoke([*SANDBOX, "--json", "search", "les miserables"])
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""  # --sandbox is explicit: no note
    items = json.loads(result.stdout)
    assert isinstance(items, list)
    assert items
    for item in items:
        assert set(item) == TORRENT_FIELDS
        assert datetime.fromisoformat(item["pub_date"]).tzinfo is not None
        assert re.fullmatch(r"[0-9a-f]{40}", item["info_hash"])
        assert "mis" in item["title"].lower()
        assert item["magnet"].startswith("magnet:?xt=urn:btih:" + item["info_hash"])


def test_search_table_shows_short_hash_and_human_size() -> None:
    data = json.loads(invoke([*SANDBOX, "--json", "search", "stromae"]).stdout)
    table = invoke([*SANDBOX, "search", "stromae"]).stdout
    first = data[0]
    assert first["info_hash"][:12] in table
    assert first["info_hash"] not in table
    assert human_size(first["size"]) in table


def test_search_cat_filter_and_tmdb() -> None:
    # The embedded sandbox answers like the live tracker: a search needs a query or a TMDB
    # id, and "FRENCH" is the indexers' way to list recent releases.
    refused = invoke([*SANDBOX, "--json", "search", "--cat", "series"])
    assert refused.exit_code == 4
    assert "FRENCH" in refused.stderr
    series = json.loads(invoke([*SANDBOX, "--json", "search", "FRENCH", "--cat", "series"]).stdout)
    assert series
    assert {t["category"] for t in series} == {"Séries TV"}
    none = json.loads(invoke([*SANDBOX, "--json", "search", "amelie", "--cat", "music"]).stdout)
    assert none == []
    by_tmdb = json.loads(invoke([*SANDBOX, "--json", "search", "--tmdb", "194"]).stdout)
    assert by_tmdb
    assert all("am" in t["title"].lower() for t in by_tmdb)


@pytest.mark.parametrize("tmdb", ["abc", "12a", "-5", "1.5", "١٢"])
def test_a_tmdb_id_that_is_not_digits_exits_4_before_sending(
    tmdb: str, tmp_path: Path, remote: ThreadedSandbox, remote_args: list[str]
) -> None:
    # Regression: `--tmdb abc` was sent and silently found nothing; `upload --tmdb-id abc`
    # was sent and answered 400 by the server.
    search = invoke([*remote_args, "search", "dune", "--tmdb", tmdb])
    assert search.exit_code == 4, search.stderr
    assert "TMDB" in error_lines(search)[0]
    path = make_torrent(tmp_path, source="lacale")
    upload = invoke(
        [*remote_args, "upload", str(path), "--category", "films", "--tmdb-id", tmdb,
         "--nfo", str(make_nfo(tmp_path))]
    )  # fmt: skip
    assert upload.exit_code == 4, upload.stderr
    sent = [r.path for r in remote.server.requests]
    assert "/api/external" not in sent
    assert "/api/external/upload" not in sent


def test_empty_search_says_no_results() -> None:
    result = invoke([*SANDBOX, "search", "zzzz introuvable"])
    assert result.exit_code == 0
    assert "no results" in result.stdout


# -- meta -----------------------------------------------------------------------------------


def test_meta_tree_shows_names_slugs_and_tags() -> None:
    result = invoke([*SANDBOX, "meta"])
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    assert "Categories" in out
    assert "Tags" in out
    assert re.search(r"Films\s+films\s+c\w+", out)
    assert re.search(r"Séries TV\s+series", out)
    # The third level of the live tree, and its groups that list no tags.
    assert re.search(r"Musique\s+music\s+\w+\n.*FLAC\s+flac\s+c\w+", out)
    assert re.search(r"Qualité / Résolution\s+qualit-r-solution\s+\(tags not listed\)", out)
    assert re.search(r"Qualité / Bitrate\s+qualit-bitrate\n", out)
    assert re.search(r"320 kbps\s+320-kbps\s+c\w+", out)


def test_meta_json_uses_snake_case_like_the_structs() -> None:
    result = invoke([*SANDBOX, "--json", "meta"])
    data = json.loads(result.stdout)
    assert set(data) == {"categories", "tag_groups", "ungrouped_tags"}
    slugs = {c["slug"] for parent in data["categories"] for c in parent["children"]}
    assert {"films", "series", "music"} <= slugs
    assert all("tags" in group for group in data["tag_groups"])
    assert all("parent_id" in c for parent in data["categories"] for c in parent["children"])
    text = result.stdout
    assert "parentId" not in text
    assert "tagGroups" not in text


# -- upload ---------------------------------------------------------------------------------


def test_upload_defaults_title_sets_source_flag_and_saves(tmp_path: Path) -> None:
    path = make_torrent(tmp_path)
    original = parse_torrent(path.read_bytes())
    assert original.source is None
    saved = tmp_path / "seed.torrent"
    result = invoke(
        [*SANDBOX, "upload", str(path), "--category", "films", "--tag", "vostfr",
         "--nfo", str(make_nfo(tmp_path)), "--save-torrent", str(saved)]
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    seeded = parse_torrent(saved.read_bytes())
    assert seeded.source == "lacale"
    assert seeded.info_hash != original.info_hash
    assert f"info hash: {seeded.info_hash}" in result.stdout
    assert f"uploaded: {original.name}" in result.stdout
    assert re.search(r"link: http://127\.0\.0\.1:\d+/\S+", result.stdout)
    assert "source flag was added" in result.stderr
    assert not error_lines(result)


def test_upload_save_torrent_never_replaces_a_file_unless_told(
    tmp_path: Path, remote: ThreadedSandbox, remote_args: list[str]
) -> None:
    path = make_torrent(tmp_path)
    original = path.read_bytes()
    nfo = ["--nfo", str(make_nfo(tmp_path))]
    args = [*remote_args, "upload", str(path), "--category", "films", *nfo]
    # The folder of the original: the seed would be saved over the user's own .torrent.
    refused = invoke([*args, "--save-torrent", str(tmp_path)])
    assert refused.exit_code == 12, refused.stderr
    assert "--overwrite" in refused.stderr
    assert len(error_lines(refused)) == 1
    assert path.read_bytes() == original
    assert not [r for r in remote.server.requests if r.endpoint == "upload"]  # nothing sent

    replaced = invoke([*args, "--save-torrent", str(tmp_path), "--overwrite"])
    assert replaced.exit_code == 0, replaced.stderr
    seeded = parse_torrent(path.read_bytes())
    assert seeded.source == "lacale"
    assert f"info hash: {seeded.info_hash}" in replaced.stdout


def test_upload_json_sends_every_field(tmp_path: Path, remote: ThreadedSandbox) -> None:
    path = make_torrent(tmp_path, "Album.FLAC", source="lacale")
    nfo = tmp_path / "album.nfo"
    nfo.write_text("NFO", encoding="utf-8")
    # A tag id copied from the site: the live /meta does not list its group's tags.
    hidden = remote.server.catalogue.taxonomy.tag_by_slug("1080p")
    assert hidden is not None
    hidden_tag = hidden.id
    result = invoke(
        ["--base-url", remote.server.base_url, "--api-key", remote.server.api_key, "--json",
         "upload", str(path), "--category", "films", "--title", "Mon Film (2024)",
         "--tag", hidden_tag, "--tag", "vostfr", "--description", "Un film", "--nfo", str(nfo),
         "--tmdb-id", "603", "--tmdb-type", "movie", "--cover-url", "https://img.test/c.jpg",
         "--source-policy", "refuse"]
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["success"] is True
    assert data["source_flag_added"] is False
    assert data["info_hash"] == parse_torrent(path.read_bytes()).info_hash
    assert data["saved_to"] is None
    record = next(u for u in remote.server.uploads if u.info_hash == data["info_hash"])
    assert record.title == "Mon Film (2024)"
    assert record.tag_ids[0] == hidden_tag
    assert len(record.tag_ids) == 2
    assert record.description == "Un film"
    assert record.nfo == b"NFO"
    assert (record.tmdb_id, record.tmdb_type) == ("603", "MOVIE")
    assert record.cover_url == "https://img.test/c.jpg"
    assert record.source_flag is True


def test_upload_refuse_policy_and_bad_torrent_exit_4(tmp_path: Path) -> None:
    path = make_torrent(tmp_path)
    refused = invoke(
        [*SANDBOX, "upload", str(path), "--category", "films", "--source-policy", "refuse"]
    )
    assert refused.exit_code == 4
    assert len(error_lines(refused)) == 1
    assert "--source-policy set" in refused.stderr
    assert "source_policy" not in refused.stderr
    junk = tmp_path / "junk.torrent"
    junk.write_bytes(b"not a torrent at all")
    assert invoke([*SANDBOX, "upload", str(junk), "--category", "films"]).exit_code == 4
    missing = invoke([*SANDBOX, "upload", str(tmp_path / "nope.torrent"), "--category", "films"])
    assert missing.exit_code == 4
    unknown = invoke([*SANDBOX, "upload", str(path), "--category", "no-such-category"])
    assert unknown.exit_code == 4
    assert "unknown category" in unknown.stderr


def test_duplicate_upload_exits_7(tmp_path: Path, remote_args: list[str]) -> None:
    path = make_torrent(tmp_path, source="lacale")
    nfo = ["--nfo", str(make_nfo(tmp_path))]
    first = invoke([*remote_args, "upload", str(path), "--category", "films", *nfo])
    assert first.exit_code == 0, first.stderr
    second = invoke([*remote_args, "upload", str(path), "--category", "films", *nfo])
    assert second.exit_code == 7
    assert len(error_lines(second)) == 1


# -- download -------------------------------------------------------------------------------


def test_download_to_dir_then_file_with_overwrite_rules(tmp_path: Path, amelie_hash: str) -> None:
    folder = tmp_path / "dl"
    folder.mkdir()
    first = invoke([*SANDBOX, "download", amelie_hash, "-o", str(folder)])
    assert first.exit_code == 0, first.stderr
    saved = Path(first.stdout.strip())
    assert saved.parent == folder
    assert saved.suffix == ".torrent"
    assert parse_torrent(saved.read_bytes()).info_hash == amelie_hash

    again = invoke([*SANDBOX, "download", amelie_hash, "-o", str(folder)])
    assert again.exit_code == 12
    assert "--overwrite" in again.stderr

    target = tmp_path / "x.torrent"
    target.write_bytes(b"old")
    refused = invoke([*SANDBOX, "download", amelie_hash, "-o", str(target)])
    assert refused.exit_code == 12
    assert target.read_bytes() == b"old"
    replaced = invoke(
        [*SANDBOX, "--json", "download", amelie_hash, "-o", str(target), "--overwrite"]
    )
    assert replaced.exit_code == 0
    assert json.loads(replaced.stdout) == {"info_hash": amelie_hash, "path": str(target)}
    assert parse_torrent(target.read_bytes()).info_hash == amelie_hash


def test_download_defaults_to_cwd(
    tmp_path: Path, amelie_hash: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = invoke([*SANDBOX, "download", amelie_hash.upper()])
    assert result.exit_code == 0, result.stderr
    assert Path(result.stdout.strip()).parent == tmp_path


def test_download_errors(tmp_path: Path, amelie_hash: str) -> None:
    bad = invoke([*SANDBOX, "download", "abc123"])
    assert bad.exit_code == 4
    missing = invoke([*SANDBOX, "download", "0" * 40])
    assert missing.exit_code == 6
    assert len(error_lines(missing)) == 1
    # A folder given with a trailing slash that does not exist is created (wget -P habit);
    # see test_cli_download.py.


# -- bulk -----------------------------------------------------------------------------------


def test_bulk_from_file_tables_and_stats(tmp_path: Path) -> None:
    queries = tmp_path / "q.txt"
    queries.write_text(
        "# comment\nAmélie\n\namelie \n   \nAMÉLIE\nStromae\nzzz introuvable\n", encoding="utf-8"
    )
    result = invoke([*SANDBOX, "bulk", str(queries), "--top", "1"])
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    for heading in ("Amélie  (", "amelie   (", "AMÉLIE  (", "Stromae  ("):
        assert heading in out
    assert "zzz introuvable  (no results)" in out
    assert "more not shown" in out
    stats = [line for line in out.splitlines() if line.startswith("stats:")]
    assert len(stats) == 1
    assert "requests sent 3," in stats[0]  # 5 lines, 3 distinct searches
    # The two lines equal to "Amélie" once normalised shared its request.
    shared = re.search(r"cache hits (\d+), coalesced (\d+)", stats[0])
    assert shared is not None
    assert int(shared.group(1)) + int(shared.group(2)) == 2
    assert "429s received 0" in stats[0]
    assert "comment" not in out


def test_bulk_json_lines_from_stdin(remote: ThreadedSandbox, remote_args: list[str]) -> None:
    text = "Amélie\namelie\nnothing-here-zz\n"
    result = invoke([*remote_args, "--json", "bulk"], input=text)
    assert result.exit_code == 0, result.stderr
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert sorted(r["query"] for r in records) == sorted(text.split())
    for record in records:
        assert set(record) == {"query", "ok", "results", "error"}
        assert record["ok"] is True
        assert record["error"] is None
        for item in record["results"]:
            assert set(item) == TORRENT_FIELDS
    by_query = {r["query"]: r for r in records}
    assert by_query["Amélie"]["results"] == by_query["amelie"]["results"] != []
    assert by_query["nothing-here-zz"]["results"] == []
    assert "stats: requests sent 2," in result.stderr
    searches = [r for r in remote.server.requests if r.endpoint == "search"]
    assert len(searches) == 2


def test_bulk_dash_reads_stdin_and_failed_queries_set_exit_code() -> None:
    result = invoke([*SANDBOX, "--json", "bulk", "-", "--cat", "no-such-cat"], input="a\nb\n")
    assert result.exit_code == 4  # the tracker refuses the unknown category (400)
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(records) == 2
    assert all(r["ok"] is False and r["results"] == [] and r["error"] for r in records)
    assert "2 of 2 queries failed" in result.stderr


def test_bulk_long_query_is_refused_before_sending() -> None:
    result = invoke([*SANDBOX, "bulk", "-"], input="x" * 201 + "\n")
    assert result.exit_code == 4
    assert len(error_lines(result)) == 1
    assert "requests sent 0," in result.stdout


def test_bulk_long_line_fails_alone_with_its_number() -> None:
    text = "Amélie\n# comment\n" + "x" * 250 + "\nStromae\n"
    as_json = invoke([*SANDBOX, "--json", "bulk", "-"], input=text)
    assert as_json.exit_code == 4
    records = [json.loads(line) for line in as_json.stdout.splitlines()]
    assert len(records) == 3
    failed = [r for r in records if not r["ok"]]
    assert len(failed) == 1
    assert failed[0]["query"] == "x" * 250
    assert failed[0]["results"] == []
    assert failed[0]["error"].startswith("line 3: ")
    assert "200" in failed[0]["error"]
    assert {r["query"] for r in records if r["ok"] and r["results"]} == {"Amélie", "Stromae"}
    assert "requests sent 2," in as_json.stderr
    assert "1 of 3 queries failed" in as_json.stderr

    table = invoke([*SANDBOX, "bulk", "-", "--top", "1"], input=text)
    assert table.exit_code == 4
    assert "Amélie  (" in table.stdout
    assert "Stromae  (" in table.stdout
    row = [line for line in table.stdout.splitlines() if "line 3: " in line]
    assert len(row) == 1
    assert row[0].startswith("xxxx")
    assert "x" * 100 not in table.stdout, "the long line is shortened in a table"


class _InterruptedInput(io.RawIOBase):
    """Stdin whose reader gets Ctrl-C, as if the user gave up waiting for a slow pipe."""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if len(buffer) == 0:
            return 0
        raise KeyboardInterrupt


def test_ctrl_c_while_reading_stdin_exits_130() -> None:
    result = invoke([*SANDBOX, "bulk", "-"], input=_InterruptedInput())  # type: ignore[arg-type]
    assert result.exit_code == 130
    assert result.stderr == "interrupted\n"
    assert result.stdout == ""


@pytest.mark.parametrize("as_json", [True, False])
def test_output_encoding_without_the_characters_does_not_crash(
    tmp_path: Path, as_json: bool
) -> None:
    queries = tmp_path / "q.txt"
    queries.write_text("Amélie\n日本\n", encoding="utf-8")
    runner = CliRunner(charset="cp1252", env={"LACALE_API_KEY": None, "LACALE_BASE_URL": None})
    args = [*SANDBOX, *(["--json"] if as_json else []), "bulk", str(queries), "--top", "1"]
    result = runner.invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert "Amélie" in result.stdout, "what cp1252 can show is shown"
    if as_json:
        records = [json.loads(line) for line in result.stdout.splitlines()]
        assert [r["query"] for r in records if not r["results"]] == ["??"]
    else:
        assert "??  (no results)" in result.stdout


@pytest.mark.parametrize("as_json", [True, False])
def test_closed_stdout_pipe_ends_quietly(as_json: bool) -> None:
    # Five searches of ~25 KB each overflow the pipe: the writer is blocked when it closes.
    env = {k: v for k, v in os.environ.items() if not k.startswith("LACALE_")}
    json_flag = ["--json"] if as_json else []
    proc = subprocess.Popen(
        [sys.executable, "-m", "lacale_async", *SANDBOX, *json_flag, "bulk", "-", "--top", "50"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    assert proc.stdin is not None
    assert proc.stdout is not None
    assert proc.stderr is not None
    try:
        proc.stdin.write(b"a\ne\ni\no\nu\n")
        proc.stdin.close()
        assert proc.stdout.read(10)
        proc.stdout.close()
        with proc.stderr:
            stderr = proc.stderr.read().decode()
        assert proc.wait(timeout=30) == 141
    finally:
        if proc.returncode is None:
            proc.kill()
            proc.wait()
    assert "Broken pipe" not in stderr
    assert "BrokenPipeError" not in stderr
    assert "Traceback" not in stderr


def test_bulk_with_terminal_stdin_and_no_file_is_a_usage_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    runner = CliRunner(env={"LACALE_API_KEY": None, "LACALE_BASE_URL": None})
    with runner.isolation():
        monkeypatch.setattr(sys.stdin, "isatty", lambda: True)
        with pytest.raises(SystemExit) as exc_info:
            cli.main([*SANDBOX, "bulk"], prog_name="lacale")
    assert exc_info.value.code == 2


# -- errors, exit codes, secrets ------------------------------------------------------------


def test_unknown_key_exits_5_without_echoing_it(remote: ThreadedSandbox) -> None:
    for auth in ("header", "query", "passkey"):
        result = invoke(
            ["-v", "--base-url", remote.server.base_url, "--api-key", KEY, "--auth", auth,
             "search", "amelie"]
        )  # fmt: skip
        assert result.exit_code == 5
        assert len(error_lines(result)) == 1
        assert "DEBUG" in result.stderr  # -v logs the SDK's activity, still without the key


def test_key_from_environment(remote: ThreadedSandbox) -> None:
    env = {"LACALE_API_KEY": remote.server.api_key, "LACALE_BASE_URL": remote.server.base_url}
    result = invoke(["--json", "search", "stromae"], env=env)
    assert result.exit_code == 0, result.stderr
    assert "sandbox" not in result.stderr
    assert remote.server.api_key not in result.stdout + result.stderr
    bad = invoke(["search", "stromae"], env={**env, "LACALE_API_KEY": KEY})
    assert bad.exit_code == 5


def test_base_url_without_key_exits_3(remote: ThreadedSandbox) -> None:
    result = invoke(["--base-url", remote.server.base_url, "meta"])
    assert result.exit_code == 3
    assert "--api-key" in result.stderr


def test_server_faults_map_to_exit_codes(
    remote: ThreadedSandbox, remote_args: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # A long 429 would pause the key budget (kept in the store) and the meta call would be
    # refused before the fault it tests: this test is about exit codes, not budgets.
    monkeypatch.setenv("LACALE_KEY_RATE", "off")
    remote.add_fault(Fault.rate_limited(retry_after=3600), "search")
    limited = invoke([*remote_args, "search", "x"])
    assert limited.exit_code == 8
    remote.add_fault(Fault.html_challenge(), "meta")
    html = invoke([*remote_args, "meta"])
    assert html.exit_code == 11
    for result in (limited, html):
        assert len(error_lines(result)) == 1


def test_unreachable_server_exits_10(monkeypatch: pytest.MonkeyPatch) -> None:
    # No retries: the point is the mapping, not the backoff and the limiter's pacing of retries.
    monkeypatch.setattr(
        "lacale_async._cli._session.LaCaleClient", functools.partial(LaCaleClient, max_retries=0)
    )
    result = invoke(["--base-url", "http://127.0.0.1:9", "--api-key", KEY, "meta"])
    assert result.exit_code == 10
    assert len(error_lines(result)) == 1

    assert "check --base-url" in error_lines(result)[0]  # what to do, not only the OS's words


def test_an_upload_without_the_nfo_live_wants_says_to_pass_it(
    tmp_path: Path, remote_args: list[str]
) -> None:
    # The live tracker answers a missing NFO with "Champs requis manquants : nfoFile".
    path = make_torrent(tmp_path, source="lacale")
    result = invoke([*remote_args, "upload", str(path), "--category", "films"])
    assert result.exit_code == 4, result.stderr
    assert "nfoFile" in error_lines(result)[0]
    assert "--nfo" in error_lines(result)[0]


ERRORS: list[tuple[LaCaleError, int]] = [
    (ConfigurationError("no key"), 3),
    (ValidationError("bad input"), 4),
    (InvalidTorrentError("not bencode"), 4),
    (BadRequestError("400", status=400), 4),
    (AuthenticationError("401", status=401), 5),
    (PermissionDeniedError("403", status=403), 5),
    (NotFoundError("404", status=404), 6),
    (ConflictError("409"), 7),
    (RateLimitError("429"), 8),
    (ServerError("500", status=500), 9),
    (TransportError("reset"), 10),
    (ConnectError("refused"), 10),
    (RequestTimeoutError("slow"), 10),
    (ResponseError("html"), 11),
    (IntegrityError("wrong torrent"), 11),
    (UploadRejectedError("success false"), 11),
    (DestinationExistsError("exists"), 12),
    (APIError("418", status=418), 1),
    (ClientStateError("closed"), 1),
    (BackendError("redis down"), 1),
    (LaCaleError("other"), 1),
]


@pytest.mark.parametrize(("error", "code"), ERRORS, ids=lambda v: type(v).__name__)
def test_every_error_class_has_its_exit_code_and_one_line(
    error: LaCaleError, code: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def fail(self: LaCaleClient, **kw: Any) -> None:
        raise error

    # A multi-line message carrying the key: shown on one line, key masked.
    error.message = f"boom\n  with {KEY} inside"
    monkeypatch.setattr(LaCaleClient, "meta", fail)
    result = invoke([*SANDBOX, "meta"])
    assert result.exit_code == code
    assert exit_code(error) == code
    # One line; a connection refused also says what to check.
    line, end = result.stderr.partition("\n")[::2]
    assert (line.startswith("error: boom with *** inside"), end) == (True, "")
    assert KEY not in result.stderr


def test_exit_code_table_is_consistent() -> None:
    codes = set(EXIT_CODES.values())
    assert 2 not in codes
    assert 130 not in codes
    assert 1 not in codes
    assert error_line(ValueError("a\nb"), ("a",)) == "error: *** b"


def test_ctrl_c_exits_130_without_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    async def interrupted(self: LaCaleClient, **kw: Any) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(LaCaleClient, "meta", interrupted)
    result = invoke([*SANDBOX, "meta"])
    assert result.exit_code == 130
    assert result.stdout == ""


def test_ctrl_c_before_the_upload_was_sent_says_only_interrupted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def interrupted(self: LaCaleClient, **kw: Any) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(LaCaleClient, "upload", interrupted)
    result = invoke([*SANDBOX, "upload", str(make_torrent(tmp_path)), "--category", "films"])
    assert result.exit_code == 130
    assert result.stderr.endswith("interrupted\n")


def test_ctrl_c_during_the_upload_says_it_may_have_been_recorded(
    tmp_path: Path, remote: ThreadedSandbox, remote_args: list[str]
) -> None:
    path = make_torrent(tmp_path)
    # The hint names the hash the tracker would record: the one with the source flag added.
    original = parse_torrent(path.read_bytes())
    uploaded = apply_source_flag(path.read_bytes(), "set")[1]
    assert uploaded.info_hash != original.info_hash
    remote.add_fault(Fault.slow(3.0), endpoint="upload")
    env = {k: v for k, v in os.environ.items() if not k.startswith("LACALE_")}
    args = [*remote_args, "upload", str(path), "--category", "films"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "lacale_async", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        # The sandbox takes the fault when the upload request arrives.
        for _ in range(1000):
            if remote.server.faults.pending == 0 or proc.poll() is not None:
                break
            time.sleep(0.01)
        assert remote.server.faults.pending == 0
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=30)
    finally:
        if proc.returncode is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130
    assert "Traceback" not in stderr
    last = stderr.strip().splitlines()[-1]
    assert last.startswith("interrupted: ")
    assert "may or may not have recorded it" in last
    assert uploaded.info_hash in last


def test_file_system_failure_is_one_line_exit_1(
    monkeypatch: pytest.MonkeyPatch, amelie_hash: str
) -> None:
    async def denied(self: LaCaleClient, *args: Any, **kw: Any) -> None:
        raise PermissionError(13, "Permission denied", "/ro/x.torrent")

    monkeypatch.setattr(LaCaleClient, "download_to", denied)
    result = invoke([*SANDBOX, "download", amelie_hash])
    assert result.exit_code == 1
    assert result.stderr == "error: [Errno 13] Permission denied: '/ro/x.torrent'\n"


def test_human_size() -> None:
    assert human_size(0) == "0 B"
    assert human_size(1023) == "1023 B"
    assert human_size(1536) == "1.5 KiB"
    assert human_size(700 * 1024**2) == "700.0 MiB"
    assert human_size(int(4.25 * 1024**3)) == "4.2 GiB"
    assert human_size(3 * 1024**4) == "3.0 TiB"


# -- processes: the sandbox command, python -m, the missing extra ---------------------------


def _python(*args: str, **kw: Any) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LACALE_")}
    return subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, timeout=30, env=env, **kw
    )


@pytest.mark.parametrize("profile", ["live", "docs"])
def test_sandbox_command_serves_until_terminated(profile: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LACALE_")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "lacale_async", "sandbox", "--port", "0", "--profile", profile],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout is not None
        lines: list[str] = []
        while not any(line.startswith("export ") for line in lines):
            line = proc.stdout.readline()
            assert line, "the sandbox exited before printing its URL"
            lines.append(line)
        url = re.search(r"http://127\.0\.0\.1:\d+", lines[0])
        key = re.search(r"API key: (\S+)", "".join(lines))
        assert url
        assert key
        export = lines[-1].split()
        assert export == [
            "export",
            f"LACALE_BASE_URL={url.group(0)}",
            f"LACALE_API_KEY={key.group(1)}",
        ]
        request = urllib.request.Request(
            url.group(0) + "/api/external/meta", headers={"X-Api-Key": key.group(1)}
        )
        with urllib.request.urlopen(request, timeout=5) as response:  # loopback only
            assert response.status == 200
            assert "categories" in json.loads(response.read())
        assert f"profile {profile}" in "".join(lines)
        # A search without a query: refused live, the 50 newest as documented.
        bare = urllib.request.Request(
            url.group(0) + "/api/external", headers={"X-Api-Key": key.group(1)}
        )
        try:
            with urllib.request.urlopen(bare, timeout=5) as response:  # loopback only
                status = response.status
        except urllib.error.HTTPError as exc:
            status = exc.code
        assert status == (400 if profile == "live" else 200)
    finally:
        proc.terminate()
        _, stderr = proc.communicate(timeout=10)
    assert proc.returncode == 0
    assert "Traceback" not in stderr


def test_python_m_runs_the_cli() -> None:
    result = _python("-m", "lacale_async", "--help")
    assert result.returncode == 0
    for command in ("search", "meta", "upload", "download", "bulk", "sandbox"):
        assert command in result.stdout


def test_missing_extra_prints_a_hint_and_exits_2() -> None:
    code = (
        "import sys; sys.modules['click'] = None; "
        "from lacale_async._cli import main; main(['meta'])"
    )
    result = _python("-c", code)
    assert result.returncode == 2
    assert "pip install 'lacale-async[cli]'" in result.stderr
    assert "Traceback" not in result.stderr


def test_core_package_does_not_import_click_or_rich() -> None:
    code = "import sys, lacale_async; print(sorted({'click', 'rich'} & set(sys.modules)))"
    result = _python("-c", code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_click_s_own_errors_never_echo_control_characters(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from lacale_async._cli import main

    hostile = "/no/such/\x1b]0;PWNED\x07\x1b[2J.txt"
    with pytest.raises(SystemExit) as info:
        main(["bulk", hostile])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "'/no/such/.txt': No such file" in err  # the name is still told, cleaned
    assert "\x1b" not in err
    assert "\x07" not in err


def test_quota_names_its_store_without_the_control_characters_of_its_path(
    tmp_path: Path, remote_args: list[str]
) -> None:
    store = tmp_path / "q\x1b]0;PWNED\x07.sqlite3"
    result = invoke([*remote_args, "quota"], env={"LACALE_QUOTA_STORE": str(store)})
    assert result.exit_code == 0, result.stderr
    assert f"kept in: {tmp_path}/q.sqlite3" in result.stdout
    assert "\x1b" not in result.stdout
    assert "\x07" not in result.stdout


def test_search_without_a_query_hints_at_the_command_not_a_python_option() -> None:
    result = invoke([*SANDBOX, "search"])
    assert result.exit_code == 4
    assert len(error_lines(result)) == 1
    assert "allow_empty_search" not in result.stderr
    assert "lacale search FRENCH" in result.stderr


def test_sandbox_on_a_port_in_use_says_so_and_how_to_pick_another() -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = invoke(["sandbox", "--port", str(port)])
    assert result.exit_code == 3
    (line,) = error_lines(result)
    assert f"cannot listen on 127.0.0.1:{port}" in line
    assert "in use" in line.lower()
    assert "--port 0" in line
    assert "error while attempting" not in line


def test_sandbox_help_says_what_port_zero_does() -> None:
    result = invoke(["sandbox", "--help"])
    assert result.exit_code == 0
    assert "any free port" in " ".join(result.stdout.split())
