"""Tests for lacale_async._magnet, parsed back with urllib and torf."""

from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import torf

from lacale_async._errors import ValidationError
from lacale_async._magnet import magnet_uri
from lacale_async._torrent import parse_torrent

V1 = "0123456789ABCDEFabcdef0123456789abcdef01"
V2 = "ab" * 32
NAME = "Amélie & Nino + 100% vrai / été (2001)"
TRACKERS = ["https://la-cale.space/announce/PASSKEY?x=1&y=2", "udp://tracker.example:6969"]


def _query(uri: str) -> dict[str, list[str]]:
    parts = urlsplit(uri)
    assert parts.scheme == "magnet"
    return parse_qs(parts.query, strict_parsing=True)


def test_v1_round_trips_through_urllib() -> None:
    uri = magnet_uri(V1, NAME, TRACKERS)
    query = _query(uri)
    assert query["xt"] == [f"urn:btih:{V1.lower()}"]
    assert query["dn"] == [NAME]
    assert query["tr"] == TRACKERS
    # Nothing that would split the query or the name is left raw.
    raw_dn = uri.split("&dn=", 1)[1].split("&", 1)[0]
    assert re.fullmatch(r"(?:[A-Za-z0-9._~-]|%[0-9A-F]{2})+", raw_dn)
    assert " " not in uri


def test_v1_round_trips_through_torf() -> None:
    magnet = torf.Magnet.from_string(magnet_uri(V1, NAME, TRACKERS))
    assert magnet.infohash == V1.lower()
    assert magnet.dn == NAME
    assert magnet.tr == TRACKERS


def test_v2_uses_bep52_multihash() -> None:
    query = _query(magnet_uri(V2.upper(), "x"))
    assert query["xt"] == [f"urn:btmh:1220{V2}"]
    assert query["dn"] == ["x"]


def test_minimal_magnet() -> None:
    assert magnet_uri(V1) == f"magnet:?xt=urn:btih:{V1.lower()}"
    assert magnet_uri(V1, "") == f"magnet:?xt=urn:btih:{V1.lower()}"


def test_magnet_of_a_real_torrent_matches_torf(tmp_path: Path) -> None:
    content = tmp_path / "Film été.mkv"
    content.write_bytes(os.urandom(30_000))
    t = torf.Torrent(path=content, trackers=[TRACKERS[0]], private=True)
    t.generate()
    info = parse_torrent(t.dump())
    ours = torf.Magnet.from_string(magnet_uri(info.info_hash, info.name, [TRACKERS[0]]))
    theirs = t.magnet(size=False)
    assert ours.infohash == theirs.infohash == t.infohash
    assert ours.dn == theirs.dn == "Film été.mkv"
    assert ours.tr == theirs.tr


@pytest.mark.parametrize("bad", ["", "xyz", "g" * 40, "a" * 39, "a" * 48, "a" * 65, " " + "a" * 40])
def test_invalid_hash(bad: str) -> None:
    with pytest.raises(ValidationError, match="40 or 64"):
        magnet_uri(bad)


def test_trackers_must_not_be_a_single_string() -> None:
    with pytest.raises(ValidationError, match="sequence"):
        magnet_uri(V1, trackers="udp://tracker.example:6969")


@pytest.mark.parametrize("tracker", [None, "", 6969, b"udp://tracker.example:6969"])
def test_each_tracker_must_be_a_url(tracker: object) -> None:
    # None reached urllib's quote() and raised a raw TypeError.
    with pytest.raises(ValidationError, match="each tracker must be a URL"):
        magnet_uri(V1, trackers=[TRACKERS[0], tracker])  # type: ignore[list-item]


class _Hostile(str):
    """A str subclass whose own lower() says something else than what was checked."""

    def lower(self) -> str:
        return "../../external/meta?x="


def test_a_str_subclass_hash_is_named_as_checked() -> None:
    assert magnet_uri(_Hostile(V1)).startswith(f"magnet:?xt=urn:btih:{V1.lower()}")
