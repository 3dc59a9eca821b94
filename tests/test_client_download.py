"""``download`` and ``download_to``: the torrent asked for, by token link or by key,
written atomically or not at all."""

from __future__ import annotations

import logging
import os
import traceback
from pathlib import Path

import msgspec
import pytest
from _live_samples import make_jwt
from _mocked import (
    CHALLENGE,
    DOWNLOAD,
    HASH,
    NOW,
    TOKEN_LINK,
    TORRENT,
    calls,
    key_was_sent,
    make_live_client,
    sent,
    torrent_with,
)
from aioresponses import aioresponses
from conftest import API_KEY, BASE, info_hash_of, make_torrent

import lacale_async as la
from lacale_async import FakeClock, LaCaleClient

pytest_plugins = ["_mocked"]


# -- the network faked at the HTTP boundary ----------------------------------------------


async def test_download_checks_the_info_hash(client: LaCaleClient, mock: aioresponses) -> None:
    torrent = make_torrent()
    good = info_hash_of(torrent)
    mock.get(DOWNLOAD, body=torrent, content_type="application/x-bittorrent")
    assert await client.download(good.upper()) == torrent
    mock.get(DOWNLOAD, body=torrent, content_type="application/x-bittorrent")
    with pytest.raises(la.IntegrityError):
        await client.download("f" * 40)
    mock.get(DOWNLOAD, body="<html>login</html>", content_type="text/html")
    with pytest.raises(la.IntegrityError):
        await client.download(good)


@pytest.mark.parametrize("bad", ["abc", "g" * 40, "a" * 41, "", "../../etc/passwd"])
async def test_download_rejects_malformed_hashes_before_sending(
    client: LaCaleClient, mock: aioresponses, bad: str
) -> None:
    with pytest.raises(la.ValidationError):
        await client.download(bad)
    assert sent(mock) == 0


async def test_download_accepts_v2_hashes(client: LaCaleClient, mock: aioresponses) -> None:
    mock.get(DOWNLOAD, status=404, payload={"error": "Torrent introuvable"})
    with pytest.raises(la.NotFoundError, match="introuvable"):
        await client.download("a" * 64)


async def test_download_to_writes_atomically_into_a_folder(
    client: LaCaleClient, mock: aioresponses, tmp_path: Path
) -> None:
    torrent = make_torrent("../../evil/Amélie")
    mock.get(DOWNLOAD, body=torrent, content_type="application/x-bittorrent", repeat=True)
    path = await client.download_to(info_hash_of(torrent), tmp_path)
    assert path.parent == tmp_path
    assert path.read_bytes() == torrent
    assert path.name.endswith(".torrent")
    assert sorted(os.listdir(tmp_path)) == [path.name]
    with pytest.raises(la.DestinationExistsError):
        await client.download_to(info_hash_of(torrent), tmp_path)
    again = await client.download_to(info_hash_of(torrent), tmp_path, overwrite=True)
    assert again == path


async def test_download_to_masks_the_clients_key_in_the_name_it_chooses(
    client: LaCaleClient, mock: aioresponses, tmp_path: Path
) -> None:
    # A torrent named after the key (a hostile uploader, or a server echoing it) must not
    # put the key in the file system; the returned path is the file's, not a masked copy.
    torrent = make_torrent(f"Film.{API_KEY}.1080p")
    mock.get(DOWNLOAD, body=torrent, content_type="application/x-bittorrent")
    path = await client.download_to(info_hash_of(torrent), tmp_path)
    assert path.name == "Film.___.1080p.torrent"
    assert path.read_bytes() == torrent
    assert os.listdir(tmp_path) == [path.name]


async def test_download_to_existing_file_fails_before_the_request(
    client: LaCaleClient, mock: aioresponses, tmp_path: Path
) -> None:
    target = tmp_path / "x.torrent"
    target.write_bytes(b"keep me")
    with pytest.raises(la.DestinationExistsError):
        await client.download_to("a" * 40, target)
    assert sent(mock) == 0
    assert target.read_bytes() == b"keep me"


async def test_download_to_integrity_failure_leaves_nothing(
    client: LaCaleClient, mock: aioresponses, tmp_path: Path
) -> None:
    mock.get(DOWNLOAD, body=make_torrent(), content_type="application/x-bittorrent")
    with pytest.raises(la.IntegrityError):
        await client.download_to("b" * 40, tmp_path / "x.torrent")
    assert os.listdir(tmp_path) == []


async def test_download_to_a_missing_folder_fails_before_the_request(
    client: LaCaleClient, mock: aioresponses, tmp_path: Path
) -> None:
    with pytest.raises(la.ValidationError, match="does not exist"):
        await client.download_to("a" * 40, f"{tmp_path}/missing/")
    with pytest.raises(la.ValidationError):
        await client.download_to("a" * 40, tmp_path / "missing" / "x.torrent")
    assert sent(mock) == 0
    assert os.listdir(tmp_path) == []


async def test_download_to_an_unwritable_name_is_a_storage_error(
    client: LaCaleClient, mock: aioresponses, tmp_path: Path
) -> None:
    with pytest.raises(la.StorageError) as info:
        await client.download_to("a" * 40, tmp_path / ("x" * 300 + ".torrent"))
    assert isinstance(info.value, OSError)
    assert sent(mock) == 0


# -- answers shaped like the live tracker's ----------------------------------------------


async def test_a_fresh_link_downloads_with_its_token_and_without_the_key(
    live_client: LaCaleClient, mock: aioresponses, caplog: pytest.LogCaptureFixture
) -> None:
    token = make_jwt(NOW + 3600, sub="user")
    mock.get(TOKEN_LINK, body=TORRENT, content_type="application/x-bittorrent")
    with caplog.at_level(logging.DEBUG, logger="lacale_async"):
        assert await live_client.download(torrent_with(token)) == TORRENT
    [(_, url, kwargs)] = calls(mock)
    assert url.path == f"/api/download/{HASH}"
    assert url.query["token"] == token
    assert not key_was_sent(kwargs)
    assert token not in caplog.text
    assert live_client.stats.endpoints["download"].requests == 1


async def test_the_link_request_goes_through_the_download_limiter(mock: aioresponses) -> None:
    clock = FakeClock()
    mock.get(TOKEN_LINK, body=TORRENT, content_type="application/x-bittorrent", repeat=True)
    async with make_live_client(clock=clock, download_rate=(1, 10.0)) as client:
        await client.download(torrent_with())
        await client.download(torrent_with())
        stats = client.stats.endpoints["download"]
    assert stats.requests == 2
    # The second waited out the window (plus the limiter's small safety margin).
    assert 10.0 <= stats.limiter_wait < 11.0
    assert 10.0 <= clock.now() < 11.0


@pytest.mark.parametrize(
    ("token", "origin"),
    [
        (make_jwt(NOW - 5), BASE),  # expired
        (make_jwt(NOW + 10), BASE),  # expires before the request could be served
        (make_jwt(NOW + 3600), "http://localhost:3000"),  # the February 2026 glitch
        (make_jwt(NOW + 3600), "https://mirror.test"),
    ],
)
async def test_an_expired_or_foreign_link_falls_back_to_the_documented_path(
    live_client: LaCaleClient, mock: aioresponses, token: str, origin: str
) -> None:
    mock.get(DOWNLOAD, body=TORRENT, content_type="application/x-bittorrent")
    assert await live_client.download(torrent_with(token, origin=origin)) == TORRENT
    [(_, url, kwargs)] = calls(mock)
    assert url.host == "tracker.test"
    assert url.path == f"/api/torrents/download/{HASH}"
    assert "token" not in url.query
    assert key_was_sent(kwargs)


async def test_a_refused_token_falls_back_to_the_key_once(
    live_client: LaCaleClient, mock: aioresponses
) -> None:
    mock.get(TOKEN_LINK, status=401, payload={"error": "Token expiré"})
    mock.get(DOWNLOAD, body=TORRENT, content_type="application/x-bittorrent")
    assert await live_client.download(torrent_with()) == TORRENT
    paths = [url.path for _, url, _ in calls(mock)]
    assert paths == [f"/api/download/{HASH}", f"/api/torrents/download/{HASH}"]


@pytest.mark.parametrize(
    ("status", "body", "content_type"),
    [
        (403, CHALLENGE, "text/html"),
        (403, '{"error":"Access denied"}', "application/json"),
        (404, '{"error":"Torrent introuvable"}', "application/json"),
    ],
)
async def test_a_block_or_a_missing_torrent_is_not_retried_with_the_key(
    live_client: LaCaleClient, mock: aioresponses, status: int, body: str, content_type: str
) -> None:
    token = make_jwt(NOW + 3600)
    mock.get(TOKEN_LINK, status=status, body=body, content_type=content_type)
    with pytest.raises(la.APIError) as info:
        await live_client.download(torrent_with(token))
    assert info.value.status == status
    assert token not in str(info.value)
    assert token not in info.value.url
    assert len(calls(mock)) == 1


@pytest.mark.parametrize("status", [404, 429, 500])
async def test_a_token_the_server_echoes_in_its_refusal_never_comes_back(
    live_client: LaCaleClient, mock: aioresponses, status: int
) -> None:
    token = make_jwt(NOW + 3600)
    mock.get(
        TOKEN_LINK,
        status=status,
        payload={"error": f"no torrent for token {token}"},
        headers={"Retry-After": "99999"},  # a 429 not worth waiting for: raised at once
    )
    with pytest.raises(la.APIError) as info:
        await live_client.download(torrent_with(token))
    shown = "".join(traceback.format_exception(info.value))
    assert token not in shown
    assert token not in info.value.server_message
    assert "no torrent for token ***" in str(info.value)


async def test_the_integrity_check_applies_to_a_link_download(
    live_client: LaCaleClient, mock: aioresponses
) -> None:
    mock.get(TOKEN_LINK, body=make_torrent("Autre.Film"), content_type="application/x-bittorrent")
    with pytest.raises(la.IntegrityError):
        await live_client.download(torrent_with())


async def test_download_to_takes_a_torrent(
    live_client: LaCaleClient, mock: aioresponses, tmp_path: Path
) -> None:
    mock.get(TOKEN_LINK, body=TORRENT, content_type="application/x-bittorrent")
    path = await live_client.download_to(torrent_with(), tmp_path)
    assert path.read_bytes() == TORRENT
    [(_, url, _)] = calls(mock)
    assert url.path.startswith("/api/download/")


async def test_a_torrent_without_link_uses_the_documented_path(
    live_client: LaCaleClient, mock: aioresponses
) -> None:
    mock.get(DOWNLOAD, body=TORRENT, content_type="application/x-bittorrent")
    plain = msgspec.structs.replace(torrent_with(), download_link=None)
    assert await live_client.download(plain) == TORRENT


async def test_a_torrent_with_a_bad_hash_is_refused_before_sending(
    live_client: LaCaleClient, mock: aioresponses
) -> None:
    bad = msgspec.structs.replace(torrent_with(), info_hash="../../x")
    with pytest.raises(la.ValidationError):
        await live_client.download(bad)
    assert calls(mock) == []
