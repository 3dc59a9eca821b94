"""Tests for lacale_async._torrent against torrents built by torf and by hand."""

from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path
from typing import Any

import pytest
import torf

from lacale_async import _torrent
from lacale_async._errors import (
    IntegrityError,
    InvalidTorrentError,
    LaCaleError,
    ResponseError,
    ValidationError,
)
from lacale_async._torrent import (
    SOURCE_FLAG,
    TorrentInfo,
    apply_source_flag,
    info_hash_v1,
    info_hash_v2,
    parse_torrent,
    verify_torrent,
)

ANNOUNCE = "https://tracker.example/announce/0123456789abcdef"


def benc(value: Any) -> bytes:
    """Bencode independently of the library under test (canonical: keys sorted as bytes)."""
    if isinstance(value, int):
        return b"i%de" % value
    if isinstance(value, str):
        value = value.encode()
    if isinstance(value, bytes):
        return b"%d:%s" % (len(value), value)
    if isinstance(value, list):
        return b"l" + b"".join(benc(v) for v in value) + b"e"
    if isinstance(value, dict):
        items = sorted((k.encode() if isinstance(k, str) else k, v) for k, v in value.items())
        return b"d" + b"".join(benc(k) + benc(v) for k, v in items) + b"e"
    raise TypeError(type(value))


def v1_info(**overrides: Any) -> dict[str, Any]:
    info: dict[str, Any] = {
        "name": "film.mkv",
        "piece length": 16384,
        "pieces": b"\x01" * 40,
        "length": 20000,
    }
    info.update(overrides)
    return {k: v for k, v in info.items() if v is not None}


def v2_tree() -> dict[str, Any]:
    def leaf(size: int) -> dict[str, Any]:
        return {"": {"length": size, "pieces root": b"\x02" * 32}}

    return {"a.txt": leaf(5), "dir": {"b.bin": leaf(70000), "sub": {"c": leaf(1)}}}


def make_torf(
    tmp_path: Path, *, multi: bool, private: bool, source: str | None
) -> tuple[bytes, Any]:
    """Create real content and a torrent for it with torf, an independent implementation."""
    if multi:
        root = tmp_path / "Série été"
        (root / "Saison 1").mkdir(parents=True)
        (root / "Saison 1" / "e01.mkv").write_bytes(os.urandom(40_000))
        (root / "Saison 1" / "e02.mkv").write_bytes(os.urandom(33_333))
        (root / "notes.nfo").write_bytes(b"nfo")
    else:
        root = tmp_path / "Film.2024.1080p.mkv"
        root.write_bytes(os.urandom(50_000))
    t = torf.Torrent(path=root, trackers=[ANNOUNCE], private=private, source=source)
    t.generate()
    return t.dump(), t


TORF_CASES = [
    pytest.param(multi, private, source, id=f"{'multi' if multi else 'single'}-{private}-{source}")
    for multi in (False, True)
    for private in (True, False)
    for source in (None, "other", SOURCE_FLAG)
]


@pytest.mark.parametrize(("multi", "private", "source"), TORF_CASES)
def test_parse_matches_torf(tmp_path: Path, multi: bool, private: bool, source: str | None) -> None:
    data, t = make_torf(tmp_path, multi=multi, private=private, source=source)
    info = parse_torrent(data)
    assert info.info_hash_v1 == t.infohash
    assert info.info_hash == t.infohash
    assert info.info_hash_v2 is None
    assert info.name == t.name
    assert info.private is private
    assert info.source == source
    assert info.total_size == t.size
    assert info_hash_v1(data) == t.infohash
    assert info_hash_v2(data) is None


@pytest.mark.parametrize(("multi", "private", "source"), TORF_CASES)
def test_set_source_flag_is_readable_by_torf(
    tmp_path: Path, multi: bool, private: bool, source: str | None
) -> None:
    data, t = make_torf(tmp_path, multi=multi, private=private, source=source)
    out, info = apply_source_flag(data, "set")
    reread = torf.Torrent.read_stream(io.BytesIO(out))
    assert reread.source == SOURCE_FLAG
    assert info.source == SOURCE_FLAG
    assert reread.infohash == info.info_hash
    assert parse_torrent(out) == info
    # Everything but the flag survives.
    assert reread.name == t.name
    assert reread.private == t.private
    assert reread.size == t.size
    assert reread.trackers == t.trackers
    if source == SOURCE_FLAG:
        assert out is data
        assert info.info_hash == t.infohash
    else:
        assert out != data
        assert info.info_hash != t.infohash


def test_set_custom_source(tmp_path: Path) -> None:
    data, _ = make_torf(tmp_path, multi=False, private=True, source=SOURCE_FLAG)
    out, info = apply_source_flag(data, "set", source="autre")
    assert info.source == "autre"
    assert torf.Torrent.read_stream(io.BytesIO(out)).source == "autre"


def test_set_keeps_unknown_keys_byte_for_byte() -> None:
    data = benc(
        {
            "announce": ANNOUNCE,
            "comment": "x",
            "info": v1_info(**{"x-custom": [1, b"\xff"]}),
            "url-list": ["http://a"],
        }
    )
    out, info = apply_source_flag(data)
    expected = benc(
        {
            "announce": ANNOUNCE,
            "comment": "x",
            "info": v1_info(**{"x-custom": [1, b"\xff"], "source": "lacale"}),
            "url-list": ["http://a"],
        }
    )
    assert out == expected
    assert (
        info.info_hash_v1
        == hashlib.sha1(benc(v1_info(**{"x-custom": [1, b"\xff"], "source": "lacale"}))).hexdigest()
    )


@pytest.mark.parametrize("policy", ["set", "refuse", "keep"])
def test_flag_already_present_returns_same_object(policy: Any) -> None:
    data = benc({"info": v1_info(source="lacale")})
    out, info = apply_source_flag(data, policy)
    assert out is data
    assert info == parse_torrent(data)


@pytest.mark.parametrize(
    ("source", "said"), [(None, "has no source flag"), ("blutopia", "'blutopia'")]
)
def test_refuse_explains_how_to_fix(source: str | None, said: str) -> None:
    data = benc({"info": v1_info(source=source)})
    with pytest.raises(ValidationError) as caught:
        apply_source_flag(data, "refuse")
    message = str(caught.value)
    assert said in message
    assert "'lacale'" in message
    assert "source_policy='set'" in message
    assert not isinstance(caught.value, InvalidTorrentError)


def test_keep_sends_as_is() -> None:
    data = benc({"info": v1_info(source="other")})
    out, info = apply_source_flag(data, "keep")
    assert out is data
    assert info.source == "other"


def test_apply_source_flag_rejects_bad_arguments() -> None:
    data = benc({"info": v1_info()})
    with pytest.raises(ValidationError, match="policy"):
        apply_source_flag(data, "replace")  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="non-empty"):
        apply_source_flag(data, "set", source="")
    # Encoded into the torrent: a lone surrogate raised a raw UnicodeEncodeError.
    with pytest.raises(ValidationError, match="source flag contains characters"):
        apply_source_flag(data, "set", source="\ud800")
    with pytest.raises(InvalidTorrentError):
        apply_source_flag(b"<html>", "keep")


def test_pure_v2_hash() -> None:
    info = {"file tree": v2_tree(), "meta version": 2, "name": "v2 pack", "piece length": 16384}
    data = benc({"announce": ANNOUNCE, "info": info, "piece layers": {}})
    parsed = parse_torrent(data)
    assert parsed.info_hash_v2 == hashlib.sha256(benc(info)).hexdigest()
    assert parsed.info_hash_v1 is None
    assert parsed.info_hash == parsed.info_hash_v2
    assert parsed.total_size == 5 + 70000 + 1
    assert info_hash_v2(data) == parsed.info_hash_v2
    with pytest.raises(InvalidTorrentError, match="pure v2"):
        info_hash_v1(data)


def test_hybrid_has_both_hashes() -> None:
    info = v1_info(**{"file tree": v2_tree(), "meta version": 2, "length": 70006})
    data = benc({"info": info})
    parsed = parse_torrent(data)
    assert parsed.info_hash_v1 == hashlib.sha1(benc(info)).hexdigest()
    assert parsed.info_hash_v2 == hashlib.sha256(benc(info)).hexdigest()
    assert parsed.info_hash == parsed.info_hash_v1
    assert parsed.total_size == 70006


def test_v2_set_flag_changes_v2_hash() -> None:
    info = {"file tree": v2_tree(), "meta version": 2, "name": "v2", "piece length": 16384}
    out, parsed = apply_source_flag(benc({"info": info}))
    assert parsed.info_hash_v2 == hashlib.sha256(benc({**info, "source": "lacale"})).hexdigest()
    assert out == benc({"info": {**info, "source": "lacale"}})


def test_very_deep_file_tree_is_walked_without_recursion() -> None:
    depth = 3000  # deeper than Python's default recursion limit, within the decoder's
    tree = b"d1:d" * depth + benc({"": {"length": 7}}) + b"e" * depth
    info = b"d9:file tree" + tree + b"12:meta versioni2e4:name1:n12:piece lengthi16384ee"
    parsed = parse_torrent(b"d4:info" + info + b"e")
    assert parsed.total_size == 7
    assert parsed.info_hash_v2 == hashlib.sha256(info).hexdigest()


def test_undecodable_name_and_source_are_replaced() -> None:
    info = parse_torrent(benc({"info": v1_info(name=b"caf\xe9", source=b"\xfflacale")}))
    assert info.name == "caf\ufffd"
    assert info.source == "\ufffdlacale"


def test_private_only_when_one() -> None:
    assert parse_torrent(benc({"info": v1_info(private=1)})).private is True
    assert parse_torrent(benc({"info": v1_info(private=0)})).private is False
    assert parse_torrent(benc({"info": v1_info()})).private is False


def test_torrent_info_is_frozen() -> None:
    info = parse_torrent(benc({"info": v1_info()}))
    assert isinstance(info, TorrentInfo)
    with pytest.raises(AttributeError):
        info.name = "x"  # type: ignore[misc]


def test_non_canonical_is_rejected_even_if_the_decoder_accepts_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    canonical = benc({"info": v1_info()})
    # Same content, keys of the info dict out of order: its raw bytes hash differently.
    unsorted = b"d4:infod4:name8:film.mkv6:lengthi20000e12:piece lengthi16384e6:pieces40:" + (
        b"\x01" * 40 + b"ee"
    )
    assert unsorted != canonical
    with pytest.raises(InvalidTorrentError):
        parse_torrent(unsorted)
    lenient = _torrent._bdecode(canonical)
    monkeypatch.setattr(_torrent, "_bdecode", lambda data: lenient)
    with pytest.raises(InvalidTorrentError, match="non-canonical"):
        parse_torrent(unsorted)
    assert parse_torrent(canonical).info_hash_v1 == hashlib.sha1(benc(v1_info())).hexdigest()


def _with_info(**overrides: Any) -> bytes:
    return benc({"info": v1_info(**overrides)})


HOSTILE: list[Any] = [
    pytest.param(b"", "empty", id="empty"),
    pytest.param(b"<!DOCTYPE html><html><body>Login</body></html>", "bencode", id="html"),
    pytest.param(b'{"error": "Torrent not found"}', "bencode", id="json"),
    pytest.param(benc({"info": v1_info()})[:-3], "bencode", id="truncated"),
    pytest.param(benc({"info": v1_info()}) + b"x", "bencode", id="trailing-garbage"),
    pytest.param(benc({"info": v1_info()}) + b"i1e", "bencode", id="two-values"),
    pytest.param(b"d8:announce3:urle", "no 'info'", id="no-info"),
    pytest.param(benc({"info": [1, 2]}), "'info' is a list", id="info-list"),
    pytest.param(benc({"info": 5}), "'info' is an integer", id="info-int"),
    pytest.param(benc([1, 2]), "top level is a list", id="top-list"),
    pytest.param(b"i42e", "top level is an integer", id="top-int"),
    pytest.param(_with_info(name=None), "'name' is missing", id="no-name"),
    pytest.param(_with_info(name=12), "'name' is an integer", id="name-int"),
    pytest.param(_with_info(length="20000"), "'length' is a string", id="length-str"),
    pytest.param(_with_info(length=-1), "below 0", id="length-negative"),
    pytest.param(_with_info(pieces=b"\x00" * 19), "multiple of 20", id="pieces-19"),
    pytest.param(_with_info(pieces=5), "'pieces' is an integer", id="pieces-int"),
    pytest.param(_with_info(pieces=None), "'pieces' is missing", id="no-pieces"),
    pytest.param(_with_info(**{"piece length": 0}), "below 1", id="piece-length-0"),
    pytest.param(_with_info(**{"piece length": None}), "'piece length'", id="no-piece-length"),
    pytest.param(_with_info(length=None), "exactly one", id="neither-length-nor-files"),
    pytest.param(
        _with_info(files=[{"length": 1, "path": ["a"]}]), "exactly one", id="length-and-files"
    ),
    pytest.param(_with_info(length=None, files=[]), "empty", id="files-empty"),
    pytest.param(_with_info(length=None, files={"a": 1}), "not a list", id="files-dict"),
    pytest.param(_with_info(length=None, files=[5]), "files[0]", id="files-entry-int"),
    pytest.param(_with_info(length=None, files=[{"path": ["a"]}]), "files[0]", id="no-file-len"),
    pytest.param(_with_info(length=None, files=[{"length": 1, "path": []}]), "path", id="path-0"),
    pytest.param(
        _with_info(length=None, files=[{"length": 1, "path": [1]}]), "path", id="path-int"
    ),
    pytest.param(_with_info(private="1"), "'private'", id="private-str"),
    pytest.param(_with_info(source=1), "'source'", id="source-int"),
    pytest.param(_with_info(**{"meta version": 3}), "meta version", id="meta-version-3"),
    pytest.param(_with_info(**{"meta version": 2}), "'file tree' is missing", id="v2-no-tree"),
    pytest.param(_with_info(**{"meta version": 2, "file tree": {}}), "no file", id="v2-empty-tree"),
    pytest.param(
        _with_info(**{"meta version": 2, "file tree": {"a": 1}}), "not a dictionary", id="v2-leaf"
    ),
    pytest.param(
        _with_info(**{"meta version": 2, "file tree": {"a": {"": {}}}}), "'length'", id="v2-nolen"
    ),
    pytest.param(b"d4:info99999999999999:xe", "bencode", id="huge-declared-length"),
    pytest.param(b"l" * 100_000 + b"e" * 100_000, "bencode", id="deeply-nested-list"),
    pytest.param(b"d4:info" + b"l" * 100_000 + b"e" * 100_001, "bencode", id="deep-in-info"),
    pytest.param(b"d4:infod4:namei03eee", "bencode", id="padded-int"),
    pytest.param(b"d4:infod4:name03:abcee", "bencode", id="padded-strlen"),
    pytest.param(b"d4:infodee4:infodee", "bencode", id="duplicate-key"),
]


@pytest.mark.parametrize(("data", "fragment"), HOSTILE)
def test_hostile_input_raises_invalid_torrent(data: bytes, fragment: str) -> None:
    with pytest.raises(InvalidTorrentError) as caught:
        parse_torrent(data)
    assert isinstance(caught.value, LaCaleError)
    assert isinstance(caught.value, ValueError)
    assert fragment in str(caught.value)
    assert len(str(caught.value)) < 400


@pytest.mark.parametrize("data", ["d4:infodee", None, 42])
def test_non_bytes_input(data: Any) -> None:
    with pytest.raises(InvalidTorrentError, match="must be bytes"):
        parse_torrent(data)


def test_bytearray_and_memoryview_are_accepted() -> None:
    data = benc({"info": v1_info()})
    expected = parse_torrent(data)
    assert parse_torrent(bytearray(data)) == expected  # type: ignore[arg-type]
    assert parse_torrent(memoryview(data)) == expected  # type: ignore[arg-type]


# verify_torrent


def test_verify_matches_any_case(tmp_path: Path) -> None:
    data, t = make_torf(tmp_path, multi=True, private=True, source=SOURCE_FLAG)
    assert verify_torrent(data, t.infohash).info_hash == t.infohash
    assert verify_torrent(data, t.infohash.upper()).info_hash == t.infohash


def test_verify_mismatch_names_both_hashes() -> None:
    data = benc({"info": v1_info()})
    actual = hashlib.sha1(benc(v1_info())).hexdigest()
    wanted = "AB" * 20
    with pytest.raises(IntegrityError) as caught:
        verify_torrent(data, wanted)
    assert actual in str(caught.value)
    assert wanted.lower() in str(caught.value)
    assert isinstance(caught.value, ResponseError)


def test_verify_v2_and_hybrid() -> None:
    v2 = {"file tree": v2_tree(), "meta version": 2, "name": "n", "piece length": 16384}
    data = benc({"info": v2})
    full = hashlib.sha256(benc(v2)).hexdigest()
    assert verify_torrent(data, full).info_hash_v2 == full
    # BEP 52: a pure v2 torrent's hash truncated to 20 bytes stands in where v1 ones go.
    assert verify_torrent(data, full[:40].upper()).info_hash_v2 == full
    with pytest.raises(IntegrityError, match=r"\(v2\)"):
        verify_torrent(data, "0" * 64)
    hybrid = v1_info(**{"file tree": v2_tree(), "meta version": 2})
    hdata = benc({"info": hybrid})
    assert verify_torrent(hdata, hashlib.sha1(benc(hybrid)).hexdigest())
    assert verify_torrent(hdata, hashlib.sha256(benc(hybrid)).hexdigest())
    # A hybrid has a real v1 hash: the truncated v2 one is not an alias for it.
    with pytest.raises(IntegrityError):
        verify_torrent(hdata, hashlib.sha256(benc(hybrid)).hexdigest()[:40])


@pytest.mark.parametrize(
    ("body", "looks"),
    [
        (b"", "empty body"),
        (b"\n  <!DOCTYPE html>\n<html><head><title>Cloudflare</title></head></html>", "HTML page"),
        (b"<HTML><BODY>502 Bad Gateway</BODY></HTML>", "HTML page"),
        (b'{"error": "Torrent introuvable", "code": 404}', "JSON document (keys: code, error)"),
        (b"[1, 2]", "a JSON document"),
        (b'{"error": "trunc', "invalid JSON"),
        (b'<?xml version="1.0"?><rss/>', "XML"),
        (b"\x89PNG\r\n\x1a\n\x00\x00", "not valid bencode"),
        (b"Internal Server Error", "not valid bencode"),
    ],
)
def test_verify_says_what_the_body_looks_like(body: bytes, looks: str) -> None:
    with pytest.raises(IntegrityError) as caught:
        verify_torrent(body, "a" * 40)
    assert looks in str(caught.value)
    assert "a" * 40 in str(caught.value)
    assert isinstance(caught.value.__cause__, InvalidTorrentError)


def test_verify_never_echoes_json_values() -> None:
    body = b'{"error": "bad key apikey=SECRET123", "detail": "SECRET123"}'
    with pytest.raises(IntegrityError) as caught:
        verify_torrent(body, "a" * 40)
    assert "SECRET123" not in str(caught.value)


@pytest.mark.parametrize("bad", ["", "abc", "g" * 40, "a" * 41, "a" * 63])
def test_verify_rejects_malformed_expected_hash(bad: str) -> None:
    with pytest.raises(ValidationError, match="40 or 64"):
        verify_torrent(benc({"info": v1_info()}), bad)
