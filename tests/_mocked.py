"""Helpers for tests that fake the network with aioresponses: URL patterns, a client, counts."""

from __future__ import annotations

import re
from typing import Any

from aioresponses import aioresponses
from conftest import API_KEY, BASE

from lacale_async import FakeClock, LaCaleClient

SEARCH = re.compile(r"^https://tracker\.test/api/external(\?.*)?$")
META = re.compile(r"^https://tracker\.test/api/external/meta(\?.*)?$")
UPLOAD = re.compile(r"^https://tracker\.test/api/external/upload(\?.*)?$")


def offline_client(**kwargs: Any) -> LaCaleClient:
    """A client on the fake tracker: no rate limits, a fake clock, ``kwargs`` on top."""
    options: dict[str, Any] = {
        "base_url": BASE,
        "search_rate": None,
        "upload_rate": None,
        "download_rate": None,
        "meta_rate": None,
        "clock": FakeClock(),
    }
    options.update(kwargs)
    return LaCaleClient(API_KEY, **options)


def sent(m: aioresponses, method: str | None = None) -> int:
    """How many requests reached the fake network (of ``method`` only, when given)."""
    requests = (m.requests or {}).items()
    return sum(len(calls) for (verb, _), calls in requests if method in (None, verb))
