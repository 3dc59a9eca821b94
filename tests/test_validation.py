"""Input checks: refused before anything is sent, with a LaCaleError that names the input."""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import anyio
import pytest
from _mocked import META, SEARCH, calls, sent
from aioresponses import aioresponses
from conftest import API_KEY, BASE, META_JSON, make_torrent, torrent_json

import lacale_async as la
from lacale_async import FakeClock, LaCaleClient
from lacale_async._validation import check_cover_url, check_text, check_tmdb_id

pytest_plugins = ["_mocked"]

# str() of it raises ValueError (Python's int max str digits).
HUGE = 10**5000


# -- TMDB ids ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"), [(603, "603"), ("603", "603"), (" 1399 ", "1399"), (None, None)]
)
def test_tmdb_ids_are_digits(value: int | str | None, expected: str | None) -> None:
    assert check_tmdb_id(value) == expected


@pytest.mark.parametrize(
    ("value", "match"),
    [
        ("abc", "digits"),
        ("12a", "digits"),
        ("-5", "digits"),
        (-5, "digits"),
        ("1.5", "digits"),
        ("١٢", "digits"),  # Arabic-Indic digits: str.isdigit() says yes, the tracker would not
        ("²", "digits"),
        ("\udcff", "digits"),
        ("12\udcff", "digits"),
        ("", "empty"),
        ("1" * 65, "64"),
        (10**64, "64"),
        pytest.param(HUGE, "64", id="10**5000"),
        (True, "bool"),
        (1.0, "float"),
        (b"12", "bytes"),
    ],
)
def test_tmdb_ids_that_are_not_bounded_digits_are_refused(value: Any, match: str) -> None:
    with pytest.raises(la.ValidationError, match=match):
        check_tmdb_id(value)


@pytest.mark.parametrize(
    "tmdb_id", [pytest.param(HUGE, id="10**5000"), "\udcff", "12\udcff", "abc"]
)
async def test_search_refuses_a_tmdb_id_it_cannot_send_as_given(
    client: LaCaleClient, mock: aioresponses, tmdb_id: Any
) -> None:
    with pytest.raises(la.ValidationError, match="tmdb_id"):
        await client.search("x", tmdb_id=tmdb_id)
    assert sent(mock) == 0


# -- uploads ---------------------------------------------------------------------------------


def test_cover_urls_that_cannot_be_sent_are_refused() -> None:
    assert check_cover_url("https://image.test/c.jpg") == "https://image.test/c.jpg"
    for url in (
        "https://image.test/\udcff.jpg",
        "https://[::1/c.jpg",  # urlsplit raises ValueError
        "https://image.test:99999/c.jpg",
        "https://image.test/a b.jpg",
        "https://image.test/\x00.jpg",
        "https://image.test/" + "a" * 5000,
    ):
        with pytest.raises(la.ValidationError, match="cover_url"):
            check_cover_url(url)


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="needs /dev/zero")
async def test_upload_refuses_a_special_file_instead_of_reading_it_forever(
    client: LaCaleClient, mock: aioresponses
) -> None:
    # /dev/zero has no size to check: it was read until memory ran out (a raw MemoryError).
    mock.get(META, payload=META_JSON, repeat=True)
    with anyio.fail_after(10), pytest.raises(la.ValidationError, match="regular file"):
        await client.upload(title="T", category="films", torrent="/dev/zero")
    with anyio.fail_after(10), pytest.raises(la.ValidationError, match="regular file"):
        await client.upload(title="T", category="films", torrent=make_torrent(), nfo="/dev/zero")
    assert sent(mock, "POST") == 0


# -- download_to paths -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path", ["bad\x00name.torrent", "bad\udcffname.torrent", 12, None, b"x.torrent", 1.5]
)
async def test_download_to_refuses_a_bad_path_before_sending(
    client: LaCaleClient, mock: aioresponses, tmp_path: Path, path: Any
) -> None:
    if isinstance(path, str):
        path = f"{tmp_path}/{path}"
    with pytest.raises(la.ValidationError, match="path"):
        await client.download_to("a" * 40, path)
    assert sent(mock) == 0


# -- construction ------------------------------------------------------------------------------


def build(**kwargs: Any) -> LaCaleClient:
    return LaCaleClient(API_KEY, **{"base_url": BASE, **kwargs})


@pytest.mark.parametrize(
    "timeout", [math.inf, -math.inf, math.nan, 1e300, pytest.param(10**400, id="10**400")]
)
def test_timeouts_that_cannot_be_armed_are_refused_at_construction(timeout: Any) -> None:
    with pytest.raises(la.ConfigurationError, match="timeout"):
        build(timeout=timeout)


@pytest.mark.parametrize("name", ["cache_ttl", "meta_ttl", "max_retry_wait"])
@pytest.mark.parametrize("value", [math.inf, math.nan, 1e300])
def test_other_durations_must_be_finite_and_bounded(name: str, value: float) -> None:
    with pytest.raises(la.ConfigurationError, match=name):
        build(**{name: value})


@pytest.mark.parametrize("name", ["clock", "backend"])
@pytest.mark.parametrize("value", [object(), "monotonic", 3, la.MonotonicClock, la.LocalBackend])
def test_objects_without_the_protocol_are_refused_at_construction(name: str, value: Any) -> None:
    with pytest.raises(la.ConfigurationError, match=name):
        build(**{name: value})


def test_protocol_objects_with_a_missing_method_are_named() -> None:
    class HalfClock:
        def now(self) -> float:
            return 0.0

    with pytest.raises(la.ConfigurationError, match="sleep"):
        build(clock=HalfClock())


@pytest.mark.parametrize("value", ["no", "false", "0", "off", "", 0, 1, None, [], "yes"])
def test_allow_insecure_http_takes_a_real_bool(value: Any) -> None:
    with pytest.raises(la.ConfigurationError, match="allow_insecure_http"):
        build(base_url="http://tracker.lan", allow_insecure_http=value)


@pytest.mark.parametrize("value", ["no", 0, 1, None])
async def test_download_to_overwrite_takes_a_real_bool(
    client: LaCaleClient, mock: aioresponses, tmp_path: Path, value: Any
) -> None:
    with pytest.raises(la.ConfigurationError, match="overwrite"):
        await client.download_to("a" * 40, tmp_path / "x.torrent", overwrite=value)
    assert sent(mock) == 0


def test_fake_clock_auto_advance_takes_a_real_bool() -> None:
    with pytest.raises(la.ConfigurationError, match="auto_advance"):
        FakeClock(auto_advance="no")  # type: ignore[arg-type]


# -- validation does not depend on history -----------------------------------------------------


@pytest.mark.parametrize("categories", [False, 0, b"", {}, 0.0])
async def test_search_validation_does_not_depend_on_earlier_searches(
    client: LaCaleClient, mock: aioresponses, categories: Any
) -> None:
    mock.get(SEARCH, payload=[torrent_json()], repeat=True)
    await client.search("same text")
    before = sent(mock)
    with pytest.raises(la.ValidationError, match="categories"):
        await client.search("same text", categories=categories)
    with pytest.raises(la.ValidationError, match="categories"):
        await client.search("same text", categories=categories)  # and not memoised either
    assert sent(mock) == before


async def test_a_tmdb_id_that_equals_a_valid_one_is_still_checked(
    client: LaCaleClient, mock: aioresponses
) -> None:
    mock.get(SEARCH, payload=[], repeat=True)
    await client.search("x", tmdb_id=1)
    aliases: tuple[Any, ...] = (True, 1.0)
    for alias in aliases:
        with pytest.raises(la.ValidationError, match="tmdb_id"):
            await client.search("x", tmdb_id=alias)
    assert sent(mock) == 1


# -- the network faked at the HTTP boundary ----------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"query": "x" * 201}, "200"),
        ({"categories": ["c" * 65]}, "64"),
        ({"categories": [""]}, "non-empty"),
        ({"tmdb_id": "1" * 65}, "64"),
        ({"tmdb_id": True}, "tmdb_id"),
    ],
)
async def test_search_validation_happens_before_any_request(
    client: LaCaleClient, mock: aioresponses, kwargs: dict[str, Any], match: str
) -> None:
    with pytest.raises(la.ValidationError, match=match) as info:
        await client.search(**kwargs)
    assert isinstance(info.value, ValueError)
    assert isinstance(info.value, la.LaCaleError)
    assert sent(mock) == 0


@pytest.mark.parametrize(
    "kwargs",
    [
        {"categories": 5},
        {"categories": False},
        {"categories": ["films", "a\ud800"]},
        {"query": "caf\udce9"},
        {"categories": ["films,series"]},
        {"categories": ["two words"]},
    ],
)
async def test_more_search_input_is_refused_before_sending(
    client: LaCaleClient, mock: aioresponses, kwargs: dict[str, Any]
) -> None:
    with pytest.raises(la.ValidationError):
        await client.search(**kwargs)
    assert sent(mock) == 0


@pytest.mark.parametrize(
    "kwargs",
    [
        {"title": "T\ud800"},
        {"description": "D\ud800"},
        {"description": 5},
        {"tags": ["ok", 5]},
        {"tags": 5},
        # Raised raw (ValueError, UnicodeEncodeError) instead of refusing before sending:
        pytest.param({"tmdb_id": 10**5000}, id="tmdb_id=10**5000"),
        {"tmdb_id": "\udcff"},
        {"cover_url": "https://image.test/\udcff"},
        {"cover_url": "https://[::1/c.jpg"},
        {"torrent": "bad\x00name.torrent"},
        {"nfo": "bad\x00name.nfo"},
        {"torrent": "bad\udcffname.torrent"},
    ],
)
async def test_more_upload_input_is_refused_before_sending(
    client: LaCaleClient, mock: aioresponses, kwargs: dict[str, Any]
) -> None:
    mock.get(META, payload=META_JSON, repeat=True)
    args: dict[str, Any] = {"title": "T", "category": "films", "torrent": make_torrent()}
    args.update(kwargs)
    with pytest.raises(la.ValidationError):
        await client.upload(**args)
    assert not [c for c in calls(mock) if c[0] == "POST"]
    assert client.stats.endpoints["upload"].requests == 0


# -- ints of thousands of digits -----------------------------------------------------------
# str() and repr() of HUGE raise ValueError, float() and math.isfinite() OverflowError: each
# once escaped raw from a message or a numeric check.

CONSTRUCTOR_HUGE = {
    "on_quota": HUGE,
    "quota_store": HUGE,
    "key_rate": (1, HUGE),
    "key_rate calls": (HUGE, 60.0),
    "key_rate pairs": [(1, 1.0), HUGE],
    "search_rate": (1, HUGE),
    "meta_rate": HUGE,
    "cache_ttl": HUGE,
    "timeout": HUGE,
    "auth": HUGE,
    "source_policy": HUGE,
    "base_url": HUGE,
    "user_agent": HUGE,
    "allow_insecure_http": HUGE,
}


@pytest.mark.parametrize("option", CONSTRUCTOR_HUGE)
def test_a_huge_int_option_is_a_configuration_error(option: str) -> None:
    name = option.split()[0]
    options: dict[str, Any] = {"base_url": BASE, "quota_store": None}
    options[name] = CONSTRUCTOR_HUGE[option]
    with pytest.raises(la.ConfigurationError, match=name):
        LaCaleClient(API_KEY, **options)


async def _drain(iterator: Any) -> None:
    async for _ in iterator:
        pass


async def _first_watch_event(client: LaCaleClient, **options: Any) -> None:
    watch = client.watch("x", **options)
    try:
        await watch.__anext__()
    finally:
        await watch.aclose()


UPLOAD = {"title": "T", "category": "films", "torrent": make_torrent()}
METHODS_HUGE: dict[str, Any] = {
    "search cache": lambda c: c.search("x", cache=HUGE),
    "search categories": lambda c: c.search("x", categories=[HUGE]),
    "search query": lambda c: c.search(HUGE),
    "meta cache": lambda c: c.meta(cache=HUGE),
    "search_many item": lambda c: _drain(c.search_many([HUGE])),
    "upload tags": lambda c: c.upload(**UPLOAD, tags=[HUGE]),
    "upload tmdb_type": lambda c: c.upload(**UPLOAD, tmdb_type=HUGE),
    "upload category": lambda c: c.upload(**{**UPLOAD, "category": HUGE}),
    "upload title": lambda c: c.upload(**{**UPLOAD, "title": HUGE}),
    "upload source_policy": lambda c: c.upload(**UPLOAD, source_policy=HUGE),
    "download": lambda c: c.download(HUGE),
    "download_to path": lambda c: c.download_to("ab" * 20, HUGE),
    "download_to overwrite": lambda c: c.download_to("ab" * 20, "x", overwrite=HUGE),
    "watch interval": lambda c: _first_watch_event(c, interval=HUGE),
    "watch budget_share": lambda c: _first_watch_event(c, budget_share=HUGE),
    "watch state": lambda c: _first_watch_event(c, state=HUGE),
    "watch include_existing": lambda c: _first_watch_event(c, include_existing=HUGE),
}


@pytest.mark.parametrize("method", METHODS_HUGE)
async def test_a_huge_int_argument_is_refused_before_sending(
    client: LaCaleClient, mock: aioresponses, method: str
) -> None:
    mock.get(META, payload=META_JSON, repeat=True)
    with pytest.raises((la.ValidationError, la.ConfigurationError)):
        await METHODS_HUGE[method](client)
    assert not [c for c in calls(mock) if c[0] == "POST"]
    assert sent(mock) == sum(1 for c in calls(mock) if "meta" in str(c[1]))


class _HostileHash(str):
    """A str subclass whose own lower() names another path than the one checked."""

    def lower(self) -> str:
        return "../../external/meta?x="


def test_a_str_subclass_info_hash_is_sent_as_the_value_checked() -> None:
    from lacale_async._validation import check_info_hash

    checked = check_info_hash(_HostileHash("AB" * 20))
    assert checked == "ab" * 20
    assert type(checked) is str


@pytest.mark.parametrize("bad", [5, b"x", "\ud800"])
def test_check_text_raises_the_error_class_asked_for(bad: object) -> None:
    with pytest.raises(la.ValidationError, match=r"^title "):
        check_text(bad, "title")  # type: ignore[arg-type]
    with pytest.raises(la.ConfigurationError, match=r"^api_key "):
        check_text(bad, "api_key", la.ConfigurationError)  # type: ignore[arg-type]


async def test_search_refuses_more_categories_than_a_url_can_carry(
    client: LaCaleClient, mock: aioresponses
) -> None:
    # A thousand "&cat=" made a URL over the server's 8 KB: sent, then refused as malformed.
    many = [f"c{i}" for i in range(1000)]
    with pytest.raises(la.ValidationError, match="1000 categories given; a search takes at most"):
        await client.search("x", categories=many)
    with pytest.raises(la.ValidationError, match="51 categories given"):
        await client.search("x", categories=many[:51])
    assert sent(mock) == 0
