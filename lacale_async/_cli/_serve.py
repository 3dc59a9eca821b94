"""``lacale sandbox``: a standalone sandbox server, or ``--reset`` of the embedded one."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import signal
import sys

import click

from .._errors import ConfigurationError, StorageError
from .._options import YEAR
from ..testing import CatalogueTorrent, Profile, SandboxServer, serve_sandbox
from ._app import command
from ._exit import EXIT_INTERRUPTED
from ._options import FiniteRange
from ._run import handled, note
from ._sandbox_state import SavedUploads
from ._sanitize import clean
from ._session import Settings, sandbox_config

__all__ = ["run_standalone", "sandbox"]


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


def _published(torrent: CatalogueTorrent) -> None:
    click.echo(
        f"published: {clean(torrent.title)} [{clean(torrent.category.name)}] "
        f"{torrent.info_hash[:12]}"
    )
    sys.stdout.flush()


async def _serve(host: str, port: int, profile: Profile, drip: float | None = None) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    # SIGTERM (a service manager, a test harness) shuts down as cleanly as Ctrl-C does.
    with contextlib.suppress(NotImplementedError, RuntimeError):
        loop.add_signal_handler(signal.SIGTERM, stop.set)
    server = SandboxServer(sandbox_config(profile), host=host, port=port)
    dripping: list[asyncio.Task[int]] = []

    def _stop_when_failed(task: asyncio.Task[int]) -> None:
        if not task.cancelled() and task.exception() is not None:
            stop.set()

    def started(server: SandboxServer) -> None:
        _announce(server)
        if drip is not None:
            click.echo(f"publishing a new release every {drip:g} s")
            task = loop.create_task(server.drip(drip, on_publish=_published))
            # A drip that fails (stdout's reader gone: '| head') stops the server, whose
            # error then ends the command (141), instead of serving on without publishing.
            task.add_done_callback(_stop_when_failed)
            dripping.append(task)

    try:
        await serve_sandbox(server, on_start=started, stop=stop)
    except OSError as exc:
        # asyncio's bind error repeats the address in its strerror: the errno's text is enough.
        reason = os.strerror(exc.errno) if exc.errno and exc.errno > 0 else exc.strerror or exc
        hint = "; pick another with --port (--port 0: any free port)"
        in_use = exc.errno == errno.EADDRINUSE
        message = f"cannot listen on {host}:{port}: {reason}{hint if in_use else ''}"
        raise ConfigurationError(message) from None
    finally:
        for task in dripping:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


def run_standalone(
    host: str, port: int, profile: Profile = "live", drip: float | None = None
) -> None:
    """Serve the sandbox on ``host:port`` until Ctrl-C or SIGTERM.

    The key printed is a throwaway sandbox key: printing it is the point.

    Args:
        host: Interface to bind (loopback by default).
        port: TCP port; 0 picks a free one (printed on start).
        profile: ``live`` (what the live tracker answers) or ``docs`` (what its docs say).
        drip: Publish a new release every this many seconds (printed), or None.

    Raises:
        ConfigurationError: The address cannot be bound.
        KeyboardInterrupt: Ctrl-C (the caller treats it as the normal way to stop).
    """
    asyncio.run(_serve(host, port, profile, drip))


def _reset() -> None:
    saved = SavedUploads()
    try:
        count = saved.forget()
    except OSError as exc:
        raise StorageError(f"cannot remove {saved.path.parent}: {exc.strerror or exc}") from None
    click.echo(
        f"embedded sandbox reset: {count} upload{'s' if count != 1 else ''} forgotten "
        f"({saved.path.parent})"
    )


@command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port",
    default=8765,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="Port to listen on (0: any free port, printed).",
)
@click.option(
    "--reset",
    is_flag=True,
    help="Forget the uploads the embedded sandbox (--sandbox) keeps between commands, and exit.",
)
@click.option(
    "--profile",
    type=click.Choice(["live", "docs"]),
    default="live",
    show_default=True,
    help="Answer like the live tracker, or like its documentation.",
)
@click.option(
    "--drip",
    # At most a year, as the sandbox's drip takes: a longer one failed only at Ctrl-C.
    type=FiniteRange(min=0, min_open=True, max=YEAR),
    metavar="SECONDS",
    help="Publish a new release every SECONDS (printed), for 'lacale watch' to find.",
)
def sandbox(
    settings: Settings, host: str, port: int, reset: bool, profile: Profile, drip: float | None
) -> None:
    """Run the sandbox tracker until Ctrl-C, and print how to point the SDK at it.

    This server starts from the seeded catalogue every time; the embedded sandbox that
    'lacale --sandbox ...' starts keeps its uploads between commands until --reset.
    """
    with handled(settings):
        if reset:
            _reset()
            return
        try:
            run_standalone(host, port, profile, drip)
        except KeyboardInterrupt:
            # Ctrl-C is how this command is meant to end; still 130, as everywhere.
            note("sandbox stopped")
            raise click.exceptions.Exit(EXIT_INTERRUPTED) from None
