"""The fleet cache codec (``fleet._codec``): tagged UTF-8 JSON, and CodecError for all else."""

from __future__ import annotations

import msgspec
import pytest
from _live_samples import live_item
from conftest import META_JSON

from lacale_async import Meta
from lacale_async._models import decode_meta, decode_search
from lacale_async.fleet._codec import CODECS, CodecError

META: Meta = decode_meta(msgspec.json.encode(META_JSON))


def test_an_entry_is_the_format_tag_then_utf8_json() -> None:
    data = CODECS["meta"].encode(META)
    assert data.startswith(b"lc1:")
    body = data[len(b"lc1:") :]
    assert msgspec.json.decode(body.decode("utf-8"), type=Meta) == META


def test_a_non_ascii_entry_round_trips_as_the_str_a_decoding_client_returns() -> None:
    codec = CODECS["meta"]
    data = codec.encode(META)
    assert any(b > 0x7F for b in data)  # META_JSON's French labels: the UTF-8 path is taken
    assert codec.decode(data.decode("utf-8")) == META


@pytest.mark.parametrize("data", ["lc1:\udcff", "\udcff", "lc1:{\udc80}"])
def test_a_str_that_is_no_utf8_is_a_codec_error(data: str) -> None:
    # What decode_responses=True with encoding_errors="surrogateescape" gives for non-UTF-8
    # bytes: RedisCache.get must be able to drop it as a miss.
    with pytest.raises(CodecError, match=r"^unknown cache entry format$"):
        CODECS["meta"].decode(data)


@pytest.mark.parametrize("data", [b"", b"lc0:{}", b"{}", "lc2:{}", b"LC1:{}"])
def test_an_entry_without_the_tag_is_of_an_unknown_format(data: bytes | str) -> None:
    with pytest.raises(CodecError, match=r"^unknown cache entry format$") as caught:
        CODECS["meta"].decode(data)
    assert caught.value.__cause__ is None


@pytest.mark.parametrize("data", [None, 5, [], bytearray(b"lc1:{}"), memoryview(b"lc1:{}")])
def test_a_reply_that_is_not_bytes_or_str_is_of_an_unknown_format(data: object) -> None:
    with pytest.raises(CodecError, match=r"^unknown cache entry format$"):
        CODECS["meta"].decode(data)  # type: ignore[arg-type]  # what a junk reply may give


def test_a_tagged_entry_of_the_wrong_type_is_corrupt_and_says_why() -> None:
    with pytest.raises(CodecError, match=r"^corrupt cache entry: Expected `object`") as caught:
        CODECS["meta"].decode(b"lc1:[]")
    # Suppressed: msgspec's exception adds nothing the message does not already say.
    assert caught.value.__cause__ is None
    assert caught.value.__suppress_context__


def test_a_tagged_entry_that_is_no_json_is_corrupt() -> None:
    with pytest.raises(CodecError, match=r"^corrupt cache entry: "):
        CODECS["search"].decode(b"lc1:not json")


def test_a_search_entry_never_carries_a_download_token_nor_a_key_to_redis() -> None:
    # Redis is another server: a download link's token stays in the process, and a key the
    # tracker echoed in a link is stored redacted (a fleet hit then downloads by the key path).
    item = live_item("ab" * 20, token="eyJhbGciOiJIUzI1NiJ9.eyJleHAiOjR9.TOKEN-SIGNATURE-123")
    item["link"] = "https://la-cale.space/torrents/x?apikey=SECRET-KEY-42"
    [torrent] = decode_search(msgspec.json.encode([item]))
    assert torrent.download_link is not None
    data = CODECS["search"].encode((torrent,))
    assert b"TOKEN-SIGNATURE-123" not in data
    assert b"SECRET-KEY-42" not in data
    [stored] = CODECS["search"].decode(data)
    assert stored.download_link is None
    assert stored.link == "https://la-cale.space/torrents/x?apikey=***"
    assert msgspec.structs.replace(stored, link=torrent.link, download_link=None) == (
        msgspec.structs.replace(torrent, download_link=None)
    )
