"""``lacale watch`` (rows, JSON lines, --download-to, --exec) and ``lacale sandbox --drip``.

In-process runs watch a sandbox in a thread with ``--include-existing``, so the first round
yields at once; the command is stopped the way Ctrl-C stops it once it has reported what the
test waits for. A subprocess run checks the real Ctrl-C and the state it leaves.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from contextlib import aclosing
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from _cli import (
    CONTROL,
    EVIL,
    KEY,
    ThreadedSandbox,
    args_of,
    assert_no_window,
    error_lines,
    invoke,
    running,
)

from lacale_async import (
    Delivery,
    FakeClock,
    LaCaleClient,
    SearchQuery,
    Torrent,
    WatchEvent,
    parse_torrent,
)
from lacale_async._cli import _watch
from lacale_async._cli._watch_actions import Actions, exec_env, watch_row
from lacale_async.testing import Fault, SandboxConfig, SandboxServer


def event_of(*, query: str = "dune", **fields: Any) -> WatchEvent:
    """A new-release event for ``query``: a plain result, ``fields`` changing its torrent."""
    moment = datetime(2026, 1, 1, tzinfo=timezone.utc)
    torrent: dict[str, Any] = {
        "title": "Dune",
        "guid": "g",
        "size": 1,
        "pub_date": moment,
        "link": "https://la-cale.space/torrents/x",
        "category": "Films",
        "seeders": 1,
        "leechers": 0,
        "info_hash": "ab" * 20,
    }
    torrent.update(fields)
    return WatchEvent(query=SearchQuery(query), torrent=Torrent(**torrent), seen_at=moment)


pytestmark = pytest.mark.integration

ENTRY = [sys.executable, "-c", "import _lacale_async_cli as m; m.main()"]


@pytest.fixture(autouse=True)
def _own_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LACALE_CACHE_DIR", str(tmp_path / "cache"))


@pytest.fixture(scope="module")
def remote() -> Iterator[ThreadedSandbox]:
    # No server cache: a watch restarted at once sees what was just published.
    yield from running(SandboxConfig(seed=0, key_budget=(), cache_ttl=0))


@pytest.fixture
def args(remote: ThreadedSandbox) -> Iterator[list[str]]:
    yield from args_of(remote)


def publish(remote: ThreadedSandbox, title: str, **options: Any) -> str:
    async def go() -> str:
        return remote.server.publish(title, **options).info_hash

    return remote.call(go())


@pytest.fixture
def stop_after(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Stop ``lacale watch`` like Ctrl-C once it has handled ``stop_after[0]`` releases."""
    limit = [1]
    handle = Actions.handle

    async def handle_then_stop(self: Actions, client: Any, event: Any) -> Delivery:
        reply = await handle(self, client, event)
        if self.count >= limit[0]:
            # A real SIGINT, once the watch has its reply: asyncio's handler cancels the
            # command wherever it waits next, as a Ctrl-C typed then would.
            asyncio.get_running_loop().call_soon(signal.raise_signal, signal.SIGINT)
        return reply

    monkeypatch.setattr(Actions, "handle", handle_then_stop)
    return limit


def test_a_row_per_release_then_ctrl_c_says_how_many(
    remote: ThreadedSandbox, args: list[str], stop_after: list[int], tmp_path: Path
) -> None:
    stop_after[0] = 2
    hashes = [publish(remote, f"Zorglub.{n}.2026.1080p{EVIL}") for n in range(2)]
    state = tmp_path / "w.db"
    result = invoke([*args, "watch", "zorglub", "--include-existing", "--state", str(state)])
    assert result.exit_code == 130
    rows = result.stdout.splitlines()
    assert len(rows) == 2
    assert all(h[:12] in row for h, row in zip(hashes, rows, strict=True))
    assert not CONTROL.search(result.stdout + result.stderr)
    # The SDK's INFO line: the key budget a tracker the CLI does not know is given (200 a day).
    assert "watching 1 query, each every 15 min (--budget-share 0.5): about " in result.stderr
    assert "budget_share" not in result.stderr
    assert result.stderr.strip().splitlines()[-1] == "interrupted: 2 new releases announced"
    assert state.exists()


def test_json_lines_are_exact_and_hold_no_secret(
    remote: ThreadedSandbox, args: list[str], stop_after: list[int]
) -> None:
    title = f"Zorglub.2026{EVIL}"
    info_hash = publish(remote, title)
    result = invoke([*args, "--json", "watch", "zorglub", "--include-existing"])
    line = json.loads(result.stdout.splitlines()[0])
    assert line["torrent"]["title"] == title  # exact, escapes decoded
    assert line["torrent"]["info_hash"] == info_hash
    assert line["query"] == {"query": "zorglub", "categories": [], "tmdb_id": None}
    assert line["path"] is None
    assert "token=" not in result.stdout
    assert not CONTROL.search(result.stdout)


def test_download_to_saves_each_release_and_a_failure_does_not_stop_the_watch(
    remote: ThreadedSandbox, args: list[str], stop_after: list[int], tmp_path: Path
) -> None:
    stop_after[0] = 2
    first = publish(remote, "Zorglub.One.2026")
    second = publish(remote, "Zorglub.Two.2026")
    # The first download fails: reported, and the watch goes on to save the second.
    remote.add_fault(Fault.error(404, "Torrent introuvable"), "download")
    folder = tmp_path / "torrents"
    result = invoke(
        [*args, "--json", "watch", "zorglub", "--include-existing", "--download-to", f"{folder}/"]
    )
    assert result.exit_code == 130
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["torrent"]["info_hash"] for line in lines] == [first, second]
    failed, saved = lines  # oldest first: the first one met the faults
    assert failed["path"] is None
    assert "Torrent introuvable" in failed["download_error"]
    assert "error: cannot save Zorglub.One.2026" in result.stderr
    assert parse_torrent(Path(saved["path"]).read_bytes()).info_hash == second
    assert [p.name for p in folder.iterdir()] == [Path(saved["path"]).name]


def test_download_to_a_missing_folder_is_refused_before_watching(
    args: list[str], tmp_path: Path
) -> None:
    result = invoke([*args, "watch", "zorglub", "--download-to", str(tmp_path / "nope")])
    assert result.exit_code == 12
    assert "end it with /" in error_lines(result)[0]


@pytest.mark.parametrize("where", ["a file", "under a file"])
def test_an_unusable_cache_folder_is_a_storage_error_naming_the_fix(
    args: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    afile = tmp_path / "afile"
    afile.write_text("")
    folder = afile if where == "a file" else afile / "sub"
    monkeypatch.setenv("LACALE_CACHE_DIR", str(folder))
    result = invoke([*args, "watch", "zorglub", "--interval", "60"])
    assert result.exit_code == 12
    line = error_lines(result)[0]
    assert str(folder) in line
    assert "LACALE_CACHE_DIR" in line
    assert "--state" in line
    assert "Errno" not in line


def test_exec_gets_the_fields_in_its_environment_and_no_shell(
    remote: ThreadedSandbox, args: list[str], stop_after: list[int], tmp_path: Path
) -> None:
    title = "Zorglub $(touch PWNED) `touch PWNED2`; touch PWNED3 'quoted' \"dq\""
    info_hash = publish(remote, title, size=4242)
    script = tmp_path / "hook.py"
    out = tmp_path / "env.json"
    script.write_text(
        "import json, os, sys\n"
        f"json.dump({{k: v for k, v in os.environ.items() if k.startswith('LACALE_')}}, "
        f"open({str(out)!r}, 'w'))\n"
        "print('hook ran for', os.environ['LACALE_TITLE'][:7])\n"
        "sys.exit(3)\n"
    )
    os.chdir(tmp_path)
    result = invoke(
        [*args, "watch", "zorglub", "--include-existing", "--exec", f"{sys.executable} {script}"],
        env={"LACALE_API_KEY": KEY},  # in the parent's environment: never passed on
    )
    assert result.exit_code == 130
    env = json.loads(out.read_text())
    assert env["LACALE_TITLE"] == title
    assert env["LACALE_INFO_HASH"] == info_hash
    assert env["LACALE_SIZE"] == "4242"
    assert env["LACALE_CATEGORY"] == "Films"
    assert env["LACALE_QUERY"] == "zorglub"
    assert env["LACALE_LINK"].endswith("/torrents/" + env["LACALE_LINK"].rsplit("/", 1)[1])
    assert "LACALE_API_KEY" not in env
    assert "token" not in json.dumps(env)
    assert not list(tmp_path.glob("PWNED*"))
    assert "hook ran for Zorglub" in result.stderr
    assert "exited with status 3" in result.stderr


def test_exec_of_a_missing_program_is_refused_before_watching(args: list[str]) -> None:
    result = invoke([*args, "watch", "zorglub", "--exec", "no-such-program-here --flag"])
    assert result.exit_code == 3
    assert "no program 'no-such-program-here'" in error_lines(result)[0]


def test_an_interval_over_the_budget_share_is_a_configuration_error(
    remote: ThreadedSandbox,
) -> None:
    # The default key budget (200 a day) applies to a tracker the CLI does not know.
    result = invoke(
        [
            "--base-url",
            remote.server.base_url,
            "--api-key",
            remote.server.api_key,
            "watch",
            "a",
            "b",
            "--interval",
            "60",
        ]
    )
    assert result.exit_code == 3
    (line,) = error_lines(result)
    assert "one every 1728 s (29 min) fits" in line
    assert "--interval" in line
    assert "--budget-share" in line
    assert "budget_share" not in line.replace("--budget-share", "")


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (["--interval", "5"], "--interval"),  # shorter than the search cache
        (["--interval", "-1"], "--interval"),
        (["--budget-share", "2"], "--budget-share"),
        (["--budget-share", "1e-320"], "--budget-share"),  # less than a search a year
    ],
)
def test_a_bad_watch_option_is_named_as_typed(args: list[str], option: str) -> None:
    result = invoke(["--sandbox", "watch", "dune", *args])
    assert result.exit_code in (2, 3), result.output
    assert option in result.stderr
    for python_name in ("interval=", "budget_share", "cache_ttl"):
        assert python_name not in result.stderr


def test_a_share_too_small_for_a_search_a_year_names_no_interval() -> None:
    # No --interval helps when the share leaves less than one search a year.
    result = invoke(["--sandbox", "watch", "dune", "--budget-share", "1e-320"])
    (line,) = error_lines(result)
    assert line.endswith(
        "less than one search a year each; raise --budget-share or watch fewer queries"
    )


def test_the_row_fits_the_width_and_names_the_query() -> None:
    event = event_of(
        title="Dune " * 40,
        size=2**33,
        seeders=12,
        download_link="https://la-cale.space/api/download/x?token=SECRET",
    )
    row = watch_row(event, 80, show_query=True)
    assert len(row) == 80
    assert row.endswith("…  [dune]")
    assert "SECRET" not in str(exec_env(event, None))


def test_exec_env_redacts_a_keyed_link_and_survives_a_malformed_hash() -> None:
    event = event_of(
        link="https://la-cale.space/api/torrents/download/x?apikey=SECRET-KEY-42",
        info_hash="not-a-hash",
    )
    env = exec_env(event, None)
    assert env["LACALE_LINK"] == "https://la-cale.space/api/torrents/download/x?apikey=***"
    assert env["LACALE_MAGNET"] == ""
    assert "\x1b" not in watch_row(event, 80, show_query=False)


def test_demo_titles_match_their_query() -> None:
    from lacale_async import SearchQuery
    from lacale_async.testing import normalise

    title = _watch.demo_title(SearchQuery("one piece"), 4)
    assert all(word in normalise(title) for word in ("one", "piece"))


def first_line_then_ctrl_c(command: list[str], env: dict[str, str]) -> tuple[str, int, str]:
    """Run ``command``, read its first line of output, send SIGINT; return line, code, stderr."""
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    ) as proc:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=30)
    return line, proc.returncode, stderr


def test_ctrl_c_stops_a_real_watch_and_its_state_holds(
    remote: ThreadedSandbox, args: list[str], tmp_path: Path
) -> None:
    first = publish(remote, "Zorglub.Real.2026")
    env = {k: v for k, v in os.environ.items() if not k.startswith("LACALE_")}
    env["LACALE_CACHE_DIR"] = str(tmp_path / "cache")
    command = [*ENTRY, *args, "--json", "watch", "zorglub", "--include-existing"]
    command += ["--state", str(tmp_path / "w.db")]
    line, code, stderr = first_line_then_ctrl_c(command, env)
    assert json.loads(line)["torrent"]["info_hash"] == first
    assert code == 130, stderr
    assert "Traceback" not in stderr
    assert stderr.strip().splitlines()[-1] == "interrupted: 1 new release announced"
    # Restarted on the same state: the first release is not announced again (the first line
    # is the new one, although both are listed).
    second = publish(remote, "Zorglub.Later.2026")
    line, code, _ = first_line_then_ctrl_c(command, env)
    assert json.loads(line)["torrent"]["info_hash"] == second
    assert code == 130


def dripping_sandbox(tmp_path: Path, every: float) -> subprocess.Popen[str]:
    """Start ``lacale sandbox --drip EVERY`` on a free port, with a cache of its own."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LACALE_")}
    env["LACALE_CACHE_DIR"] = str(tmp_path / "cache")
    return subprocess.Popen(
        [*ENTRY, "sandbox", "--port", "0", "--drip", str(every)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def test_the_sandbox_drips_releases_and_prints_them(tmp_path: Path) -> None:
    with dripping_sandbox(tmp_path, 0.2) as proc:
        assert proc.stdout is not None
        lines: list[str] = []
        while len([x for x in lines if x.startswith("published: ")]) < 2:
            lines.append(proc.stdout.readline())
            assert proc.poll() is None, "the sandbox exited"
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=30)
    assert "publishing a new release every 0.2 s\n" in lines
    published = [x for x in lines if x.startswith("published: ")]
    assert all(len(x.split()[-1]) == 12 for x in published)
    assert proc.returncode == 130


def test_a_dripping_sandbox_whose_reader_went_away_stops_with_141(tmp_path: Path) -> None:
    # 'lacale sandbox --drip S | head -1': the first release that cannot be printed ended
    # the drip alone; the server then served on, publishing nothing, until Ctrl-C.
    with dripping_sandbox(tmp_path, 0.05) as proc:
        assert proc.stdout is not None
        assert proc.stdout.readline().startswith("La Cale sandbox listening on ")
        proc.stdout.close()
        try:
            _, err = proc.communicate(timeout=30)
        finally:
            proc.kill()
    assert proc.returncode == 141
    assert err == ""


async def test_the_embedded_demo_publishes_releases_the_queries_find(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from lacale_async import SearchQuery
    from lacale_async.testing import SandboxServer, normalise

    monkeypatch.setattr(_watch, "DEMO_DRIP", 0.01)
    queries = [SearchQuery("dune"), SearchQuery("one piece", ("series",))]
    config, hook = _watch._demo(queries)
    assert [(b.calls, b.period) for b in config.key_budget_limits] == [(60, 60.0), (200, 3600.0)]
    async with SandboxServer(config) as server:
        before = len(server.catalogue)
        async with hook(server):
            await asyncio.sleep(0.3)  # about 30 drips: only their order and titles matter
        new = list(server.catalogue)[before:]
    assert len(new) >= 4
    assert "dune" in normalise(new[0].title)
    assert "one piece" in normalise(new[1].title)
    assert new[1].category.slug == "series"


async def leave_in_outbox(remote: ThreadedSandbox, state: Path) -> None:
    """Run the SDK's watch of ``zorglub`` on ``state`` and stop after its first event."""
    server = remote.server
    options: Any = {"base_url": server.base_url, "quota_store": None, "key_rate": None}
    async with LaCaleClient(server.api_key, **options) as client:
        watch = client.watch("zorglub", state=state, include_existing=True, interval=900)
        async with aclosing(watch) as events:
            async for _ in events:
                break


def test_a_damaged_state_row_is_a_storage_error_without_a_traceback(
    remote: ThreadedSandbox, args: list[str], tmp_path: Path
) -> None:
    publish(remote, "Zorglub.One.2026")
    publish(remote, "Zorglub.Two.2026")
    state = tmp_path / "w.db"
    command = [*args, "watch", "zorglub", "--include-existing", "--state", str(state)]
    asyncio.run(leave_in_outbox(remote, state))  # one delivered, one left in the outbox
    with sqlite3.connect(state) as conn:
        conn.execute("UPDATE pending SET seen_at = 'yesterday'")
    conn.close()
    result = invoke(command)  # invoke() fails on a traceback
    assert result.exit_code == 12
    line = error_lines(result)[0]
    assert f"the watch state {state} is damaged" in line
    assert "Move it away" in line
    with sqlite3.connect(state) as conn:
        assert conn.execute("SELECT count(*) FROM pending").fetchone()[0] == 1
    conn.close()


def test_a_save_that_failed_for_a_transient_reason_is_retried_after_a_restart(
    remote: ThreadedSandbox, args: list[str], stop_after: list[int], tmp_path: Path
) -> None:
    info_hash = publish(remote, "Zorglub.Outage.2026")
    remote.add_fault(Fault.cloudflare(521), "download", times=None)  # an outage
    folder, marker = tmp_path / "torrents", tmp_path / "ran"
    command = [*args, "watch", "zorglub", "--include-existing", "--state", str(tmp_path / "w.db")]
    command += ["--download-to", f"{folder}/", "--exec", f"touch {marker}"]
    first = invoke(command)
    assert first.exit_code == 130
    assert "trying again at the next round" in error_lines(first)[0]
    assert list(folder.iterdir()) == []
    assert not marker.exists()  # --exec waits for the save

    async def outage_over() -> None:
        remote.server.faults.clear()

    remote.call(outage_over())  # the same release is saved by the restarted watch
    second = invoke(command)
    assert second.exit_code == 130
    (saved,) = folder.iterdir()
    assert parse_torrent(saved.read_bytes()).info_hash == info_hash
    assert marker.exists()
    assert info_hash[:12] in second.stdout


def test_ctrl_c_during_a_save_keeps_the_release_for_the_next_start(
    remote: ThreadedSandbox,
    args: list[str],
    stop_after: list[int],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    info_hash = publish(remote, "Zorglub.Cut.2026")
    save = LaCaleClient.download_to

    async def cut_off(*_: Any, **__: Any) -> Path:
        signal.raise_signal(signal.SIGINT)  # Ctrl-C while the .torrent downloads
        await asyncio.Event().wait()
        raise AssertionError("not cancelled")

    monkeypatch.setattr(LaCaleClient, "download_to", cut_off)
    folder = tmp_path / "torrents"
    command = [*args, "watch", "zorglub", "--include-existing", "--state", str(tmp_path / "w.db")]
    command += ["--download-to", f"{folder}/"]
    first = invoke(command)
    assert first.exit_code == 130
    assert info_hash[:12] in first.stdout
    # The row was printed: it counts, although its save was cut off.
    assert first.stderr.strip().splitlines()[-1] == "interrupted: 1 new release announced"
    monkeypatch.setattr(LaCaleClient, "download_to", save)
    second = invoke(command)
    (saved,) = folder.iterdir()
    assert parse_torrent(saved.read_bytes()).info_hash == info_hash
    assert second.exit_code == 130


def test_a_release_already_in_the_folder_is_named_without_the_folder_s_escapes(
    remote: ThreadedSandbox, args: list[str], stop_after: list[int], tmp_path: Path
) -> None:
    publish(remote, "Zorglub.Seen.2026")
    folder = tmp_path / "w\x1b]0;PWNED\x07"
    command = [*args, "watch", "zorglub", "--include-existing", "--download-to", f"{folder}/"]
    assert invoke([*command, "--state", str(tmp_path / "one")]).exit_code == 130
    # A state of its own: the same release again, its file already in the folder.
    again = invoke([*command, "--state", str(tmp_path / "two")])
    assert again.exit_code == 130
    assert f"note: not saved, already in {tmp_path}/w: Zorglub.Seen.2026" in again.stderr
    assert not CONTROL.search(again.stderr)


@pytest.mark.parametrize("as_json", [False, True])
async def test_a_save_tried_again_prints_its_release_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], as_json: bool
) -> None:
    # Regression: each retry of a save that failed for a transient reason printed the
    # release's row (or JSON line) again: four lines for one release after three 503s.
    clock = FakeClock(1000.0)
    folder = tmp_path / "w"
    folder.mkdir()
    config = SandboxConfig(clock=clock, wall_clock=clock.wall, key_budget=())
    async with SandboxServer(config) as sandbox:
        sandbox.publish("Zorglub.001.2026.MULTi.1080p.WEB-DL-LACALE", delay=100)
        sandbox.faults.add(Fault.error(503), endpoint="download", times=12)
        actions = Actions(
            folder=folder, command=None, timeout=10, as_json=as_json, width=120, show_query=False
        )
        replies: list[Delivery] = []
        async with sandbox.client(clock=clock, max_retry_wait=1) as client:
            watch = client.watch("zorglub", interval=60, state=tmp_path / "w.db")
            async with aclosing(watch) as events:
                reply: Delivery | None = None
                while reply is not Delivery.DONE:
                    reply = await actions.handle(client, await events.asend(reply))
                    replies.append(reply)
    assert len(replies) > 1  # the save failed at least once before it worked
    assert set(replies[:-1]) == {Delivery.LATER}
    out = capsys.readouterr().out.splitlines()
    assert len([line for line in out if "Zorglub.001" in line]) == 1
    assert actions.count == 1
    if as_json:
        assert json.loads(out[-1])["path"] is not None  # the one line tells the final outcome


# A key that URL-quoting changes, so a title can hold it in both spellings.
ODD_KEY = "lcsb_Odd+Key/With=Chars&0f9e8d7c"
ODD_QUOTED = quote(ODD_KEY, safe="")


@pytest.fixture(scope="module")
def odd() -> Iterator[ThreadedSandbox]:
    yield from running(SandboxConfig(seed=0, key_budget=(), cache_ttl=0, api_key=ODD_KEY))


@pytest.fixture
def odd_args(odd: ThreadedSandbox) -> Iterator[list[str]]:
    yield from args_of(odd)


@pytest.mark.parametrize("as_json", [False, True])
def test_a_key_echoed_in_a_title_is_masked_in_the_watch_line(
    odd: ThreadedSandbox, odd_args: list[str], stop_after: list[int], as_json: bool
) -> None:
    publish(odd, f"Zorglub.{ODD_KEY}.{ODD_QUOTED}.2026")
    result = invoke(
        [*odd_args, *(["--json"] if as_json else []), "watch", "zorglub", "--include-existing"]
    )
    assert result.exit_code == 130
    for text in (result.stdout, result.stderr):
        assert ODD_KEY not in text
        assert ODD_QUOTED.lower() not in text.lower()
    line = result.stdout.splitlines()[0]
    title = json.loads(line)["torrent"]["title"] if as_json else line
    assert "Zorglub.***.***.2026" in title


def test_a_key_echoed_in_a_title_is_masked_in_the_exec_environment() -> None:
    event = event_of(title=f"Dune {ODD_KEY} {ODD_QUOTED}", category=f"Films {ODD_QUOTED}")
    env = exec_env(event, None, (ODD_KEY,))
    assert env["LACALE_TITLE"] == "Dune *** ***"
    assert env["LACALE_CATEGORY"] == "Films ***"
    row = watch_row(event, 80, show_query=False, secrets=(ODD_KEY,))
    assert row.endswith("  Dune *** ***")


def test_the_exec_environment_and_file_hold_no_key_and_the_file_exists(
    odd: ThreadedSandbox, odd_args: list[str], stop_after: list[int], tmp_path: Path
) -> None:
    # Quoted: a torrent's file name cannot hold the raw key's "/" (the sandbox writes "-").
    publish(odd, f"Zorglub.{ODD_QUOTED}.2026")
    script = tmp_path / "hook.py"
    out = tmp_path / "env.json"
    script.write_text(
        "import json, os\n"
        "env = {k: v for k, v in os.environ.items() if k.startswith('LACALE_')}\n"
        "env['exists'] = os.path.isfile(env['LACALE_FILE'])\n"
        f"json.dump(env, open({str(out)!r}, 'w'))\n"
    )
    folder = tmp_path / "d"
    hook = ["--download-to", f"{folder}/", "--exec", f"{sys.executable} {script}"]
    result = invoke([*odd_args, "--json", "watch", "zorglub", "--include-existing", *hook])
    assert result.exit_code == 130, result.stderr
    env = json.loads(out.read_text())
    assert_no_window(json.dumps(env), ODD_KEY)
    assert_no_window(" ".join(p.name for p in folder.iterdir()), ODD_KEY)
    assert env["exists"] is True
    assert env["LACALE_FILE"] == json.loads(result.stdout.splitlines()[0])["path"]
    assert env["LACALE_QUERY"] == "zorglub"
    assert "dn=Zorglub.%2A%2A%2A.2026" in env["LACALE_MAGNET"]


def test_exec_env_masks_a_link_with_the_raw_key_and_keeps_user_input_and_hashes() -> None:
    digits = "2021" + ODD_KEY[4:]
    info_hash = "c" * 36 + "2021"
    event = event_of(
        query="dune 2021",
        title="Dune 2021",
        guid="guid-2021",
        link=f"https://la-cale.space/dl?apikey={digits}&x=1",
        info_hash=info_hash,
    )
    env = exec_env(event, Path("/tmp/dl/Dune 2021.torrent"), (digits,))
    assert_no_window(env["LACALE_LINK"], digits)
    assert env["LACALE_LINK"] == "https://la-cale.space/dl?apikey=***&x=1"
    assert env["LACALE_QUERY"] == "dune 2021"
    assert env["LACALE_TITLE"] == "Dune 2021"
    assert env["LACALE_INFO_HASH"] == info_hash
    assert env["LACALE_GUID"] == "guid-2021"
    assert env["LACALE_FILE"] == "/tmp/dl/Dune 2021.torrent"


async def test_a_hook_printing_the_key_across_the_output_cut_shows_none_of_it(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Regression: the hook's output was cut to its last 4,000 characters, then masked: a key
    # that began before the cut kept its tail, which no mask recognises alone.
    printed = ODD_KEY + "y" * 3990  # the cut falls 10 characters before the key's end
    code = f"import sys; sys.stdout.write({printed!r})"
    actions = Actions(
        folder=None,
        command=[sys.executable, "-c", code],
        timeout=30,
        as_json=False,
        width=120,
        show_query=False,
        secrets=(ODD_KEY,),
    )
    event = event_of()
    client = LaCaleClient(api_key=ODD_KEY)
    assert await actions.handle(client, event) is Delivery.DONE
    err = capsys.readouterr().err
    assert "y" * 3990 in err  # the hook's output is shown
    assert ODD_KEY[-10:] not in err
