"""Failures: what each aiohttp failure is called in the transport's errors, without the key."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest
from aiohttp.client_reqrep import ConnectionKey
from aiohttp.http_exceptions import BadHttpMessage, ContentEncodingError, TransferEncodingError
from yarl import URL

import lacale_async as la
from lacale_async._failures import Failures

KEY = "K3Y-secret-value-42"
FAILURES = Failures(URL("https://tracker.test"), 2.0, 4.0)


def scrub(text: str) -> str:
    return text.replace(KEY, "***")


def describe(exc: BaseException) -> la.TransportError:
    return FAILURES.describe(exc, "GET", "/api/external", scrub)


def caused(exc: BaseException, cause: BaseException) -> BaseException:
    exc.__cause__ = cause
    return exc


def test_no_connection_names_the_origin_and_the_os_error() -> None:
    key = ConnectionKey("tracker.test", 443, True, True, None, None, None)
    error = describe(aiohttp.ClientConnectorError(key, OSError(111, f"refused {KEY}")))
    assert isinstance(error, la.ConnectError)
    assert str(error).startswith("cannot connect to https://tracker.test: ")
    assert KEY not in str(error)
    error = describe(aiohttp.ConnectionTimeoutError())
    assert isinstance(error, la.ConnectError)
    assert "no connection within 2 s" in str(error)


@pytest.mark.parametrize("exc", [asyncio.TimeoutError(), aiohttp.ServerTimeoutError()])
def test_a_timeout_names_the_whole_request_s_limit(exc: BaseException) -> None:
    error = describe(exc)
    assert isinstance(error, la.RequestTimeoutError)
    assert str(error) == "GET /api/external did not complete within 4 s"


def test_a_head_aiohttp_cannot_parse_is_one_line_without_aiohttp_s_own_400() -> None:
    parser = BadHttpMessage(f"Invalid header value char {KEY}")
    exc = caused(aiohttp.ClientResponseError(None, (), status=400, message=parser.message), parser)  # type: ignore[arg-type]
    error = describe(exc)
    assert type(error) is la.TransportError
    text = str(error)
    assert text.startswith("GET /api/external failed: the answer is not valid HTTP: ")
    assert "\n" not in text
    assert "400" not in text
    assert KEY not in text


def test_a_body_cut_short_or_badly_framed_says_so_on_one_line() -> None:
    framing = TransferEncodingError("Not enough data to satisfy transfer length header.\n    ^")
    error = describe(
        caused(aiohttp.ClientPayloadError("Response payload is not completed"), framing)
    )
    text = str(error)
    assert text.startswith("GET /api/external: the response body was cut short (")
    assert "\n" not in text
    assert "^" not in text


def test_a_body_that_cannot_be_decoded_says_so() -> None:
    bad = ContentEncodingError("Can not decode content-encoding: gzip")
    error = describe(caused(aiohttp.ClientPayloadError("payload"), bad))
    assert str(error).startswith("GET /api/external: the response body could not be decoded (")
    assert "gzip" in str(error)


def test_any_other_failure_is_named_and_scrubbed() -> None:
    error = describe(aiohttp.ServerDisconnectedError(f"closed {KEY}"))
    assert type(error) is la.TransportError
    assert str(error).startswith("GET /api/external failed: ")
    assert KEY not in str(error)
    assert "failed: ClientOSError" in str(describe(aiohttp.ClientOSError()))
