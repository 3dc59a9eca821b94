"""Fixtures for tests that talk raw HTTP to a sandbox running on a fake clock."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest

from lacale_async import FakeClock
from lacale_async.testing import Profile, SandboxConfig, SandboxServer


@pytest.fixture
def clock() -> FakeClock:
    """A clock the test moves by hand (server cache and windows wait on it)."""
    return FakeClock(1000.0, auto_advance=False)


@pytest.fixture
def sandbox_profile() -> Profile:
    """The profile of ``sandbox``: ``docs`` (the documented behaviour); override for ``live``."""
    return "docs"


@pytest.fixture
async def sandbox(clock: FakeClock, sandbox_profile: Profile) -> AsyncIterator[SandboxServer]:
    """A sandbox on 127.0.0.1 reading ``clock``, answering in ``sandbox_profile``'s way."""
    async with SandboxServer(SandboxConfig(clock=clock, profile=sandbox_profile)) as server:
        yield server


@pytest.fixture
async def http(sandbox: SandboxServer) -> AsyncIterator[aiohttp.ClientSession]:
    """A plain aiohttp session on the sandbox, sending its default key."""
    async with aiohttp.ClientSession(
        base_url=sandbox.base_url, headers={"X-Api-Key": sandbox.api_key}
    ) as session:
        yield session
