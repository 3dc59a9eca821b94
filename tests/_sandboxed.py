"""The sandbox on 127.0.0.1 (real sockets, real time) in both profiles, for client tests.

A pytest plugin: a test module loads its fixture with ``pytest_plugins = ["_sandboxed"]``.
A test taking ``tracker`` runs against both profiles: ``live`` (what the live tracker answers)
and ``docs`` (what its documentation says).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from conftest import NO_LIMITS

from lacale_async import LaCaleClient
from lacale_async.testing import SandboxConfig, SandboxServer

UNLIMITED = NO_LIMITS

NFO = b"Le Voyage de Chihiro (2001) - MULTi 1080p BluRay x264 - notes de version"


@pytest.fixture(params=["live", "docs"])
async def tracker(request: pytest.FixtureRequest) -> AsyncIterator[SandboxServer]:
    async with SandboxServer(SandboxConfig(seed=7, profile=request.param)) as server:
        yield server


def tracker_client(server: SandboxServer, **kwargs: Any) -> LaCaleClient:
    # server.client(): its key and URL, allow_empty_search for the docs profile.
    return server.client(**{**UNLIMITED, **kwargs})


def is_live(server: SandboxServer) -> bool:
    return server.config.profile == "live"
