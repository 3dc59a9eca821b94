"""The API key never comes back in error text, whatever it contains and however it is echoed."""

from __future__ import annotations

import html
import json
import pickle
import string
from collections.abc import AsyncIterator
from urllib.parse import quote, quote_plus

import pytest
from _loopback import Server
from aiohttp import web
from conftest import META_JSON, make_torrent

import lacale_async as la
from lacale_async import LaCaleClient
from lacale_async._secret import Secret
from lacale_async._transport import wire_forms

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
