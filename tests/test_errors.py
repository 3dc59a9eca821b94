"""The error tree and the status table."""

from __future__ import annotations

import pytest

import lacale_async as la
from lacale_async._errors import STATUS_ERRORS, error_for_status, redact_url


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, la.BadRequestError),
        (401, la.AuthenticationError),
        (403, la.PermissionDeniedError),
        (404, la.NotFoundError),
        (409, la.ConflictError),
        (422, la.BadRequestError),
        (429, la.RateLimitError),
        (500, la.ServerError),
        (503, la.ServerError),
        (520, la.ServerError),
        (521, la.ServerError),
        (524, la.ServerError),
        (418, la.APIError),
        (302, la.APIError),
    ],
)
def test_status_table(status: int, cls: type[la.APIError]) -> None:
    assert error_for_status(status) is cls


def test_the_table_is_the_single_source() -> None:
    assert all(issubclass(cls, la.APIError) for cls in STATUS_ERRORS.values())


def test_input_errors_are_value_errors() -> None:
    for cls in (la.ValidationError, la.InvalidTorrentError, la.ConfigurationError):
        assert issubclass(cls, ValueError)
        assert issubclass(cls, la.LaCaleError)
    assert issubclass(la.DestinationExistsError, FileExistsError)
    assert issubclass(la.ClientStateError, RuntimeError)
    assert issubclass(la.ConnectError, la.TransportError)
    assert issubclass(la.RequestTimeoutError, la.TransportError)
    assert issubclass(la.UploadRejectedError, la.ResponseError)
    assert issubclass(la.IntegrityError, la.ResponseError)


def test_attributes() -> None:
    err = la.RateLimitError("slow", retry_after=3.0, url="https://x/api?apikey=SECRET&q=1")
    assert err.status == 429
    assert err.retry_after == 3.0
    assert "SECRET" not in err.url
    conflict = la.ConflictError("dup", info_hash="ab" * 20)
    assert conflict.status == 409
    assert conflict.info_hash == "ab" * 20
    assert str(conflict) == "dup"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://x/a?apikey=abc&q=1", "https://x/a?apikey=***&q=1"),
        ("https://x/a?q=1&passkey=abc", "https://x/a?q=1&passkey=***"),
        ("https://x/a?APIKEY=abc#f", "https://x/a?APIKEY=***#f"),
        ("https://x/a?q=apikey", "https://x/a?q=apikey"),
        # Any name ending like a credential's, and an HTML page's "&amp;" before it.
        ("https://x/a?access_token=abc", "https://x/a?access_token=***"),
        ("https://x/a?q=1&amp;apikey=abc", "https://x/a?q=1&amp;apikey=***"),
        ("https://x/a?X-Api-Key=abc&q=1", "https://x/a?X-Api-Key=***&q=1"),
        ("https://x/a?q=1;session_key=abc", "https://x/a?q=1;session_key=***"),
        ("https://x/a?q=token&p=2", "https://x/a?q=token&p=2"),
    ],
)
def test_redact_url(url: str, expected: str) -> None:
    assert redact_url(url) == expected


def test_a_wording_reaches_every_api_error_through_one_keyword() -> None:
    from datetime import datetime, timezone

    from lacale_async._wording import Names, Worded

    def text(names: Names) -> str:
        return f"lower {names.name('key_rate')}"

    wording = Worded(text)
    spent = la.QuotaExceededError(
        str(wording),
        wording=wording,
        retry_after=5.0,
        retry_at=datetime(2026, 1, 1, tzinfo=timezone.utc),
        url="https://x/api?apikey=SECRET",
    )
    assert spent.wording is wording
    assert (spent.status, spent.retry_after, str(spent)) == (429, 5.0, "lower key_rate")
    assert "SECRET" not in spent.url
    assert la.ConflictError("dup", wording=wording).wording is wording
    assert la.APIError("x", status=418).wording is None
