"""What the CLI keeps between runs: the embedded sandbox's uploads, the meta for completion."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from _cli import SANDBOX, error_lines, invoke, make_nfo, make_torrent
from click.shell_completion import ShellComplete

from lacale_async import parse_torrent
from lacale_async._cli._commands import cli


def _nfo(folder: Path) -> list[str]:
    """The embedded sandbox answers like the live tracker, which wants an NFO with an upload."""
    return ["--nfo", str(make_nfo(folder))]


@pytest.fixture(autouse=True)
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv("LACALE_CACHE_DIR", str(folder))
    return folder


def test_an_upload_to_the_embedded_sandbox_can_be_downloaded_by_the_next_command(
    tmp_path: Path,
) -> None:
    path = make_torrent(tmp_path, source="lacale")
    info_hash = parse_torrent(path.read_bytes()).info_hash
    up = invoke([*SANDBOX, "upload", str(path), "--category", "films", *_nfo(tmp_path)])
    assert up.exit_code == 0, up.stderr
    down = invoke([*SANDBOX, "download", info_hash, "-o", f"{tmp_path}/out/"])
    assert down.exit_code == 0, down.stderr
    assert Path(down.stdout.strip()).read_bytes() == path.read_bytes()
    found = json.loads(invoke([*SANDBOX, "--json", "search", "Mon Film"]).stdout)
    assert info_hash in {t["info_hash"] for t in found}
    again = invoke([*SANDBOX, "upload", str(path), "--category", "films", *_nfo(tmp_path)])
    assert again.exit_code == 7, "the next sandbox knows it: a duplicate"


def test_sandbox_reset_forgets_the_uploads(tmp_path: Path, cache: Path) -> None:
    path = make_torrent(tmp_path, source="lacale")
    info_hash = parse_torrent(path.read_bytes()).info_hash
    assert (
        invoke([*SANDBOX, "upload", str(path), "--category", "films", *_nfo(tmp_path)]).exit_code
        == 0
    )
    reset = invoke(["sandbox", "--reset"])
    assert reset.exit_code == 0, reset.stderr
    assert "1 upload forgotten" in reset.stdout
    assert not (cache / "sandbox").exists()
    gone = invoke([*SANDBOX, "download", info_hash, "-o", str(tmp_path)])
    assert gone.exit_code == 6
    assert "0 uploads forgotten" in invoke(["sandbox", "--reset"]).stdout


def test_a_corrupt_state_file_is_ignored(tmp_path: Path, cache: Path) -> None:
    (cache / "sandbox").mkdir(parents=True)
    (cache / "sandbox" / "uploads.json").write_bytes(b"{not json")
    result = invoke([*SANDBOX, "search", "amelie"])
    assert result.exit_code == 0, result.stderr
    assert not error_lines(result)


def test_an_unwritable_cache_never_fails_a_command(tmp_path: Path, cache: Path) -> None:
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_text("a file where the folder should be")
    result = invoke([*SANDBOX, "search", "amelie"])
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""


def _complete(args: list[str], incomplete: str) -> list[str]:
    completer = ShellComplete(cli, {}, "lacale", "_LACALE_COMPLETE")
    return [item.value for item in completer.get_completions(args, incomplete)]


def test_completion_offers_slugs_from_the_cached_meta_only() -> None:
    assert _complete(["search", "--cat"], "fi") == [], "nothing cached: nothing offered"
    assert invoke([*SANDBOX, "meta"]).exit_code == 0
    assert "films" in _complete(["search", "--cat"], "fi")
    assert "films" in _complete(["bulk", "--cat"], "")
    assert "films" in _complete(["upload", "x.torrent", "--category"], "f")
    assert "vostfr" in _complete(["upload", "x.torrent", "--tag"], "vo")


def test_an_upload_that_fetched_meta_keeps_it_for_completion(tmp_path: Path) -> None:
    path = make_torrent(tmp_path)
    result = invoke([*SANDBOX, "upload", str(path), "--category", "films", "--tag", "nope"])
    assert result.exit_code == 4
    assert "list them with 'lacale meta'" in result.stderr
    assert "client.meta()" not in result.stderr
    assert "vostfr" in _complete(["upload", "x.torrent", "--tag"], "vo")


def test_completion_sends_no_request(tmp_path: Path) -> None:
    # A real shell asks through the environment variable: the answer comes from the cache
    # even with a tracker given that nothing answers for.
    assert invoke([*SANDBOX, "meta"]).exit_code == 0
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("LACALE_")},
        "LACALE_CACHE_DIR": os.environ["LACALE_CACHE_DIR"],
        "_LACALE_COMPLETE": "bash_complete",
        "COMP_WORDS": "lacale --base-url http://127.0.0.1:9 --api-key k search --cat fi",
        "COMP_CWORD": "7",
    }
    code = "import _lacale_async_cli, sys; sys.argv[0] = 'lacale'; _lacale_async_cli.main()"
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=20
    )
    assert done.returncode == 0, done.stderr
    assert "plain,films" in done.stdout.splitlines()
