"""A bot author's tests: no conftest, no marks, no configuration.

Run them with ``pytest`` in any project that installed ``lacale-async[testing]``; CI runs them
in a fresh virtual environment, in pytest-asyncio's strict and auto modes.
"""

from __future__ import annotations

import pytest

from lacale_async import LaCaleClient, NotFoundError
from lacale_async.testing import Fault, SandboxConfig, SandboxServer


async def latest_titles(client: LaCaleClient, query: str) -> list[str]:
    """The bot's own code under test."""
    return [t.title for t in await client.search(query)]


async def test_search_through_the_fixture(lacale_client: LaCaleClient) -> None:
    titles = await latest_titles(lacale_client, "amelie")
    assert titles
    assert all("am" in title.lower() for title in titles)


async def test_faults_reach_the_bot(
    lacale_sandbox: SandboxServer, lacale_client: LaCaleClient
) -> None:
    lacale_sandbox.faults.add(Fault.error(404, "Torrent introuvable"), endpoint="download")
    with pytest.raises(NotFoundError):
        await lacale_client.download("0" * 40)


class TestSmallCatalogue:
    @pytest.fixture
    def lacale_sandbox_config(self) -> SandboxConfig:
        # Overriding the config fixture is how a suite changes the sandbox.
        return SandboxConfig(seed=7, catalogue_size=40)

    async def test_config_override(self, lacale_sandbox: SandboxServer) -> None:
        assert len(lacale_sandbox.catalogue) == 40


def test_sync_tests_still_run() -> None:
    assert latest_titles.__name__ == "latest_titles"
