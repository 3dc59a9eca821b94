"""Fixtures for tests that talk raw HTTP to a sandbox running on a fake clock."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest

from lacale_async import FakeClock
from lacale_async.testing import SandboxConfig, SandboxServer


@pytest.fixture
def clock() -> FakeClock:
    """A clock the test moves by hand (server cache and windows wait on it)."""
    return FakeClock(1000.0, auto_advance=False)


@pytest.fixture
async def sandbox(clock: FakeClock) -> AsyncIterator[SandboxServer]:
    """A sandbox on 127.0.0.1 reading ``clock``, answering as documented (``docs`` profile).

    The live profile's differences are tested in test_sandbox_live.py.
    """
    async with SandboxServer(SandboxConfig(clock=clock, profile="docs")) as server:
        yield server


@pytest.fixture
async def http(sandbox: SandboxServer) -> AsyncIterator[aiohttp.ClientSession]:
    """A plain aiohttp session on the sandbox, sending its default key."""
    async with aiohttp.ClientSession(
        base_url=sandbox.base_url, headers={"X-Api-Key": sandbox.api_key}
    ) as session:
        yield session
