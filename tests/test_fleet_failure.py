"""What a Redis failure does (``fleet._failure``): raise with no secret, or go local once."""

from __future__ import annotations

import logging
import traceback

import pytest
import redis

from lacale_async._errors import BackendError
from lacale_async.fleet._failure import FailurePolicy, MalformedReply, reply_number

SECRET = "pa#ss-w0rd"


def _failed(policy: FailurePolicy, exc: BaseException) -> BackendError:
    with pytest.raises(BackendError) as caught:
        policy.failed(exc, "waiting for a search slot")
    return caught.value


@pytest.mark.parametrize("opaque", [False, True])
def test_no_secret_reaches_the_message_the_chain_or_the_traceback(opaque: bool) -> None:
    policy = FailurePolicy("fail", where="redis://***@h", secret=SECRET, opaque=opaque)
    err = _failed(policy, redis.ConnectionError(f"Error -2 connecting to {SECRET}:6379."))
    assert err.__cause__ is None
    assert err.__suppress_context__
    shown = [str(err), repr(err), "".join(traceback.format_exception(err))]
    for text in shown:
        assert SECRET not in text
        assert "connecting to" not in text if opaque else "connecting to ***:6379" in str(err)
    assert "ConnectionError" in str(err)


def test_fail_says_where_what_and_which_error() -> None:
    policy = FailurePolicy("fail", where="redis://h:6379/0", secret=None, opaque=False)
    err = _failed(policy, TimeoutError())
    assert str(err) == (
        "Redis at redis://h:6379/0 failed while waiting for a search slot: TimeoutError"
    )
    assert not policy.degraded


def test_local_warns_once_then_serves_degraded(caplog: pytest.LogCaptureFixture) -> None:
    policy = FailurePolicy("local", where="redis://h", secret=SECRET, opaque=False)
    with caplog.at_level(logging.WARNING, logger="lacale_async.fleet"):
        policy.failed(redis.ConnectionError(f"bad {SECRET}"), "ending a request")
        policy.failed(redis.ConnectionError("again"), "ending a request")
    assert policy.degraded
    assert len(caplog.records) == 1
    assert "ConnectionError: bad ***" in caplog.records[0].getMessage()
    assert SECRET not in caplog.text


@pytest.mark.parametrize(("value", "number"), [(b"1.5", 1.5), ("0", 0.0), (7, 7.0)])
def test_reply_number_reads_bytes_str_and_int(value: object, number: float) -> None:
    assert reply_number(value) == number


def test_a_wait_of_two_years_is_accepted_and_a_second_more_refused() -> None:
    assert reply_number(b"63244800", wait=True) == 63244800.0
    with pytest.raises(MalformedReply, match="not a usable number"):
        reply_number(b"63244801", wait=True)
    assert reply_number(b"63244801") == 63244801.0  # only a wait has the bound


@pytest.mark.parametrize("value", [b"inf", b"nan", b"junk", b"\xff", None])
def test_reply_number_refuses_what_no_fleet_writes(value: object) -> None:
    with pytest.raises(MalformedReply):
        reply_number(value)
