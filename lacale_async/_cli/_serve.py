"""``lacale sandbox``: the sandbox tracker as a standalone server."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys

import click

from .._errors import ConfigurationError
from ..testing import Profile, SandboxServer, serve_sandbox
from ._session import sandbox_config

__all__ = ["run_standalone"]


def _announce(server: SandboxServer) -> None:
    lines = (
        f"La Cale sandbox listening on {server.base_url}",
        f"API key: {server.api_key}",
        f"{len(server.catalogue)} torrents, profile {server.config.profile}; Ctrl-C to stop. "
        "Point the SDK or the CLI at it with:",
        f"export LACALE_BASE_URL={server.base_url} LACALE_API_KEY={server.api_key}",
    )
    for line in lines:
        click.echo(line)
    # A script waiting for the URL on a pipe must see it now, not when the buffer fills.
    sys.stdout.flush()


async def _serve(host: str, port: int, profile: Profile) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    # SIGTERM (a service manager, a test harness) shuts down as cleanly as Ctrl-C does.
    with contextlib.suppress(NotImplementedError, RuntimeError):
        loop.add_signal_handler(signal.SIGTERM, stop.set)
    server = SandboxServer(sandbox_config(profile), host=host, port=port)
    try:
        await serve_sandbox(server, on_start=_announce, stop=stop)
    except OSError as exc:
        raise ConfigurationError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None


def run_standalone(host: str, port: int, profile: Profile = "live") -> None:
    """Serve the sandbox on ``host:port`` until Ctrl-C or SIGTERM.

    The key printed is a throwaway sandbox key: printing it is the point.

    Args:
        host: Interface to bind (loopback by default).
        port: TCP port; 0 picks a free one (printed on start).
        profile: ``live`` (what the live tracker answers) or ``docs`` (what its docs say).

    Raises:
        ConfigurationError: The address cannot be bound.
        KeyboardInterrupt: Ctrl-C (the caller treats it as the normal way to stop).
    """
    asyncio.run(_serve(host, port, profile))
