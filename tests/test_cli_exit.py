"""The command's exit codes and its one-line error text (``_cli._exit``), tested directly."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

import lacale_async as la
from lacale_async._cli._exit import (
    CLI_HINTS,
    EXIT_CODES,
    EXIT_OTHER,
    EXIT_USAGE,
    error_line,
    error_text,
    exit_code,
)
from lacale_async._wording import Names, Worded

_AT = datetime(2026, 1, 1, tzinfo=timezone.utc)


class _Subclassed(la.ConflictError):
    """An error class the table does not list: it takes its nearest parent's code."""


def test_a_class_the_table_does_not_list_takes_its_nearest_parents_code() -> None:
    assert exit_code(_Subclassed("dup")) == exit_code(la.ConflictError("dup")) == 7
    assert exit_code(la.QuotaExceededError("spent", retry_after=1.0, retry_at=_AT)) == 8
    assert exit_code(la.LaCaleError("other")) == EXIT_OTHER


def test_an_option_gets_the_commands_hint_instead_of_the_python_one() -> None:
    error = la.DestinationExistsError(
        "x.torrent exists", option="overwrite", hint="pass overwrite=True"
    )
    assert error_text(error) == f"x.torrent exists; {CLI_HINTS['overwrite']}"
    assert "overwrite=True" not in error_text(error)


def test_an_unknown_option_keeps_the_sdks_own_message() -> None:
    error = la.ValidationError("bad", option="not_a_cli_option", hint="pass x=1")
    assert error_text(error) == "bad; pass x=1"


def _spent(names: Names) -> str:
    return f"spent; lower {names.name('key_rate')}"


def test_a_wording_is_written_with_the_commands_names() -> None:
    wording = Worded(_spent)
    error = la.QuotaExceededError(str(wording), wording=wording, retry_after=1.0, retry_at=_AT)
    assert str(error) == "spent; lower key_rate"
    assert error_text(error) == "spent; lower LACALE_KEY_RATE"


def test_a_refused_connection_says_what_to_check() -> None:
    text = error_text(la.ConnectError("cannot connect to 127.0.0.1:9"))
    assert text.startswith("cannot connect to 127.0.0.1:9; is the tracker reachable")
    assert "--base-url" in text


def test_a_missing_nfo_names_the_option_that_fixes_it() -> None:
    refused = la.BadRequestError("400", status=400, server_message="nfoFile is required")
    assert error_text(refused) == "400; pass the release's NFO with --nfo FILE"


@pytest.mark.parametrize(
    ("server_text", "shown"),
    [
        ("red \x1b[31mALERT\x1b[0m done", "red ALERT done"),
        ("title\x1b]0;pwned\x07 ok", "title ok"),
        ("line one\n\tline two\r\n", "line one line two"),
        ("bell\x07 and nul\x00", "bell and nul"),
    ],
)
def test_text_from_the_network_reaches_the_terminal_without_control_characters(
    server_text: str, shown: str
) -> None:
    assert error_text(la.ServerError(server_text, status=500)) == shown


def test_secrets_are_masked_and_an_empty_secret_masks_nothing() -> None:
    error = la.AuthenticationError("key sekrit-key-0123 refused", status=401)
    assert error_text(error, ("sekrit-key-0123", "")) == "key *** refused"
    assert error_line(error, ("sekrit-key-0123",)) == "error: key *** refused"


def test_an_empty_message_shows_the_class_name() -> None:
    assert error_text(la.ResponseError("")) == "ResponseError"
    assert error_text(la.ResponseError("\x1b[0m \n")) == "ResponseError"


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (la.ConfigurationError("no key"), 3),
        (la.ValidationError("bad"), 4),
        (la.BadRequestError("400", status=400), 4),
        (la.AuthenticationError("401", status=401), 5),
        (la.PermissionDeniedError("403", status=403), 5),
        (la.NotFoundError("404", status=404), 6),
        (la.ServerError("500", status=500), 9),
        (la.TransportError("reset"), 10),
        (la.ConnectError("refused"), 10),
        (la.ResponseError("html"), 11),
        (la.StorageError("disk full"), 12),
    ],
    ids=lambda v: type(v).__name__ if isinstance(v, Exception) else str(v),
)
def test_each_failure_class_has_its_own_exit_code(error: la.LaCaleError, code: int) -> None:
    assert exit_code(error) == code


def test_the_usage_code_is_clicks_and_no_error_class_takes_it() -> None:
    assert EXIT_USAGE == 2
    assert EXIT_USAGE not in EXIT_CODES.values()


def test_secrets_are_masked_in_a_hint_and_in_a_wording() -> None:
    hinted = la.DestinationExistsError(
        "/k/sekrit-key-0123.torrent exists", option="overwrite", hint="pass overwrite=True"
    )
    assert error_text(hinted, ("sekrit-key-0123",)) == (
        f"/k/***.torrent exists; {CLI_HINTS['overwrite']}"
    )
    wording = Worded(lambda names: f"key sekrit-key-0123 spent; lower {names.name('key_rate')}")
    spent = la.QuotaExceededError(str(wording), wording=wording, retry_after=1.0, retry_at=_AT)
    assert error_text(spent, ("sekrit-key-0123",)) == "key *** spent; lower LACALE_KEY_RATE"
    refused = la.ConnectError("cannot connect to sekrit-key-0123.test")
    assert error_text(refused, ("sekrit-key-0123",)).startswith("cannot connect to ***.test; ")
