"""``_transfers``: the request ``download`` and ``download_to`` make, and ``upload``'s checks.

``Transfers`` is mixed into :class:`LaCaleClient`, so it is used through a client on the
network faked at the HTTP boundary (aioresponses, tests/_mocked.py). Token expiry is read on
the client's injected wall clock. tests/test_client_download.py and test_client_upload.py test
the client's answers; these tests pin which request goes out, and what is refused first.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from pathlib import Path

import msgspec
import pytest
from _live_samples import live_item, make_jwt
from _mocked import (
    DOWNLOAD,
    HASH,
    META,
    NOW,
    TOKEN_LINK,
    TORRENT,
    UPLOAD,
    calls,
    key_was_sent,
    make_client,
    make_live_client,
    sent,
    torrent_with,
)
from aioresponses import aioresponses
from conftest import BASE, META_JSON, info_hash_of, make_torrent
from yarl import URL

import lacale_async as la
from lacale_async import FakeClock, LaCaleClient
from lacale_async._download_link import EXPIRY_MARGIN
from lacale_async._models import decode_search
from lacale_async._transfers import Transfers

pytest_plugins = ["_mocked"]

Fetch = Callable[[LaCaleClient, "str | la.Torrent", Path], Awaitable[bytes]]
BITTORRENT = "application/x-bittorrent"
OK = {"success": True, "id": "1", "slug": "s", "link": "l"}


async def by_download(client: LaCaleClient, torrent: str | la.Torrent, folder: Path) -> bytes:
    return await client.download(torrent)


async def by_download_to(client: LaCaleClient, torrent: str | la.Torrent, folder: Path) -> bytes:
    return (await client.download_to(torrent, folder, overwrite=True)).read_bytes()


both = pytest.mark.parametrize("fetch", [by_download, by_download_to], ids=["download", "to"])


def requested(mock: aioresponses) -> list[URL]:
    return [url for _, url, _ in calls(mock)]


def serve_both(mock: aioresponses) -> None:
    """Answer the token link and the documented path alike: only the request made tells."""
    mock.get(TOKEN_LINK, body=TORRENT, content_type=BITTORRENT, repeat=True)
    mock.get(DOWNLOAD, body=TORRENT, content_type=BITTORRENT, repeat=True)


def documented(url: URL) -> bool:
    return url.origin() == URL(BASE) and url.path == f"/api/torrents/download/{HASH}"


def test_the_client_takes_its_transfers_from_the_mixin() -> None:
    assert issubclass(LaCaleClient, Transfers)
    for name in ("upload", "download", "download_to"):
        assert getattr(LaCaleClient, name) is getattr(Transfers, name)


# -- download: which request ------------------------------------------------------------


@both
async def test_a_fresh_link_on_this_origin_is_requested_with_its_token_and_not_the_key(
    mock: aioresponses, tmp_path: Path, fetch: Fetch
) -> None:
    serve_both(mock)
    token = make_jwt(NOW + 3600)
    async with make_live_client() as client:
        assert await fetch(client, torrent_with(token), tmp_path) == TORRENT
    [(_, url, kwargs)] = calls(mock)
    assert url.path == f"/api/download/{HASH}"
    assert url.query["token"] == token
    assert not key_was_sent(kwargs)


async def test_download_to_masks_the_links_token_in_the_name_it_chooses(
    mock: aioresponses, tmp_path: Path
) -> None:
    # The server names the torrent and issues the token in one answer: a torrent named after
    # the token must not put it in the file system, even when the token was refused.
    token = make_jwt(NOW + 3600, sub="secret-subject")
    torrent = make_torrent(f"Film.{token}.1080p")
    [linked] = decode_search(
        msgspec.json.encode([live_item(info_hash_of(torrent), token=token, origin=BASE)])
    )
    for refused in (False, True):
        if refused:
            mock.get(TOKEN_LINK, status=403, payload={"error": "token expired"})
        mock.get(TOKEN_LINK if not refused else DOWNLOAD, body=torrent, content_type=BITTORRENT)
        async with make_live_client() as client:
            path = await client.download_to(linked, tmp_path, overwrite=True)
        assert path.name == "Film.___.1080p.torrent"
        assert path.read_bytes() == torrent
        assert os.listdir(tmp_path) == [path.name]


@both
@pytest.mark.parametrize(
    "origin", ["https://tracker.test:8443", "http://tracker.test", "https://cdn.tracker.test"]
)
async def test_a_link_on_another_origin_is_never_requested(
    mock: aioresponses, tmp_path: Path, fetch: Fetch, origin: str
) -> None:
    serve_both(mock)
    async with make_live_client() as client:
        assert await fetch(client, torrent_with(origin=origin), tmp_path) == TORRENT
    [(_, url, kwargs)] = calls(mock)
    assert documented(url)
    assert "token" not in url.query
    assert key_was_sent(kwargs)


@both
async def test_a_token_within_the_expiry_margin_is_not_sent(
    mock: aioresponses, tmp_path: Path, fetch: Fetch
) -> None:
    serve_both(mock)
    async with make_live_client() as client:
        await fetch(client, torrent_with(make_jwt(NOW + EXPIRY_MARGIN)), tmp_path)
        await fetch(client, torrent_with(make_jwt(NOW + EXPIRY_MARGIN + 1)), tmp_path)
    first, second = requested(mock)
    assert documented(first)
    assert second.path == f"/api/download/{HASH}"


async def test_the_same_result_falls_back_once_the_clock_passes_its_tokens_expiry(
    mock: aioresponses,
) -> None:
    serve_both(mock)
    clock = FakeClock(wall_start=NOW)
    result = torrent_with(make_jwt(NOW + 600))
    async with make_live_client(clock=clock) as client:
        await client.download(result)
        clock.advance(600 - EXPIRY_MARGIN)
        await client.download(result)
    fresh, expired = requested(mock)
    assert fresh.path == f"/api/download/{HASH}"
    assert documented(expired)


@both
@pytest.mark.parametrize("status", [401, 403, 410])
async def test_a_refused_token_is_followed_by_the_documented_path_with_the_key(
    mock: aioresponses, tmp_path: Path, fetch: Fetch, status: int
) -> None:
    mock.get(TOKEN_LINK, status=status, payload={"error": "Lien expiré"})
    mock.get(DOWNLOAD, body=TORRENT, content_type=BITTORRENT)
    async with make_live_client() as client:
        assert await fetch(client, torrent_with(), tmp_path) == TORRENT
    (_, link, link_kwargs), (_, url, kwargs) = calls(mock)
    assert link.path == f"/api/download/{HASH}"
    assert not key_was_sent(link_kwargs)
    assert documented(url)
    assert key_was_sent(kwargs)


async def test_when_the_key_is_refused_after_the_token_its_error_is_raised_after_two_requests(
    mock: aioresponses,
) -> None:
    mock.get(TOKEN_LINK, status=401, payload={"error": "Lien expiré"}, repeat=True)
    mock.get(DOWNLOAD, status=401, payload={"error": "Invalid API key"}, repeat=True)
    async with make_live_client() as client:
        with pytest.raises(la.AuthenticationError, match="Invalid API key") as info:
            await client.download(torrent_with())
    assert URL(info.value.url).path == f"/api/torrents/download/{HASH}"
    assert len(calls(mock)) == 2


async def test_a_link_on_this_origin_for_another_torrent_is_not_requested(
    mock: aioresponses,
) -> None:
    serve_both(mock)
    other = torrent_with()
    assert other.download_link is not None
    link = other.download_link.replace(HASH, "f" * 40)
    result = msgspec.structs.replace(other, download_link=link)
    async with make_live_client() as client:
        assert await client.download(result) == TORRENT
    [url] = requested(mock)
    assert documented(url)


async def test_an_uppercase_hash_is_asked_for_in_lowercase_by_link_or_by_key(
    mock: aioresponses,
) -> None:
    serve_both(mock)
    upper = msgspec.structs.replace(torrent_with(), info_hash=HASH.upper())
    async with make_live_client() as client:
        assert await client.download(upper) == TORRENT  # the link still names it
        assert await client.download(HASH.upper()) == TORRENT  # a hash never has a link
    by_link, by_key = requested(mock)
    assert by_link.path == f"/api/download/{HASH}"
    assert documented(by_key)


async def test_download_to_refuses_a_bad_hash_before_it_looks_at_the_destination(
    mock: aioresponses, tmp_path: Path
) -> None:
    existing = tmp_path / "kept.torrent"
    existing.write_bytes(b"mine")
    async with make_live_client() as client:
        with pytest.raises(la.ValidationError, match="info hash must be 40"):
            await client.download_to("../kept", existing)
        with pytest.raises(la.DestinationExistsError):
            await client.download_to(torrent_with(), existing)
    assert existing.read_bytes() == b"mine"
    assert sent(mock) == 0


# -- upload: what is refused first, before anything is sent -----------------------------


async def test_a_bad_field_is_refused_before_the_client_is_even_open(
    mock: aioresponses, tmp_path: Path
) -> None:
    client = make_client(FakeClock())  # never opened
    with pytest.raises(la.ValidationError, match="title must be a non-empty string"):
        await client.upload(title="  ", category="films", torrent=tmp_path / "missing.torrent")
    assert sent(mock) == 0


async def test_a_client_not_open_refuses_before_it_reads_the_torrent(
    mock: aioresponses, tmp_path: Path
) -> None:
    client = make_client(FakeClock())
    with pytest.raises(la.ClientStateError, match="is not open"):
        await client.upload(title="T", category="films", torrent=tmp_path / "missing.torrent")
    async with client:
        pass
    with pytest.raises(la.ClientStateError, match="was closed; create a new LaCaleClient"):
        await client.upload(title="T", category="films", torrent=b"not a torrent")
    assert sent(mock) == 0


@pytest.mark.parametrize(
    ("over", "error", "match"),
    [
        ({"torrent": b"not a torrent"}, la.InvalidTorrentError, "not a torrent"),
        ({"torrent": b""}, la.InvalidTorrentError, "the data is empty"),
        ({"nfo": "/does/not/exist.nfo"}, la.ValidationError, "nfo file not found"),
        ({"torrent": "/does/not/exist.torrent"}, la.ValidationError, "torrent file not found"),
    ],
)
async def test_a_torrent_or_nfo_that_cannot_be_used_is_refused_before_meta_is_fetched(
    client: LaCaleClient,
    mock: aioresponses,
    over: dict[str, object],
    error: type[Exception],
    match: str,
) -> None:
    mock.get(META, payload=META_JSON, repeat=True)
    mock.post(UPLOAD, payload=OK)
    args: dict[str, object] = {"title": "T", "category": "films", "torrent": make_torrent()}
    args.update(over)
    with pytest.raises(error, match=match):
        await client.upload(**args)  # type: ignore[arg-type]
    assert sent(mock) == 0


async def test_an_unknown_category_is_refused_once_meta_is_read_and_nothing_is_posted(
    client: LaCaleClient, mock: aioresponses
) -> None:
    mock.get(META, payload=META_JSON)
    mock.post(UPLOAD, payload=OK)
    with pytest.raises(la.ValidationError, match="unknown category 'opera'; known slugs: "):
        await client.upload(title="T", category="opera", torrent=make_torrent())
    assert sent(mock, "GET") == 1
    assert sent(mock, "POST") == 0


class _ClosingClient(LaCaleClient):
    """A client whose ``meta`` answers, then finds the client closed (as another task would)."""

    async def meta(self, *, cache: la.CacheMode = "use") -> la.Meta:
        found = await super().meta(cache=cache)
        await self.aclose()
        return found


async def test_a_client_closed_while_meta_was_fetched_posts_nothing(mock: aioresponses) -> None:
    mock.get(META, payload=META_JSON)
    mock.post(UPLOAD, payload=OK)
    client = _ClosingClient("k" * 32, base_url=BASE, clock=FakeClock(), upload_rate=None)
    async with client:
        with pytest.raises(la.ClientStateError, match="was closed; create a new LaCaleClient"):
            await client.upload(title="T", category="films", torrent=make_torrent())
    assert sent(mock, "GET") == 1
    assert sent(mock, "POST") == 0


async def test_an_upload_from_a_path_answers_with_the_hash_and_bytes_it_sent(
    client: LaCaleClient, mock: aioresponses, tmp_path: Path
) -> None:
    original = make_torrent("Le.Mepris.1963.1080p", source=None)
    path = tmp_path / "le-mepris.torrent"
    path.write_bytes(original)
    mock.get(META, payload=META_JSON)
    mock.post(UPLOAD, payload=OK)
    result = await client.upload(title="T", category="films", torrent=path)
    [(_, _, kwargs)] = [c for c in calls(mock) if c[0] == "POST"]
    [posted] = [value for opts, _h, value in kwargs["data"]._fields if opts["name"] == "file"]
    assert result.torrent == posted
    assert result.torrent != original  # the source flag added
    assert posted is not None
    assert result.info_hash == info_hash_of(posted)
    assert path.read_bytes() == original  # the file itself is never rewritten
