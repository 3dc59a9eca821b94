"""pytest fixtures for code that talks to La Cale: a running sandbox and a client bound to it.

Install ``lacale-async[testing]`` (it brings pytest and pytest-asyncio): the plugin registers
itself (pytest11 entry point), and ``async def test_x(lacale_client)`` runs as is, in
pytest-asyncio's strict mode (its default) as in auto mode: a coroutine test that requests one
of these fixtures is marked ``asyncio`` for you, unless it already carries an ``asyncio``,
``anyio`` or ``trio`` mark. Listing ``"lacale_async.testing.pytest_plugin"`` in
``pytest_plugins`` as well is harmless. Loading the plugin starts nothing: a sandbox only runs
for tests that request one.

Fixtures:
    lacale_sandbox_profile: ``"live"`` (default: answer like the live tracker) or ``"docs"``;
        override it, or parametrize it (``@pytest.mark.parametrize("lacale_sandbox_profile",
        ["live", "docs"])``) to run a test against both.
    lacale_sandbox_config: The ``SandboxConfig`` (of that profile);
        override it in a conftest.py or a test module to change seed, limits, quirks or clock.
    lacale_sandbox: A running ``SandboxServer`` (function scope).
    lacale_client: A ``lacale_async.LaCaleClient`` opened on the sandbox with its key, its
        rate limits those of ``lacale_sandbox_config`` (so it is paced, never answered 429).
"""

from __future__ import annotations

import inspect
import sys
from collections.abc import AsyncIterator, Generator
from typing import Any

import pluggy
import pytest

from lacale_async import LaCaleClient
from lacale_async.testing import Profile, SandboxConfig, SandboxServer

try:
    import pytest_asyncio
except ImportError:  # pragma: no cover - depends on the environment
    _HAVE_PYTEST_ASYNCIO = False
else:
    _HAVE_PYTEST_ASYNCIO = True

_NEEDS = "the lacale_sandbox fixtures need pytest-asyncio: pip install 'lacale-async[testing]'"

# The fixtures that need an event loop: a coroutine test using any of them is an asyncio test.
_ASYNC_FIXTURES = frozenset({"lacale_sandbox", "lacale_client"})
_RUNNER_MARKS = ("asyncio", "anyio", "trio")

# The names this module can be registered under: the pytest11 entry point's (pyproject.toml)
# and its own, used by ``pytest_plugins = [...]`` and ``-p``.
_ALIASES = frozenset({"lacale_async", __name__})


def pytest_plugin_registered(
    plugin: object, plugin_name: str, manager: pytest.PytestPluginManager
) -> None:
    """Make a second registration of this module under its other name a no-op.

    An installed package loads the plugin through its entry point; a conftest.py listing it
    in ``pytest_plugins`` (or ``-p``) would then register the same module again and pluggy
    aborts the run. Blocking the other name makes the second request be skipped instead.
    """
    if plugin is sys.modules[__name__]:
        for alias in _ALIASES - {plugin_name}:
            if manager.get_plugin(alias) is None:
                manager.set_blocked(alias)


def _mark_asyncio(item: object) -> None:
    if (
        isinstance(item, pytest.Function)
        and inspect.iscoroutinefunction(item.obj)
        and _ASYNC_FIXTURES & set(item.fixturenames)
        and not any(item.get_closest_marker(name) for name in _RUNNER_MARKS)
    ):
        item.add_marker(pytest.mark.asyncio)


@pytest.hookimpl(hookwrapper=True, trylast=True)
def pytest_pycollect_makeitem(
    collector: pytest.Module | pytest.Class, name: str, obj: object
) -> Generator[None, pluggy.Result[Any], None]:
    """Mark coroutine tests that use the sandbox fixtures as asyncio tests.

    This wrapper runs inside pytest-asyncio's own (``trylast``), so pytest-asyncio sees the
    mark when it decides which items it runs: strict mode then needs no mark from the user.
    """
    outcome = yield
    if not _HAVE_PYTEST_ASYNCIO or outcome.exception is not None:
        return
    result = outcome.get_result()
    for item in result if isinstance(result, list) else [result]:
        _mark_asyncio(item)


@pytest.fixture
def lacale_sandbox_profile() -> Profile:
    """Return the profile ``lacale_sandbox_config`` uses: ``live``; override or parametrize."""
    return "live"


@pytest.fixture
def lacale_sandbox_config(lacale_sandbox_profile: Profile) -> SandboxConfig:
    """Return the settings ``lacale_sandbox`` starts with; override to customise."""
    return SandboxConfig(profile=lacale_sandbox_profile)


if _HAVE_PYTEST_ASYNCIO:

    @pytest_asyncio.fixture
    async def lacale_sandbox(
        lacale_sandbox_config: SandboxConfig,
    ) -> AsyncIterator[SandboxServer]:
        """Yield a sandbox running on 127.0.0.1 (a free port), stopped after the test."""
        async with SandboxServer(lacale_sandbox_config) as server:
            yield server

    @pytest_asyncio.fixture
    async def lacale_client(lacale_sandbox: SandboxServer) -> AsyncIterator[LaCaleClient]:
        """Yield a ``LaCaleClient`` opened on ``lacale_sandbox`` with its default key.

        Its rate limits are the sandbox's (see :func:`client_rates`): the client holds
        requests back instead of the sandbox answering 429.
        """
        async with lacale_sandbox.client() as client:
            yield client

else:  # pragma: no cover - depends on the environment

    @pytest.fixture
    def lacale_sandbox() -> None:
        """Fail with an explanation: pytest-asyncio is missing."""
        pytest.fail(_NEEDS, pytrace=False)

    @pytest.fixture
    def lacale_client() -> None:
        """Fail with an explanation: pytest-asyncio is missing."""
        pytest.fail(_NEEDS, pytrace=False)
