"""A hostile server on 127.0.0.1: whatever it answers, the public API keeps its promises.

Every failure is a :class:`LaCaleError` subclass (never a raw aiohttp, msgspec, asyncio or OS
exception); no secret (the key, a download link's token) is in a message, an attribute, the
exception chain, a formatted traceback or a log line; a failed ``download_to`` leaves nothing.

Two kinds of server: the aiohttp one of ``_loopback`` for answers aiohttp can write, and a raw
asyncio one (:class:`RawServer`) for the framing aiohttp refuses to produce (a lying
Content-Length, a cut chunk, a connection closed after the head).
"""

from __future__ import annotations

import asyncio
import base64
import gzip
import json
import logging
import os
import traceback
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import bencode2
import msgspec
import pytest
from _loopback import Server, client_for, cut_short
from aiohttp import web
from conftest import API_KEY, META_JSON, info_hash_of, make_torrent, torrent_json
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import lacale_async as la
from lacale_async import FakeClock

pytest_plugins = ["_loopback"]
pytestmark = pytest.mark.integration

SEARCH = "/api/external"
META = "/api/external/meta"
UPLOAD = "/api/external/upload"
TORRENT = make_torrent()
HASH = info_hash_of(TORRENT)
DOWNLOAD = f"/api/torrents/download/{HASH}"
# A JWT-shaped token with no exp claim: the link is always fresh.
TOKEN = "eyJhbGciOiJIUzI1NiJ9." + base64.urlsafe_b64encode(b'{"sub":"1"}').decode().rstrip("=")
TOKEN += ".tokSIGNATUREdeadbeef0123456789"
# What must never show, lowercased: each secret whole, and a start long enough to be one
# (the token's first part is the header every JWT shares, its signature is the secret part).
NEEDLES = tuple(n.lower() for n in (API_KEY, API_KEY[:12], TOKEN, TOKEN.rsplit(".", 1)[1][:12]))


# -- checks ---------------------------------------------------------------------------------


def _texts(exc: BaseException) -> Iterator[str]:
    """Every text an exception can show: its message, repr, attributes, chain and traceback."""
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        current = todo.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        yield str(current)
        yield repr(current)
        yield from (repr(arg) for arg in current.args)
        yield from (repr(value) for value in vars(current).values())
        todo += [current.__cause__, current.__context__]
    yield "".join(traceback.format_exception(exc))


def assert_clean(exc: BaseException) -> None:
    """The error is the SDK's, and shows no secret anywhere."""
    assert isinstance(exc, la.LaCaleError), f"{type(exc).__name__} escaped: {exc!r}"
    assert str(exc).strip(), "an error without a message"
    for text in _texts(exc):
        # Ignoring case: a host echoed in a URL comes back lowercased.
        lowered = text.lower()
        for needle in NEEDLES:
            assert needle not in lowered, f"(the start of) a secret in {text!r}"


async def fails(call: Awaitable[object]) -> la.LaCaleError:
    """Await ``call``, which must fail with a clean SDK error, and return that error."""
    try:
        await call
    except la.LaCaleError as exc:
        assert_clean(exc)
        return exc
    except BaseException as exc:  # anything else escaping is the finding
        raise AssertionError(f"{type(exc).__name__} escaped the public API: {exc!r}") from exc
    raise AssertionError("the call succeeded against a hostile answer")


@pytest.fixture(autouse=True)
def _no_secret_logged(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    caplog.set_level(logging.DEBUG)
    yield
    # The SDK's records, and asyncio's and aiohttp's client-side ones; not the access log of
    # the server under test, which shows what the client sent (the key, in query auth mode).
    for record in caplog.get_records("setup") + caplog.get_records("call"):
        if record.name == "aiohttp.access":
            continue
        text = record.getMessage() + (
            "".join(traceback.format_exception(*record.exc_info)) if record.exc_info else ""
        )
        for needle in NEEDLES:
            assert needle not in text.lower(), f"a secret logged: {text!r}"


@pytest.fixture
def never() -> Iterator[asyncio.Event]:
    """An event a hanging handler awaits; set at teardown, before the server (set up first)
    stops, so that its cleanup does not wait a minute for the handler."""
    event = asyncio.Event()
    yield event
    event.set()


def hostile(server: Server, **kwargs: Any) -> la.LaCaleClient:
    """A client with short timeouts and no key budget, whose waits run on a fake clock."""
    options: dict[str, Any] = {
        "timeout": 0.5,
        "key_rate": None,
        "quota_store": None,
        "cache_ttl": 0,
        "meta_ttl": 0,
        "clock": FakeClock(),
    }
    options.update(kwargs)
    return client_for(server, **options)


def link_torrent(server: Server) -> la.Torrent:
    """A search result whose download link (on the server's origin) carries TOKEN."""
    link = f"{server.url}/api/download/{HASH}?token={TOKEN}"
    item = torrent_json(0, infoHash=HASH, downloadLink=link)
    return msgspec.json.decode(json.dumps(item), type=la.Torrent)


# -- a raw server, for framing aiohttp will not write ---------------------------------------

Reply = Callable[[int, bytes], Awaitable[bytes | None]]


class RawServer:
    """Answers each request (numbered from 0) with the bytes ``reply`` returns, then closes.

    ``reply`` gets the request's number and head; None closes without a word. ``keep`` keeps
    the connection open after a reply (for a next request on it).
    """

    def __init__(self, reply: Reply, *, keep: bool = False) -> None:
        self.reply = reply
        self.keep = keep
        self.count = 0
        self.heads: list[bytes] = []
        self.url = ""
        self._server: asyncio.Server | None = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                self.heads.append(head)
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        await reader.readexactly(int(line.split(b":")[1]))
                number, self.count = self.count, self.count + 1
                data = await self.reply(number, head)
                if data is None:
                    break
                writer.write(data)
                await writer.drain()
                if not self.keep:
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def __aenter__(self) -> RawServer:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.url = f"http://127.0.0.1:{self._server.sockets[0].getsockname()[1]}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()


def canned(data: bytes) -> Reply:
    async def reply(number: int, head: bytes) -> bytes:
        return data

    return reply


def raw_client(raw: RawServer, **kwargs: Any) -> la.LaCaleClient:
    holder = Server()
    holder.url = raw.url
    return hostile(holder, **kwargs)


# -- Retry-After ----------------------------------------------------------------------------

WALL = 1_800_000_000.0  # 2027-01-15, the fake clock's wall time


@pytest.mark.parametrize(
    "value",
    [
        "soon",
        "-5",
        "nan",
        "inf",
        "-inf",
        "1e309",
        "0x10",
        "",
        "   ",
        "Thu, 01 Jan 1970 00:00:00 GMT",  # a date long past: retry at once
        "Mon, 32 Foo 2020 25:61:61 GMT",
        "Fri, 31 Dec 99999 23:59:59 GMT",
        "Fri, 31 Dec 2027 23:59:59 +9999",
        "\u00e9t\u00e9",
    ],
)
async def test_an_unreadable_or_past_retry_after_still_ends_in_one_retry(
    server: Server, value: str
) -> None:
    async def limited(request: web.Request) -> web.Response:
        if len(server.seen) == 1:
            return web.json_response(
                {"error": "slow down"}, status=429, headers={"Retry-After": value}
            )
        return web.json_response([torrent_json()])

    server.route("GET", SEARCH, limited)
    await server.start()
    async with hostile(server, max_retries=1, clock=FakeClock(wall_start=WALL)) as client:
        found = await client.search("x")
    assert [t.info_hash for t in found] == [torrent_json()["infoHash"]]
    assert len(server.seen) == 2


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("99999999999", 99999999999.0),
        ("1e300", 1e300),
        ("Fri, 31 Dec 9999 23:59:59 GMT", None),
    ],
)
async def test_a_retry_after_of_centuries_is_given_up_at_once_as_a_rate_limit(
    server: Server, value: str, seconds: float | None
) -> None:
    async def limited(request: web.Request) -> web.Response:
        return web.json_response({"error": "no"}, status=429, headers={"Retry-After": value})

    server.route("GET", SEARCH, limited)
    await server.start()
    async with hostile(server, max_retries=5, clock=FakeClock(wall_start=WALL)) as client:
        error = await fails(client.search("x"))
    assert isinstance(error, la.RateLimitError)
    assert error.retry_after is not None
    assert error.retry_after > 1e9
    if seconds is not None:
        assert error.retry_after == seconds
    assert len(server.seen) == 1, "a wait over max_retry_wait is not waited, nor resent"


async def test_repeated_retry_after_headers_use_the_first(server: Server) -> None:
    async def limited(request: web.Request) -> web.StreamResponse:
        resp = web.Response(status=429, text='{"error": "no"}', content_type="application/json")
        resp.headers.add("Retry-After", "7")
        resp.headers.add("Retry-After", "99999999")
        return resp

    server.route("GET", SEARCH, limited)
    await server.start()
    async with hostile(server, max_retries=0) as client:
        error = await fails(client.search("x"))
    assert isinstance(error, la.RateLimitError)
    assert error.retry_after == 7.0


async def test_a_429_storm_is_retried_max_retries_times_then_raised(server: Server) -> None:
    async def storm(request: web.Request) -> web.Response:
        return web.json_response({"error": "no"}, status=429, headers={"Retry-After": "0"})

    server.route("GET", SEARCH, storm)
    server.route("GET", META, storm)
    await server.start()
    async with hostile(server, max_retries=4) as client:
        error = await fails(client.search("x"))
        assert isinstance(error, la.RateLimitError)
        assert len(server.seen) == 5
        assert isinstance(await fails(client.meta()), la.RateLimitError)
    assert len(server.seen) == 10


# -- redirects ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "location",
    [
        f"ftp://127.0.0.1/{API_KEY}",
        f"file:///etc/passwd?apikey={API_KEY}",
        f"data:text/plain,{API_KEY}",
        f"javascript:alert('{API_KEY}')",
        f"http://user:{API_KEY}@127.0.0.2/x",
        f"http://127.0.0.1:0/{API_KEY}",
        f"//evil.test/?k={API_KEY}",
        f"http://[::1/{API_KEY}",
        "http://evil.test/" + "a" * 190 + API_KEY,
        f"http://{API_KEY}.evil.test/",  # the key as a host name
    ],
)
async def test_a_redirect_out_of_the_origin_is_refused_without_the_key(
    server: Server, location: str
) -> None:
    async def redirect(request: web.Request) -> web.Response:
        return web.Response(status=302, headers={"Location": location})

    server.route("GET", SEARCH, redirect)
    await server.start()
    async with hostile(server, max_retries=2) as client:
        error = await fails(client.search("x"))
    assert isinstance(error, la.ResponseError)
    assert len(server.seen) == 1


async def test_a_redirect_loop_stops_after_three_hops(server: Server) -> None:
    async def loop(request: web.Request) -> web.Response:
        return web.Response(status=307, headers={"Location": f"{SEARCH}?apikey={API_KEY}"})

    server.route("GET", SEARCH, loop)
    await server.start()
    async with hostile(server, max_retries=0, auth="query") as client:
        error = await fails(client.search("x"))
    assert isinstance(error, la.ResponseError)
    assert "redirects" in str(error)
    assert len(server.seen) == 4
    # The echoed key is dropped and the client's added once: never two apikey parameters.
    assert all(request.query.getall("apikey") == [API_KEY] for request in server.seen)


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
async def test_a_redirect_without_a_location_is_an_sdk_error(server: Server, status: int) -> None:
    async def bare(request: web.Request) -> web.Response:
        return web.Response(status=status, text=f"moved, key {API_KEY}")

    server.route("GET", SEARCH, bare)
    await server.start()
    async with hostile(server) as client:
        await fails(client.search("x"))


async def test_a_token_download_redirected_to_an_unparsable_url_does_not_show_the_token(
    server: Server,
) -> None:
    async def redirect(request: web.Request) -> web.Response:
        return web.Response(status=302, headers={"Location": f"http://[::1/copy/{TOKEN}"})

    server.route("GET", f"/api/download/{HASH}", redirect)
    await server.start()
    async with hostile(server) as client:
        await fails(client.download(link_torrent(server)))


_TOKEN_ECHOES = [
    b"HTTP/1.1 2x0 " + TOKEN.encode() + b"\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nX" + TOKEN.encode() + b"\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nX: " + TOKEN.encode() + b"\x00\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + TOKEN.encode() + b"\r\n",
    b"HTTP/1.1 200 OK\r\nContent-Length: " + TOKEN.encode() + b"\r\n\r\n",
    b"HTTP/1.1 302 Found\r\nLocation: http://x" + TOKEN.encode() + b".evil.test/\r\n\r\n",
]


@pytest.mark.parametrize(
    "data",
    _TOKEN_ECHOES,
    ids=["status-line", "header-name", "header-nul", "chunk-size", "content-length", "host"],
)
async def test_a_token_echoed_in_a_malformed_answer_never_comes_back(data: bytes) -> None:
    async with RawServer(canned(data)) as raw, raw_client(raw) as client:
        holder = Server()
        holder.url = raw.url
        await fails(client.download(link_torrent(holder)))


@pytest.mark.parametrize(
    "data",
    [
        # The same answers with the key: scrubbed (the transport knows the key).
        data.replace(TOKEN.encode(), API_KEY.encode())
        for data in _TOKEN_ECHOES[:-1]
    ],
    ids=["status-line", "header-name", "header-nul", "chunk-size", "content-length"],
)
async def test_a_key_echoed_in_a_malformed_answer_never_comes_back(data: bytes) -> None:
    async with RawServer(canned(data)) as raw, raw_client(raw) as client:
        error = await fails(client.search("x"))
    assert isinstance(error, la.TransportError)


async def test_a_token_download_redirected_to_another_origin_never_reaches_it(
    server: Server, other_server: Server
) -> None:
    async def steal(request: web.Request) -> web.Response:
        return web.Response(body=TORRENT)

    other_server.route("GET", "/{tail:.*}", steal)
    await other_server.start()

    async def redirect(request: web.Request) -> web.Response:
        return web.Response(status=302, headers={"Location": f"{other_server.url}/s?token={TOKEN}"})

    server.route("GET", f"/api/download/{HASH}", redirect)
    await server.start()
    async with hostile(server) as client:
        error = await fails(client.download(link_torrent(server)))
    assert isinstance(error, la.ResponseError)
    assert other_server.seen == []


# -- bodies ---------------------------------------------------------------------------------

ECHOES = [
    # The key echoed as JSON, HTML, URL-quoted and escaped forms, in error bodies and 200s.
    ("application/json", json.dumps({"error": f"bad key {API_KEY}"})),
    ("application/json", json.dumps({"message": API_KEY}, ensure_ascii=True)),
    ("application/json", '{"error": "' + "".join(f"\\u{ord(c):04x}" for c in API_KEY) + '"}'),
    ("text/html", f"<html><title>Denied {API_KEY}</title></html>"),
    ("text/plain", f"{API_KEY}\x00\x1b[31m\r\nSet-Cookie: x"),
    ("text/plain", "x" * 290 + API_KEY),
    ("text/plain", (API_KEY + "\xff").encode("latin-1").decode("latin-1")),
]


@pytest.mark.parametrize("status", [200, 400, 401, 403, 404, 500, 503])
@pytest.mark.parametrize(
    ("ctype", "body"),
    ECHOES,
    ids=["json", "json-ascii", "json-escaped", "html", "control-chars", "cut", "latin-1"],
)
async def test_a_key_echoed_in_any_body_never_comes_back(
    server: Server, status: int, ctype: str, body: str
) -> None:
    async def echo(request: web.Request) -> web.Response:
        return web.Response(
            status=status, body=body.encode("latin-1", "replace"), content_type=ctype
        )

    for path in (SEARCH, META, DOWNLOAD):
        server.route("GET", path, echo)
    server.route("POST", UPLOAD, echo)
    await server.start()
    async with hostile(server) as client:
        await fails(client.search("x"))
        await fails(client.meta())
        await fails(client.download(HASH))


@pytest.mark.parametrize(
    "body",
    [
        b'[{"title": "cut',
        b"[\xff\xfe]",
        b"\xef\xbb\xbf[]" + b"\x00" * 3,
        b'[{"title": 1, "infoHash": ["x"]}]',
        b'[{"size": 1e400}]',
        b'[{"seeders": 99999999999999999999999999999999}]',
        b'[{"size": NaN}]',
        b"[" * 100_000,
        b'{"a":' * 50_000,
        b'[{"title": "\x01\x02\x1b[2J"}]',
        json.dumps([torrent_json(i) for i in range(3)] + [None]).encode(),
        json.dumps({"error": f"oops {API_KEY}"}).encode(),
    ],
)
async def test_a_200_search_body_that_is_not_a_list_of_torrents_is_a_response_error(
    server: Server, body: bytes
) -> None:
    async def answer(request: web.Request) -> web.Response:
        return web.Response(body=body, content_type="application/json")

    server.route("GET", SEARCH, answer)
    await server.start()
    async with hostile(server) as client:
        error = await fails(client.search("x"))
    assert isinstance(error, la.ResponseError)


@pytest.mark.parametrize(
    ("ctype", "body"),
    [
        ("text/html", json.dumps(META_JSON)),  # JSON labelled HTML
        ("application/json", "<html><title>maintenance</title></html>"),
        ("application/octet-stream", "\x00\x01"),
        ("application/json; charset=utf-16", json.dumps(META_JSON).encode("utf-16").hex()),
        ("application/json", '{"categories": ' + "[" * 100_000),
        ("application/json", '{"categories": [{"id": 1e999, "children": {"a": NaN}}]}'),
        ("application/json", '{"categories": "' + API_KEY + '", "tagGroups": 7}'),
    ],
)
async def test_a_content_type_lie_on_meta_is_an_sdk_error_or_ignored(
    server: Server, ctype: str, body: str
) -> None:
    async def answer(request: web.Request) -> web.Response:
        return web.Response(body=body.encode(), headers={"Content-Type": ctype})

    server.route("GET", META, answer)
    await server.start()
    async with hostile(server) as client:
        try:
            meta = await client.meta()
        except BaseException as exc:
            assert_clean(exc)
        else:
            assert meta.categories  # only real meta JSON may succeed


async def test_a_gzip_answer_that_is_not_gzip_is_a_transport_error(server: Server) -> None:
    async def answer(request: web.Request) -> web.Response:
        return web.Response(
            body=b"this is not gzip " + API_KEY.encode(),
            headers={"Content-Encoding": "gzip", "Content-Type": "application/json"},
        )

    server.route("GET", SEARCH, answer)
    await server.start()
    async with hostile(server) as client:
        assert isinstance(await fails(client.search("x")), la.TransportError)


async def test_a_gzip_answer_cut_short_is_an_sdk_error(server: Server) -> None:
    whole = gzip.compress(json.dumps([torrent_json(i) for i in range(50)]).encode())

    async def answer(request: web.Request) -> web.Response:
        return web.Response(
            body=whole[: len(whole) // 2],
            headers={"Content-Encoding": "gzip", "Content-Type": "application/json"},
        )

    server.route("GET", SEARCH, answer)
    await server.start()
    async with hostile(server) as client:
        await fails(client.search("x"))


@pytest.mark.parametrize("encoding", ["br", "zstd", "compress", "x-unknown", "gzip, gzip"])
async def test_an_unknown_content_encoding_is_an_sdk_error(server: Server, encoding: str) -> None:
    async def answer(request: web.Request) -> web.Response:
        return web.Response(
            body=b"\x28\xb5\x2f\xfd garbage",
            headers={"Content-Encoding": encoding, "Content-Type": "application/json"},
        )

    server.route("GET", SEARCH, answer)
    await server.start()
    async with hostile(server) as client:
        await fails(client.search("x"))


async def test_a_chunked_answer_over_the_cap_stops_at_the_cap(server: Server) -> None:
    sent = 0

    async def endless(request: web.Request) -> web.StreamResponse:
        nonlocal sent
        resp = web.StreamResponse(headers={"Content-Type": "application/json"})
        await resp.prepare(request)
        await resp.write(b"[")
        try:
            for _ in range(1000):
                await resp.write(b" " * 65536)
                sent += 65536
        except (ConnectionError, RuntimeError):
            pass
        return resp

    server.route("GET", SEARCH, endless)
    await server.start()
    async with hostile(server, max_body_size=256 * 1024, timeout=5) as client:
        error = await fails(client.search("x"))
    assert isinstance(error, la.ResponseError)
    assert "cap" in str(error)
    assert sent < 64 * 1024 * 1024, "the client stopped reading"


async def test_a_content_length_over_the_cap_is_refused_before_reading(server: Server) -> None:
    async def huge(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "application/json"})
        resp.content_length = 10**12
        await resp.prepare(request)
        await resp.write(b"[")
        return resp

    server.route("GET", SEARCH, huge)
    await server.start()
    async with hostile(server, max_body_size=1024) as client:
        error = await fails(client.search("x"))
    assert isinstance(error, la.ResponseError)
    assert "cap" in str(error)


# -- framing: the raw server ----------------------------------------------------------------

HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"


@pytest.mark.parametrize(
    "data",
    [
        HEAD + b"Content-Length: 5000\r\n\r\n[]",  # longer than the body, then closed
        HEAD + b'Transfer-Encoding: chunked\r\n\r\n10\r\n[{"title": "x',  # a chunk cut
        HEAD + b"Transfer-Encoding: chunked\r\n\r\nzz\r\n[]\r\n0\r\n\r\n",  # a bad chunk size
        HEAD + b"Content-Length: 2\r\nContent-Length: 3\r\n\r\n[] ",  # two lengths
        HEAD + b"Content-Length: -1\r\n\r\n[]",
        HEAD + b"Content-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n[]",
        b"HTTP/1.1 200 OK\r\n",  # closed inside the head
        HEAD,  # closed right after the head
        HEAD + b"\r\n",  # no length: the body ends with the connection, empty
        b"HTTP/1.1 999 Whatever\r\nContent-Length: 0\r\n\r\n",
        b"HTTP/1.1 abc OK\r\n\r\n",
        b"SSH-2.0-OpenSSH_9.6\r\n",
        b"HTTP/1.1 200 OK\r\nX-Key: " + API_KEY.encode() + b"\x00\r\n\r\n[]",
        b"HTTP/1.1 200 OK\r\nLocation\r\n\r\n",
        b"HTTP/1.1 200 OK\r\n" + b"X: " + b"y" * 70000 + b"\r\n\r\n",
        b"HTTP/1.1 302 Found\r\nLocation: /\xff\xfe" + API_KEY.encode() + b"\r\n\r\n",
        b"HTTP/1.1 429 Too Many\r\nRetry-After: \xff\xfe\r\nContent-Length: 0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Type: \xff\r\nContent-Length: 2\r\n\r\n[]",
        b"\x00" * 64,
        b"HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n[]",  # ends at close
        b"HTTP/1.1 100 Continue\r\n\r\n",  # and nothing after
        b"HTTP/1.1 500 " + API_KEY.encode() + b"\r\nContent-Length: 0\r\n\r\n",
        HEAD + b"Content-Encoding: gzip\r\nContent-Length: 4\r\n\r\n\x1f\x8b\x08\x00",
    ],
)
async def test_broken_framing_ends_in_a_result_or_an_sdk_error(data: bytes) -> None:
    async with RawServer(canned(data)) as raw:
        async with raw_client(raw, max_retries=1) as client:
            try:
                found = await client.search("x")
            except BaseException as exc:
                assert_clean(exc)
            else:
                assert found == []
        assert raw.count <= 2 * 4, "one retry, each of at most three redirect hops"


@pytest.mark.parametrize(
    ("data", "said"),
    [
        (HEAD + b"Content-Encoding: gzip\r\nContent-Length: 4\r\n\r\n\xff\xfe\xfd\xfc", "decoded"),
        (HEAD + b"Content-Encoding: br\r\nContent-Length: 2\r\n\r\n[]", "decoded"),
        (HEAD + b"Content-Length: 40\r\n\r\n[]", "cut short"),
        (b"HTTP/1.1 2x0 OK\r\n\r\n", "not valid HTTP"),
        (b"HTTP/1.1 200 OK\r\n\xff: x\r\n\r\n", "not valid HTTP"),
    ],
    ids=["not-gzip", "unsupported-encoding", "short-body", "status-line", "header-name"],
)
async def test_a_malformed_answer_is_said_on_one_line_without_aiohttps_own_400(
    data: bytes, said: str
) -> None:
    # aiohttp's parser errors read "400, message:\n  ...\n   ^": the 400 is aiohttp's code,
    # never what the server answered, and a message must stay one line.
    async with RawServer(canned(data)) as raw, raw_client(raw) as client:
        error = await fails(client.search("x"))
    assert isinstance(error, la.TransportError)
    assert said in str(error)
    assert "400, message" not in str(error)
    assert "\n" not in str(error)
    assert not str(error).endswith("^")


async def test_a_content_length_shorter_than_the_body_does_not_feed_the_next_answer() -> None:
    # The extra bytes after the promised length must never be read as the next request's
    # answer on the same connection.
    smuggled = json.dumps([torrent_json(7)]).encode()
    first = HEAD + b"Content-Length: 2\r\n\r\n[]"
    extra = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(smuggled), smuggled)

    async def reply(number: int, head: bytes) -> bytes:
        return first + extra if number == 0 else HEAD + b"Content-Length: 2\r\n\r\n[]"

    async with RawServer(reply, keep=True) as raw, raw_client(raw, max_retries=1) as client:
        assert await client.search("first") == []
        try:
            second = await client.search("second")
        except BaseException as exc:
            assert_clean(exc)
        else:
            assert second == [], "an answer nobody asked for was taken as this one's"


async def test_a_server_that_never_answers_times_out(server: Server, never: asyncio.Event) -> None:

    async def hang(request: web.Request) -> web.Response:
        await never.wait()
        return web.json_response([])

    server.route("GET", SEARCH, hang)
    server.route("POST", UPLOAD, hang)
    server.route("GET", META, lambda request: _json(META_JSON))
    await server.start()
    async with hostile(server, timeout=0.2, max_retries=1) as client:
        assert isinstance(await fails(client.search("x")), la.RequestTimeoutError)
        error = await fails(client.upload(title="T", category="cat_films", torrent=TORRENT))
        assert isinstance(error, la.RequestTimeoutError)
        assert error.outcome_unknown
    assert sum(r.method == "POST" for r in server.seen) == 1, "an upload is never resent"


async def test_a_silent_socket_that_accepts_and_says_nothing_times_out(
    never: asyncio.Event,
) -> None:

    async def silent(number: int, head: bytes) -> bytes | None:
        await never.wait()
        return None

    async with RawServer(silent) as raw, raw_client(raw, timeout=0.2) as client:
        assert isinstance(await fails(client.meta()), la.RequestTimeoutError)


async def _json(data: object) -> web.Response:
    return web.json_response(data)


# -- uploads --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        b'{"success": tr',
        b"<html><title>Bad gateway</title></html>",
        b'{"success": "yes", "id": []}',
        b"[]",
        json.dumps({"success": True, "error": API_KEY, "id": {"k": API_KEY}}).encode(),
    ],
)
async def test_an_upload_answer_that_is_not_the_upload_json_leaves_the_outcome_unknown(
    server: Server, body: bytes
) -> None:
    async def meta(request: web.Request) -> web.Response:
        return web.json_response(META_JSON)

    async def answer(request: web.Request) -> web.Response:
        await request.read()
        return web.Response(body=body, content_type="application/json")

    server.route("GET", META, meta)
    server.route("POST", UPLOAD, answer)
    await server.start()
    async with hostile(server, max_retries=3) as client:
        error = await fails(client.upload(title="T", category="cat_films", torrent=TORRENT))
    assert isinstance(error, la.ResponseError)
    assert error.outcome_unknown
    assert sum(r.method == "POST" for r in server.seen) == 1


async def test_an_upload_whose_connection_drops_after_the_body_is_not_resent(
    server: Server,
) -> None:
    async def meta(request: web.Request) -> web.Response:
        return web.json_response(META_JSON)

    async def drop(request: web.Request) -> web.Response:
        await request.read()
        assert request.transport is not None
        request.transport.abort()
        return web.Response()

    server.route("GET", META, meta)
    server.route("POST", UPLOAD, drop)
    await server.start()
    async with hostile(server, max_retries=3, auth="passkey") as client:
        error = await fails(client.upload(title="T", category="cat_films", torrent=TORRENT))
    assert isinstance(error, la.TransportError)
    assert error.outcome_unknown
    assert sum(r.method == "POST" for r in server.seen) == 1


# -- downloads ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ctype", "body"),
    [
        ("text/html", b"<html><title>Just a moment...</title></html>"),
        ("application/x-bittorrent", make_torrent("another one")),
        ("application/x-bittorrent", TORRENT[: len(TORRENT) // 2]),
        ("application/x-bittorrent", b""),
        ("application/json", json.dumps({"error": f"no {API_KEY}"}).encode()),
        ("application/x-bittorrent", b"d" * 10_000),
        ("application/x-bittorrent", b"d4:infoi" + b"9" * 5000 + b"ee"),
    ],
)
async def test_a_download_that_is_not_the_torrent_asked_for_leaves_no_file(
    server: Server, tmp_path: Path, ctype: str, body: bytes
) -> None:
    async def answer(request: web.Request) -> web.Response:
        return web.Response(body=body, content_type=ctype)

    server.route("GET", DOWNLOAD, answer)
    server.route("GET", f"/api/download/{HASH}", answer)
    await server.start()
    async with hostile(server) as client:
        assert isinstance(await fails(client.download_to(HASH, tmp_path)), la.IntegrityError)
        error = await fails(client.download_to(link_torrent(server), tmp_path / "x.torrent"))
        assert isinstance(error, la.IntegrityError)
    assert os.listdir(tmp_path) == []


async def test_a_download_cut_mid_stream_leaves_no_file(server: Server, tmp_path: Path) -> None:
    async def cut(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "application/x-bittorrent"})
        resp.content_length = len(TORRENT)
        await resp.prepare(request)
        await resp.write(TORRENT[:40])
        assert request.transport is not None
        request.transport.close()
        return resp

    server.route("GET", DOWNLOAD, cut)
    await server.start()
    async with hostile(server, max_retries=2) as client:
        assert isinstance(await fails(client.download_to(HASH, tmp_path)), la.TransportError)
    assert len(server.seen) == 3, "a download is safe to retry"
    assert os.listdir(tmp_path) == []


async def test_a_download_that_stalls_times_out_and_leaves_no_file(
    server: Server, never: asyncio.Event, tmp_path: Path
) -> None:

    async def stall(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "application/x-bittorrent"})
        resp.content_length = len(TORRENT)
        await resp.prepare(request)
        await resp.write(TORRENT[:-1])
        await never.wait()
        return resp

    server.route("GET", f"/api/download/{HASH}", stall)
    await server.start()
    async with hostile(server, timeout=0.2) as client:
        error = await fails(client.download_to(link_torrent(server), tmp_path))
    assert isinstance(error, la.RequestTimeoutError)
    assert os.listdir(tmp_path) == []


async def test_a_download_over_the_cap_leaves_no_file(server: Server, tmp_path: Path) -> None:
    async def big(request: web.Request) -> web.Response:
        return web.Response(body=TORRENT + b" " * 8192, content_type="application/x-bittorrent")

    server.route("GET", DOWNLOAD, big)
    await server.start()
    async with hostile(server, max_body_size=4096) as client:
        assert isinstance(await fails(client.download_to(HASH, tmp_path)), la.ResponseError)
    assert os.listdir(tmp_path) == []


async def test_a_token_echoed_by_a_refusing_server_never_comes_back(server: Server) -> None:
    async def refuse(request: web.Request) -> web.Response:
        return web.Response(
            status=500,
            text=f"<html><title>token {TOKEN} bad</title></html> {TOKEN[:20]}",
            content_type="text/html",
        )

    server.route("GET", f"/api/download/{HASH}", refuse)
    await server.start()
    async with hostile(server) as client:
        assert isinstance(await fails(client.download(link_torrent(server))), la.ServerError)
    assert server.keys == [None], "the token request never carries the key"


@pytest.mark.parametrize("auth", ["header", "query", "passkey"])
async def test_no_log_line_shows_the_key_in_any_auth_mode(
    server: Server, auth: str, caplog: pytest.LogCaptureFixture
) -> None:
    async def echo(request: web.Request) -> web.Response:
        status = 500 if len(server.seen) == 1 else 200
        return web.json_response([] if status == 200 else {"error": API_KEY}, status=status)

    server.route("GET", SEARCH, echo)
    await server.start()
    async with hostile(server, auth=auth, max_retries=1) as client:
        assert await client.search("x") == []
    assert len(server.seen) == 2
    # The autouse check reads these; they must be there for it to mean anything.
    assert any(
        r.name == "lacale_async" and "/api/external" in r.getMessage() for r in caplog.records
    )


async def test_a_compressed_download_over_the_cap_leaves_no_file(
    server: Server, tmp_path: Path
) -> None:
    bomb = gzip.compress(TORRENT + b" " * (4 * 1024 * 1024))

    async def answer(request: web.Request) -> web.Response:
        return web.Response(
            body=bomb,
            headers={"Content-Encoding": "gzip", "Content-Type": "application/x-bittorrent"},
        )

    server.route("GET", DOWNLOAD, answer)
    await server.start()
    assert len(bomb) < 64 * 1024
    async with hostile(server, max_body_size=64 * 1024) as client:
        error = await fails(client.download_to(HASH, tmp_path))
    assert isinstance(error, la.ResponseError)
    assert "cap" in str(error)
    assert os.listdir(tmp_path) == []


def _named(name: bytes) -> bytes:
    """A valid torrent whose name is any bytes the server likes."""
    info = {b"name": name, b"piece length": 16384, b"pieces": b"p" * 20, b"length": 1}
    return bencode2.bencode({b"announce": b"https://tracker.test/announce", b"info": info})


@pytest.mark.parametrize(
    "name",
    [
        b"../../escape",
        b"/etc/passwd",
        b"a/b",
        b"..",
        b"",
        b"x" * 1000,
        b"nul\x00x",
        b"CON",
        "\u202eevil".encode(),
        b"a\\..\\b",
        b"\xff\xfe/../x",
        "\u00e9".encode() * 300,
    ],
    ids=[
        "parent",
        "absolute",
        "slash",
        "dots",
        "empty",
        "long",
        "nul",
        "con",
        "rtl",
        "backslash",
        "not-utf8",
        "long-utf8",
    ],
)
async def test_a_torrent_named_by_a_hostile_server_is_saved_inside_the_folder(
    server: Server, tmp_path: Path, name: bytes
) -> None:
    # The server names the torrent, and the info hash the user asks for came from its own
    # search answer: a name is whatever it likes, and must not choose where the file goes.
    torrent = _named(name)

    async def answer(request: web.Request) -> web.Response:
        return web.Response(body=torrent, content_type="application/x-bittorrent")

    server.route("GET", "/api/torrents/download/{hash}", answer)
    await server.start()
    folder = tmp_path / "inside"
    await asyncio.to_thread(folder.mkdir)
    async with hostile(server) as client:
        path = await client.download_to(info_hash_of(torrent), folder)
    assert path.parent == folder
    assert os.listdir(folder) == [path.name]
    assert path.read_bytes() == torrent
    assert os.listdir(tmp_path) == ["inside"]


async def test_a_token_echoed_after_it_was_refused_never_comes_back(server: Server) -> None:
    # The token refused, the download falls back to the key; the server still knows the token.
    async def refuse(request: web.Request) -> web.Response:
        return web.json_response({"error": "token expired"}, status=401)

    async def echo(request: web.Request) -> web.Response:
        return web.json_response({"error": f"no torrent for token {TOKEN}"}, status=404)

    server.route("GET", f"/api/download/{HASH}", refuse)
    server.route("GET", DOWNLOAD, echo)
    await server.start()
    async with hostile(server) as client:
        assert isinstance(await fails(client.download(link_torrent(server))), la.NotFoundError)
    assert len(server.seen) == 2


def _tree(name: bytes) -> bytes:
    """A v2 torrent whose file tree holds a bad entry named ``name``: a message quotes it."""
    info = {b"file tree": {name: 1}, b"meta version": 2, b"name": b"x", b"piece length": 16384}
    return bencode2.bencode({b"info": info})


@pytest.mark.parametrize("secret", [API_KEY, TOKEN])
@pytest.mark.parametrize(
    "build",
    [_named, _tree, lambda name: b'{"' + name + b'": 1}'],
    ids=["other-torrent", "bad-field", "json-keys"],
)
async def test_a_torrent_quoting_a_secret_is_refused_without_it(
    server: Server, tmp_path: Path, secret: str, build: Callable[[bytes], bytes]
) -> None:
    # Not the torrent asked for (another one, named after the secret), or not a torrent (a
    # field the message names, a JSON object's keys): the IntegrityError quotes the server's
    # bytes, scrubbed.
    torrent = build(secret.encode())

    async def answer(request: web.Request) -> web.Response:
        return web.Response(body=torrent, content_type="application/x-bittorrent")

    server.route("GET", DOWNLOAD, answer)
    server.route("GET", f"/api/download/{HASH}", answer)
    await server.start()
    async with hostile(server) as client:
        # The token is the client's secret only where it sent it: with its link.
        for target in (link_torrent(server),) + ((HASH,) if secret == API_KEY else ()):
            assert isinstance(await fails(client.download(target)), la.IntegrityError)
            error = await fails(client.download_to(target, tmp_path))
            assert isinstance(error, la.IntegrityError)
    assert os.listdir(tmp_path) == []


async def test_a_search_result_whose_info_hash_is_the_key_is_refused_without_it(
    server: Server, tmp_path: Path
) -> None:
    # The refusal of a malformed info hash quotes it: the server's, in a search result.
    async def answer(request: web.Request) -> web.Response:
        return web.json_response([torrent_json(0, infoHash=API_KEY)])

    server.route("GET", SEARCH, answer)
    await server.start()
    async with hostile(server) as client:
        [found] = await client.search("x")
        assert isinstance(await fails(client.download(found)), la.ValidationError)
        error = await fails(client.download_to(found, tmp_path))
        assert isinstance(error, la.ValidationError)
    assert len(server.seen) == 1, "nothing is sent for a malformed hash"
    assert os.listdir(tmp_path) == []


async def test_a_torrent_with_a_huge_name_is_refused_with_a_short_message(
    server: Server,
) -> None:
    async def answer(request: web.Request) -> web.Response:
        return web.Response(body=_named(b"x" * 100_000), content_type="application/x-bittorrent")

    server.route("GET", DOWNLOAD, answer)
    await server.start()
    async with hostile(server) as client:
        error = await fails(client.download(HASH))
    assert isinstance(error, la.IntegrityError)
    assert len(str(error)) < 400


async def test_a_batch_meeting_every_hostile_answer_reports_each_and_goes_on(
    server: Server, never: asyncio.Event
) -> None:
    async def answer(request: web.Request) -> web.StreamResponse:
        q = request.query.get("q", "")
        if q == "cut":
            return await cut_short(request, length=100)
        if q == "hang":
            await never.wait()
        answers = {
            "ok": web.json_response([torrent_json()]),
            "html": web.Response(text="<html><title>502</title></html>", content_type="text/html"),
            "429": web.json_response({"error": API_KEY}, status=429, headers={"Retry-After": "x"}),
            "away": web.Response(status=302, headers={"Location": f"http://evil.test/{API_KEY}"}),
            "big": web.json_response([torrent_json(i) for i in range(200)]),
            "echo": web.json_response({"error": f"key {API_KEY}"}, status=500),
            "shape": web.json_response({"data": [torrent_json()]}),
        }
        return answers[q]

    server.route("GET", SEARCH, answer)
    await server.start()
    queries = ["ok", "cut", "hang", "html", "429", "away", "big", "echo", "shape"]
    async with hostile(server, timeout=0.3, max_body_size=8192) as client:
        outcomes = {str(o.query.query): o async for o in client.search_many(queries)}
    assert sorted(outcomes) == sorted(queries)
    assert [q for q, o in outcomes.items() if o.ok] == ["ok"]
    for query, outcome in outcomes.items():
        if query != "ok":
            assert outcome.error is not None
            assert_clean(outcome.error)
    assert isinstance(outcomes["hang"].error, la.RequestTimeoutError)
    assert isinstance(outcomes["cut"].error, la.TransportError)
    assert isinstance(outcomes["429"].error, la.RateLimitError)


# -- any framing, status, headers and body, drawn by hypothesis ----------------------------

_GOOD = (
    json.dumps([torrent_json()]).encode(),
    json.dumps(META_JSON).encode(),
    TORRENT,
    b'{"success": true, "id": "1"}',
)
_STATUSES = [200, 201, 204, 302, 304, 401, 403, 404, 410, 429, 500, 503, 100, 199, 299, 999]
_HEADERS = [
    b"Content-Type: application/json",
    b"Content-Type: text/html",
    b"Content-Encoding: gzip",
    b"Content-Encoding: deflate",
    b"Content-Encoding: br",
    b"Retry-After: -1",
    b"Retry-After: 1e999",
    b"Retry-After: Thu, 01 Jan 1970 00:00:00 GMT",
    b"Retry-After: \xff",
    b"Cache-Control: max-age=\xff, no-cache=",
    b"Age: 1e9",
    b"Location: " + SEARCH.encode(),
    b"Location: http://evil.test/",
    b"Location: ?apikey=" + API_KEY.encode(),
    b"Location: http://[::1",
    b"Connection: close",
    b"Transfer-Encoding: chunked",
    b"Content-Length: 3",
    b"Content-Length: 99999",
    b"X-Echo: " + API_KEY.encode(),
]
_BODIES = st.one_of(
    st.sampled_from(_GOOD),
    st.binary(max_size=60),
    st.sampled_from(_GOOD).map(gzip.compress),
    st.tuples(st.sampled_from(_GOOD), st.integers(0, 200)).map(lambda cut: cut[0][: cut[1]]),
    st.sampled_from([b"[", b"null", b"[null]", json.dumps({"error": API_KEY}).encode()]),
)
_ANSWERS = st.builds(
    lambda status, headers, body, length: (
        b"HTTP/1.1 %d X\r\n" % status
        + b"".join(header + b"\r\n" for header in headers)
        + (b"Content-Length: %d\r\n" % len(body) if length else b"")
        + b"\r\n"
        + body
    ),
    st.sampled_from(_STATUSES),
    st.lists(st.sampled_from(_HEADERS), max_size=4),
    _BODIES,
    st.booleans(),
)


@settings(
    max_examples=40,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    answers=st.lists(_ANSWERS, min_size=1, max_size=4),
    call=st.sampled_from(["search", "meta", "download", "download_to", "link", "upload"]),
    auth=st.sampled_from(["header", "query", "passkey"]),
)
async def test_any_raw_answer_ends_in_a_result_or_a_clean_error_and_leaves_no_file(
    tmp_path: Path, answers: list[bytes], call: str, auth: str
) -> None:
    # Each request (and retry, and redirect hop) gets the next answer, on a new connection.
    async def reply(number: int, head: bytes) -> bytes:
        return answers[number % len(answers)]

    folder = tmp_path / f"d{len(os.listdir(tmp_path))}"
    await asyncio.to_thread(folder.mkdir)
    async with RawServer(reply) as raw, raw_client(raw, max_retries=2, auth=auth) as client:
        holder = Server()
        holder.url = raw.url
        calls: dict[str, Callable[[], Awaitable[object]]] = {
            "search": lambda: client.search("x", categories=["films", "series"], tmdb_id=3),
            "meta": client.meta,
            "download": lambda: client.download(HASH),
            "download_to": lambda: client.download_to(HASH, folder),
            "link": lambda: client.download_to(link_torrent(holder), folder),
            "upload": lambda: client.upload(title="T", category="cat_films", torrent=TORRENT),
        }
        try:
            await calls[call]()
        except BaseException as exc:
            assert_clean(exc)
            assert os.listdir(folder) == [], "a failed download_to left a file"
