"""Global options before or after the subcommand, from one definition; readable --help."""

from __future__ import annotations

import functools
import json
from typing import Any

import pytest
from _cli import KEY, ThreadedSandbox, error_lines, invoke

from lacale_async import LaCaleClient
from lacale_async._cli._commands import COMMANDS, cli
from lacale_async._cli._options import GLOBAL_OPTIONS
from lacale_async.testing import Fault

pytest_plugins = ["_cli"]  # fixtures: remote, remote_args


@pytest.mark.parametrize(
    "args",
    [
        ["--json", "--sandbox", "search", "amelie"],
        ["search", "amelie", "--json", "--sandbox"],
        ["--sandbox", "search", "--json", "amelie"],
        ["search", "--json", "amelie", "--sandbox"],
    ],
)
def test_json_and_sandbox_are_accepted_anywhere(args: list[str]) -> None:
    result = invoke(args)
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)
    assert result.stderr == ""


def test_key_and_base_url_after_the_command(remote: ThreadedSandbox) -> None:
    server = remote.server
    after = invoke(["meta", "--json", "--base-url", server.base_url, "--api-key", server.api_key])
    assert after.exit_code == 0, after.stderr
    assert "categories" in json.loads(after.stdout)
    # -v after the command logs too; a bad key after the command is the one used.
    bad = invoke(["search", "x", "-v", "--base-url", server.base_url, "--api-key", KEY])
    assert bad.exit_code == 5
    assert "DEBUG" in bad.stderr


def test_a_value_typed_after_the_command_wins(
    remote: ThreadedSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[float] = []
    real = LaCaleClient.__init__

    def spy(self: LaCaleClient, *args: Any, **kwargs: Any) -> None:
        seen.append(kwargs["timeout"])
        real(self, *args, **kwargs)

    monkeypatch.setattr(LaCaleClient, "__init__", spy)
    server = remote.server
    env = {"LACALE_API_KEY": KEY}  # the environment loses to a key typed on the line
    result = invoke(
        ["--timeout", "5", "--base-url", server.base_url, "search", "x",
         "--api-key", server.api_key, "--timeout", "7"],
        env=env,
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert seen == [7.0]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c.name or "")
def test_every_command_takes_every_global_option(command: Any) -> None:
    names = {opt for p in command.params for opt in getattr(p, "opts", [])}
    for spec in GLOBAL_OPTIONS:
        flags = [d for d in spec.decls if d.startswith("-")]
        assert set(flags) <= names, f"{command.name} lacks {flags}"


def test_commands_are_all_registered_in_one_place() -> None:
    assert list(cli.commands.values()) == list(COMMANDS)


def test_help_lists_global_options_once_and_names_them_per_command() -> None:
    top = invoke(["--help"])
    assert top.exit_code == 0
    assert "Global options (before or after the command)" in top.stdout
    assert top.stdout.count("--allow-insecure-http") == 1
    listed = [line.split()[0] for line in top.stdout.split("Commands:")[1].splitlines() if line]
    assert listed[: len(COMMANDS)] == [c.name for c in COMMANDS]
    sub = invoke(["search", "--help"])
    assert sub.exit_code == 0
    own, shared = sub.stdout.split("Global options")
    assert "--cat SLUG" in own
    assert "--json" not in own
    assert "--json" in shared
    assert len(shared.splitlines()) <= 4, "one short list, not the whole table again"
    assert invoke(["search", "--json", "--help"]).exit_code == 0


def test_unquoted_words_are_one_query() -> None:
    result = invoke(["--sandbox", "--json", "search", "breaking", "bad"])
    assert result.exit_code == 0, result.stderr
    titles = [t["title"] for t in json.loads(result.stdout)]
    assert titles
    assert all("breaking" in t.lower() and "bad" in t.lower() for t in titles)
    quoted = invoke(["--sandbox", "--json", "search", "breaking bad"])
    hashes = [t["info_hash"] for t in json.loads(result.stdout)]
    assert [t["info_hash"] for t in json.loads(quoted.stdout)] == hashes


@pytest.fixture
def no_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    # The point is the option, not the backoff between retries.
    monkeypatch.setattr(
        "lacale_async._cli._session.LaCaleClient", functools.partial(LaCaleClient, max_retries=0)
    )


@pytest.mark.usefixtures("no_retries")
def test_timeout_ends_a_stalled_request(remote: ThreadedSandbox, remote_args: list[str]) -> None:
    remote.add_fault(Fault.slow(10.0), "meta", times=None)
    result = invoke([*remote_args, "meta", "--timeout", "0.2"])
    assert result.exit_code == 10
    assert len(error_lines(result)) == 1
    assert "0.2" in result.stderr
    refused = invoke([*remote_args, "meta", "--timeout", "0"])
    assert refused.exit_code == 2


@pytest.mark.usefixtures("no_retries")
def test_allow_insecure_http_is_a_global_option_and_named_in_the_hint() -> None:
    refused = invoke(["--base-url", "http://tracker.invalid", "--api-key", KEY, "meta"])
    assert refused.exit_code == 3
    assert "--allow-insecure-http" in refused.stderr
    assert "allow_insecure_http" not in refused.stderr
    # Accepted, then the request itself fails (nothing listens there).
    allowed = invoke(
        ["meta", "--base-url", "http://127.0.0.1:9", "--api-key", KEY, "--allow-insecure-http",
         "--timeout", "1"]
    )  # fmt: skip
    assert allowed.exit_code == 10


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "NaN"])
@pytest.mark.parametrize(
    "args",
    [
        ["search", "dune", "--timeout"],
        ["watch", "dune", "--interval"],
        ["watch", "dune", "--budget-share"],
        # Passed, then crashed the watch at its first release (anyio: deadline must not be NaN).
        ["watch", "dune", "--exec", "true", "--exec-timeout"],
        # Passed, printed "every nan s", served on, and failed only at Ctrl-C.
        ["sandbox", "--port", "0", "--drip"],
    ],
)
def test_a_seconds_option_refuses_nan_and_infinity_as_a_usage_error(
    args: list[str], value: str
) -> None:
    result = invoke([*args, value])
    assert result.exit_code == 2, result.stderr
    assert "is not a finite number" in result.stderr or "is not in the range" in result.stderr
    assert "note:" not in result.stderr  # refused while parsing: no sandbox, nothing sent


def test_a_drip_longer_than_the_sandbox_takes_is_refused_before_it_serves() -> None:
    result = invoke(["sandbox", "--port", "0", "--drip", "1e308"])
    assert result.exit_code == 2, result.stderr
    assert "listening" not in result.stdout
