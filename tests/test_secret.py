"""The API key never comes back in error text, whatever it contains and however it is echoed."""

from __future__ import annotations

import html
import json
import logging
import pickle
import string
from collections.abc import AsyncIterator
from urllib.parse import quote, quote_plus

import aiohttp
import pytest
from _loopback import Server
from _mocked import META, SEARCH, UPLOAD, assert_no_api_key, make_client
from aiohttp import web
from aioresponses import aioresponses
from conftest import API_KEY, META_JSON, make_torrent

import lacale_async as la
from lacale_async import FakeClock, LaCaleClient
from lacale_async._secret import Secret, wire_forms, wire_secret

pytest_plugins = ["_mocked"]

PRINTABLE = [c for c in string.printable if "\x21" <= c <= "\x7e"]
# Alphanumerics are never encoded: if any of these tokens shows in an error, some form of the
# key got through, whatever the encoding around it.
TOKENS = ("Lq7wX", "Mz4pV", "Rk9tY")


def key_with(chars: str) -> str:
    left, middle, right = TOKENS
    return f"{left}{chars}{middle}{chars}{right}"


def echoes(request: web.Request, form_key: str | None = None) -> str:
    """What a careless server puts in an error: the request as it saw it, many ways."""
    received = (
        request.headers.get("X-Api-Key")
        or request.query.get("apikey")
        or request.query.get("passkey")
        or form_key
        or ""
    )
    parts = [
        str(request.url),
        request.raw_path,
        request.raw_path.lower(),  # some servers normalise percent-escapes to lowercase
        request.path_qs,
        request.query_string,
        json.dumps(dict(request.headers)),
        received,
        quote(received, safe=""),
        quote(received),
        quote_plus(received),
        html.escape(received),
    ]
    return " | ".join(parts)


@pytest.fixture
async def echo_server() -> AsyncIterator[Server]:
    async def search(request: web.Request) -> web.Response:
        style = request.query.get("q", "")
        text = echoes(request)
        if style == "json":
            return web.json_response({"error": text}, status=400)
        if style == "html":
            return web.Response(text=f"<html><title>{html.escape(text)}</title></html>", status=200)
        # Plain text, cut by the SDK at 300 characters: the cut may fall inside a key.
        return web.Response(text=f"bad request {text}", status=400)

    async def meta(request: web.Request) -> web.Response:
        return web.json_response(META_JSON)

    async def upload(request: web.Request) -> web.Response:
        form = await request.post()
        passkey = form.get("passkey")
        text = echoes(request, passkey if isinstance(passkey, str) else None)
        return web.json_response({"error": text}, status=500)

    srv = Server()
    srv.route("GET", "/api/external", search)
    srv.route("GET", "/api/external/meta", meta)
    srv.route("POST", "/api/external/upload", upload)
    await srv.start()
    yield srv
    await srv.stop()


def assert_no_key(error: la.LaCaleError, key: str) -> None:
    shown = " ".join([str(error), repr(error), getattr(error, "server_message", ""), *error.args])
    for token in TOKENS:
        assert token not in shown, (key, shown)
    assert key not in shown


@pytest.mark.parametrize("auth", ["header", "query", "passkey"])
async def test_keys_with_any_printable_character_never_come_back(
    echo_server: Server, auth: str
) -> None:
    keys = [key_with(c) for c in PRINTABLE] + [key_with("".join(PRINTABLE))]
    for key in keys:
        async with LaCaleClient(
            key,
            base_url=echo_server.url,
            auth=auth,  # type: ignore[arg-type]
            search_rate=None,
            max_retries=0,
            cache_ttl=0,
        ) as client:
            for style in ("json", "html", "text"):
                with pytest.raises(la.LaCaleError) as info:
                    await client.search(style)
                assert_no_key(info.value, key)


async def test_a_passkey_echoed_from_the_upload_form_never_comes_back(echo_server: Server) -> None:
    key = key_with("".join(PRINTABLE))
    async with LaCaleClient(
        key, base_url=echo_server.url, auth="passkey", upload_rate=None, meta_rate=None
    ) as client:
        with pytest.raises(la.ServerError) as info:
            await client.upload(title="T", category="films", torrent=make_torrent())
    assert echo_server.seen[-1].method == "POST"
    assert_no_key(info.value, key)


def test_wire_forms_come_from_the_request_encoding() -> None:
    forms = wire_forms("a:b+c;d=e&f")
    assert "a:b+c;d=e&f" in forms  # the header, raw
    assert "a:b%2Bc%3Bd%3De%26f" in forms  # yarl's query encoding, as aiohttp sends it


def test_scrub_replaces_every_form_and_a_key_cut_at_the_end() -> None:
    key = "Lq7wX:with+plus"
    secret = Secret(key, wire_forms(key))
    for form in (key, "Lq7wX:with%2Bplus", "Lq7wX%3Awith%2Bplus", "lq7wx%3awith%2bplus"):
        assert secret.redact(f"url ?apikey={form}&x=1") == "url ?apikey=***&x=1"
    assert secret.redact("echo: Lq7wX:wi") == "echo: ***"
    assert secret.redact("nothing secret here") == "nothing secret here"


def test_a_key_cut_off_inside_a_text_is_scrubbed_from_its_eighth_character() -> None:
    key = "sk_live_" + "Lq7wXMz4pVRk9tY" * 8
    secret = Secret(key, wire_forms(key))
    # aiohttp's refusal of a long header: the first 100 bytes of the line, then "...".
    echo = f"Got more than 8190 bytes when reading: b'X-Api-Key: {key[:89]}...'."
    assert secret.scrub(echo) == "Got more than 8190 bytes when reading: b'X-Api-Key: ***...'."
    assert secret.scrub(f"twice {key[:20]}|{key[:17].upper()}|") == "twice ***|***|"
    # A vendor's lead and seven characters past it are no echo of it: ordinary text stays.
    assert secret.scrub("the sk_live_ prefix, docs") == "the sk_live_ prefix, docs"
    assert secret.scrub(f"saw {key[:15]}.") == f"saw {key[:15]}."
    assert secret.scrub(f"saw {key[:16]}.") == "saw ***."


def test_a_key_longer_than_any_tracker_key_is_refused_without_quoting_it() -> None:
    with pytest.raises(la.ConfigurationError, match="characters long") as info:
        LaCaleClient("SECRET" + "x" * 600)
    assert "SECRET" not in str(info.value)


# A key with both quotes and a backslash: repr() escapes it.
QUOTED_KEY = "K3y'\"<>\\~x"


@pytest.mark.parametrize(
    ("key", "echo"),
    [
        ("Ab3/dEf+Gh5/IjK=", 'PHP json_encode: {"reason": "unknown key Ab3\\/dEf+Gh5\\/IjK="}'),
        ("Ab3'dEf'Gh5", "Jinja2: bad Ab3&#39;dEf&#39;Gh5"),
        ("Ab3'dEf'Gh5", "htmlspecialchars: bad Ab3&#039;dEf&#039;Gh5"),
        ("Ab3&dEf<Gh5>", 'Go encoding/json: ["bad Ab3\\u0026dEf\\u003cGh5\\u003e"]'),
        # PHP escapes "/" and leaves "&" raw; Go escapes "&" and leaves "/" raw.
        ("Ab3/dEf&Gh5", 'PHP json_encode: {"reason": "bad Ab3\\/dEf&Gh5"}'),
        ("Ab3/dEf&Gh5", 'Go encoding/json: {"reason": "bad Ab3/dEf\\u0026Gh5"}'),
        (QUOTED_KEY, f"aiohttp, repr twice: {repr(QUOTED_KEY.encode())!r}"),
    ],
)
def test_the_usual_escaped_echoes_of_a_key_are_scrubbed(key: str, echo: str) -> None:
    secret = Secret(key, wire_forms(key))
    scrubbed = secret.redact(echo)
    assert "***" in scrubbed
    for part in ("dEf", "Gh5", "<>", "~x"):
        if part in key:
            assert part not in scrubbed, scrubbed


def test_credential_parameters_are_redacted_after_the_key_is_removed() -> None:
    # Redacting "apikey=..." first would stop at the key's own "&" and leave its tail.
    key = "Lq7wX&Mz4pV"
    secret = Secret(key, wire_forms(key))
    assert "Mz4pV" not in secret.redact(f"GET /api?apikey={key}")


def test_a_secret_never_prints() -> None:
    secret = Secret("Lq7wX")
    assert "Lq7wX" not in repr(secret) + str(secret)
    with pytest.raises(TypeError):
        pickle.dumps(secret)


# -- the network faked at the HTTP boundary ----------------------------------------------


def test_repr_never_shows_the_key(fake_clock: FakeClock) -> None:
    client = make_client(fake_clock)
    assert_no_api_key(repr(client))
    assert_no_api_key(repr(vars(client)) if hasattr(client, "__dict__") else "")
    assert "tracker.test" in repr(client)


async def test_errors_never_carry_the_key_in_query_mode(
    fake_clock: FakeClock, mock: aioresponses
) -> None:
    mock.get(SEARCH, status=403, body=f"invalid key {API_KEY}", content_type="text/plain")
    mock.get(SEARCH, exception=aiohttp.ServerDisconnectedError(), repeat=True)
    async with make_client(fake_clock, auth="query", max_retries=0) as client:
        for _ in range(2):
            with pytest.raises(la.LaCaleError) as info:
                await client.search("x")
            err = info.value
            assert_no_api_key(str(err))
            assert_no_api_key(repr(err))
            assert_no_api_key(repr(vars(err)))
            assert err.__cause__ is None
            assert err.__context__ is None or API_KEY not in str(err.__context__)


async def test_debug_logs_never_carry_the_key(
    fake_clock: FakeClock, mock: aioresponses, caplog: pytest.LogCaptureFixture
) -> None:
    mock.get(SEARCH, status=500)
    mock.get(SEARCH, payload=[])
    caplog.set_level(logging.DEBUG, logger="lacale_async")
    async with make_client(fake_clock, auth="query") as client:
        await client.search("x")
    assert "apikey=***" in caplog.text
    assert "retry" in caplog.text
    assert_no_api_key(caplog.text)


async def test_server_text_echoing_the_key_is_scrubbed(
    fake_clock: FakeClock, mock: aioresponses
) -> None:
    key = "abc+def/ghi-SECRET"
    mock.get(
        SEARCH,
        status=200,
        body=f"<html><title>Invalid request q=x&apikey={key}</title></html>",
        content_type="text/html",
    )
    mock.get(
        SEARCH,
        status=400,
        body="unknown key abc%2Bdef%2Fghi-SECRET",
        content_type="text/plain",
    )
    mock.get(META, payload=META_JSON)
    mock.post(UPLOAD, payload={"success": False, "error": f"passkey {key} is banned"})
    async with make_client(fake_clock, key=key, auth="query", max_retries=0) as client:
        errors: list[la.LaCaleError] = []
        for _ in range(2):
            with pytest.raises(la.LaCaleError) as info:
                await client.search("x", cache="bypass")
            errors.append(info.value)
        with pytest.raises(la.UploadRejectedError) as rejected:
            await client.upload(title="T", category="films", torrent=make_torrent())
        errors.append(rejected.value)
    for err in errors:
        text = str(err) + repr(vars(err))
        assert "SECRET" not in text
        assert "abc%2B" not in text


def test_scrub_without_the_tail_rule_keeps_data_ending_like_the_key() -> None:
    secret = Secret("beef0123" + "9a8b7c6d5e4f3a2b1c0d")
    info_hash = "0" * 36 + "beef"
    assert secret.scrub(info_hash) == "0" * 36 + "***", "messages: a cut echo loses its tail"
    assert secret.scrub(info_hash, cut_tail=False) == info_hash
    assert secret.scrub("x beef0123 y", cut_tail=False) == "x *** y", "an 8-character start goes"


@pytest.mark.parametrize(
    "text",
    [
        "",
        "plain text with nothing",
        "LCSB_ODD+KEY/WITH=CHARS&0F9E8D7C",
        "lcsb_odd+key%2FWith%3DChars%260f9e8d7c and more",
        "a cut \u017fecho lcsb_Odd+K",
        "tail lcsb",
        "lcsb_Odd+Ke\u212ay/With=Chars&0f9e8d7c",
        "\u017fome lc\u017fb_Odd+Key/With=Chars&0f9e8d7c",
    ],
)
def test_the_quick_check_changes_no_result(text: str) -> None:
    key = "lcsb_Odd+Key/With=Chars&0f9e8d7c"
    secret = Secret(key, wire_forms(key))
    slow = Secret(key, wire_forms(key))
    slow._needles = None  # the check off: every text goes through the regexes
    for cut_tail in (True, False):
        assert secret.scrub(text, cut_tail=cut_tail) == slow.scrub(text, cut_tail=cut_tail)


def test_after_chains_another_scrubber_then_removes_this_secret() -> None:
    token = wire_secret("TOKEN-0123456789-abcdef")
    key = wire_secret("KEY-abcdefghijklmnop-42")
    scrub = token.after(key.redact)
    text = "key KEY-abcdefghijklmnop-42, token TOKEN-0123456789-abcdef, link /x?apikey=zz&token=yy"
    shown = scrub(text)
    assert "KEY-abcdefghijklmnop-42" not in shown
    assert "TOKEN-0123456789-abcdef" not in shown
    assert "apikey=***" in shown
    assert key.redact(text) != shown  # the token is this secret's work, not the key's
