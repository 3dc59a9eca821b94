"""``SandboxServer``: the sandbox on a real socket, and ``run_sandbox`` for the CLI."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from types import TracebackType
from typing import Any

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger

from .._client import LaCaleClient
from .._errors import ClientStateError, ConfigurationError, ValidationError, redact_url
from .._lifecycle import Lifecycle
from .._options import YEAR, check_number, describe, is_count
from ._app import build_app
from ._catalogue import Catalogue, CatalogueTorrent
from ._checks import check_optional_count, check_printable
from ._config import SandboxConfig, client_key_rate, client_rates
from ._faults import FaultInjector
from ._publish import add_published, new_release
from ._records import RecordedRequest, UploadRecord
from ._state import SandboxState

__all__ = ["SandboxServer", "run_sandbox", "serve_sandbox"]

logger = logging.getLogger("lacale_async.testing")

# Seconds close() lets in-flight requests finish before cutting them off.
_SHUTDOWN_TIMEOUT = 2.0


class _RedactingAccessLogger(AbstractAccessLogger):
    """aiohttp's access log, minus the credentials that ``?apikey=`` puts in the URL."""

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        self.logger.info(
            "%s %s %s %.3fs",
            request.method,
            redact_url(request.path_qs),
            response.status,
            time,
        )


class SandboxServer:
    """A La Cale API look-alike on 127.0.0.1, for tests and offline development.

    Use it as an async context manager::

        async with SandboxServer() as sandbox:
            client = LaCaleClient(api_key=sandbox.api_key, base_url=sandbox.base_url)

    Args:
        config: Catalogue, limits, cache, latency, quirks and clock; defaults when None.
        host: Interface to bind; loopback unless you really mean otherwise.
        port: TCP port; 0 picks a free one.

    Raises:
        ConfigurationError: ``config`` is not a :class:`SandboxConfig`, ``host`` not
            printable text, ``port`` not an int from 0 to 65535.
    """

    def __init__(
        self, config: SandboxConfig | None = None, *, host: str = "127.0.0.1", port: int = 0
    ) -> None:
        if config is not None and not isinstance(config, SandboxConfig):
            raise ConfigurationError(f"config must be a SandboxConfig, not {describe(config)}")
        # Checked here: start() raised a raw OverflowError for port 70000, a TypeError for
        # host=5 and a ValueError for a NUL in the host.
        check_printable(host, "host")
        if not (is_count(port, 0) and port <= 65_535):
            raise ConfigurationError(f"port must be an int from 0 to 65535, not {describe(port)}")
        self.config = config if config is not None else SandboxConfig()
        self.host = host
        self._requested_port = port
        self._state = SandboxState(self.config)
        self._life = Lifecycle(
            "sandbox", how_to_open="'async with SandboxServer()'", after_close=None
        )
        self._runner: web.AppRunner | None = None  # exactly while it runs
        self._port: int | None = None

    def __repr__(self) -> str:
        where = self.base_url if self._port is not None else "not started"
        return (
            f"SandboxServer({where}, profile={self.config.profile!r}, "
            f"torrents={len(self._state.catalogue)})"
        )

    async def start(self) -> None:
        """Bind the socket and start serving.

        Raises:
            ClientStateError: The server is already running or starting, or was closed while
                it started (nothing is left serving).
            OSError: The port cannot be bound.
        """
        runner = self._runner = await self._life.open_with(self._serve, web.AppRunner.cleanup)
        self._port = int(runner.addresses[0][1])

    async def _serve(self) -> web.AppRunner:
        """Return a runner serving on the host and port asked for (cleaned up if that fails)."""
        runner = web.AppRunner(
            build_app(self._state),
            access_log_class=_RedactingAccessLogger,
            access_log=logger,
            handle_signals=False,
            # A client that gives up (timeout) cancels its handler, as behind a real proxy, so
            # an injected delay never keeps a finished test waiting at shutdown.
            handler_cancellation=True,
            shutdown_timeout=_SHUTDOWN_TIMEOUT,
        )
        await runner.setup()
        try:
            site = web.TCPSite(runner, self.host, self._requested_port)
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        return runner

    async def close(self) -> None:
        """Stop serving and close every connection; safe to call twice."""
        self._life.close()
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    async def __aenter__(self) -> SandboxServer:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    @property
    def port(self) -> int:
        """Return the bound port.

        Raises:
            ClientStateError: The server was never started.
        """
        if self._port is None:
            raise ClientStateError("the sandbox has not been started")
        return self._port

    @property
    def base_url(self) -> str:
        """Return ``http://HOST:PORT``, the ``base_url`` to give a client."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def api_key(self) -> str:
        """Return the default valid API key."""
        return self._state.default_key

    def add_key(self, name: str | None = None, key: str | None = None) -> str:
        """Register another valid key (another user) and return it.

        Args:
            name: How the request log names it; ``key-2``, ``key-3``... when None.
            key: The key itself; random when None.

        Returns:
            The key.

        Raises:
            ValidationError: The key or the name is already registered, or the key is empty.
        """
        return self._state.add_key(name, key)

    @property
    def catalogue(self) -> Catalogue:
        """Return the torrents served (generated ones and uploads)."""
        return self._state.catalogue

    @property
    def faults(self) -> FaultInjector:
        """Return the fault queue; ``sandbox.faults.add(Fault.drop(), endpoint="search")``."""
        return self._state.faults

    @property
    def requests(self) -> list[RecordedRequest]:
        """Return a copy of the request log, in completion order."""
        return list(self._state.requests)

    @property
    def uploads(self) -> list[UploadRecord]:
        """Return a copy of the accepted uploads, in order."""
        return list(self._state.uploads)

    @property
    def throttled(self) -> dict[tuple[str, str], int]:
        """Return the 429s the rate limiter sent, by ``(endpoint, "ip" | "key")``."""
        return dict(self._state.throttled)

    @property
    def throttled_total(self) -> int:
        """Return how many 429s the rate limiter sent (injected 429 faults excluded)."""
        return sum(self._state.throttled.values())

    def client(self, **options: Any) -> LaCaleClient:
        """Return an unopened client for this sandbox: its key, its URL, its rate limits.

        The client's rates follow the sandbox's limits (see :func:`client_rates`), and its
        key-wide budget the sandbox's (see :func:`client_key_rate`), so it holds requests back
        instead of the sandbox answering 429. For the ``docs`` profile it is told
        that searches without a query are accepted (``allow_empty_search``), as documented.

        Args:
            **options: Further ``LaCaleClient`` options (``auth``, ``cache_ttl``...); they win
                over the derived ones.

        Returns:
            The client; open it with ``async with``.
        """
        rates = client_rates(self.config)
        settings: dict[str, Any] = {
            "base_url": self.base_url,
            # A throwaway key on a new port each run: its budget must not land in (and litter)
            # the user's cache folder.
            "quota_store": None,
            "key_rate": client_key_rate(self.config),
            **{f"{endpoint}_rate": rate for endpoint, rate in rates.items()},
        }
        if self.config.profile == "docs":
            settings["allow_empty_search"] = True
        settings.update(options)
        return LaCaleClient(self.api_key, **settings)

    def publish(
        self,
        title: str | None = None,
        *,
        category: str | None = None,
        size: int | None = None,
        seeders: int | None = None,
        tmdb_id: str | None = None,
        delay: float = 0.0,
    ) -> CatalogueTorrent:
        """Publish a new approved release, as if an uploader's torrent had just been accepted.

        It is newest of all, searchable and downloadable at once; like on the tracker, a
        search whose answer the sandbox cached before stays as cached until it expires.

        Args:
            title: Its title; None draws a release like the catalogue's (a random category).
            category: A category slug or id; None: ``films`` for a titled release.
            size: Its size in bytes; None draws one.
            seeders: Its seeders; None draws a number.
            tmdb_id: A TMDB id (digits); a drawn film or series has its own.
            delay: Seconds of the sandbox's clock before it appears (then dated when it
                does): tests on a fake clock publish "between rounds" this way, with no task
                waiting to do it.

        Returns:
            The release (its ``info_hash``, ``title``...).

        Raises:
            ValidationError: An unknown category, an empty title, a negative size, a delay
                that is not a number of seconds from 0 to a year; an argument of the wrong
                type.
        """
        check_number(delay, "delay", 0.0, YEAR, unit=" of seconds", error=ValidationError)
        torrent = new_release(
            self._state, title, category=category, size=size, seeders=seeders, tmdb_id=tmdb_id
        )
        add_published(self._state, torrent, delay)
        return torrent

    async def drip(
        self,
        every: float,
        *,
        count: int | None = None,
        category: str | None = None,
        on_publish: Callable[[CatalogueTorrent], None] | None = None,
    ) -> int:
        """Publish a drawn release every ``every`` seconds of the sandbox's clock.

        What ``lacale sandbox --drip S`` runs. Cancel the task to stop it.

        Args:
            every: Seconds between two releases (> 0).
            count: Stop after this many; None: until cancelled.
            category: Publish in this category (slug or id); None draws one each time.
            on_publish: Called with each release once it is searchable.

        Returns:
            How many were published (when ``count`` is reached).

        Raises:
            ValidationError: ``every`` is not a number of seconds > 0 and at most a year,
                ``count`` not None or an int >= 0, or an unknown category.
        """
        check_number(
            every, "every", 0.0, YEAR, open_low=True, unit=" of seconds", error=ValidationError
        )
        check_optional_count(count, "count")
        done = 0
        while count is None or done < count:
            await self.config.clock.sleep(every)
            torrent = self.publish(category=category)
            done += 1
            if on_publish is not None:
                on_publish(torrent)
        return done

    def reset(self) -> None:
        """Forget the traffic: request log, uploads, faults, rate-limit windows, search cache.

        Published releases (those still scheduled too) go with the uploads; keys and the
        generated catalogue stay.
        """
        self._state.reset()


def _print_now(line: str) -> None:
    # Flushed so a script reading the pipe sees the URL before the first request.
    print(line, flush=True)


async def serve_sandbox(
    server: SandboxServer,
    *,
    on_start: Callable[[SandboxServer], None] | None = None,
    stop: asyncio.Event | None = None,
) -> None:
    """Run ``server`` until ``stop`` is set or the task is cancelled.

    Args:
        server: A server that is not started yet.
        on_start: Called once the socket is bound (to print the URL...).
        stop: Set it to shut down; None serves until cancelled.
    """
    async with server:
        if on_start is not None:
            on_start(server)
        await (stop or asyncio.Event()).wait()


def run_sandbox(
    host: str = "127.0.0.1",
    port: int = 8080,
    *,
    config: SandboxConfig | None = None,
    echo: Callable[[str], None] | None = None,
) -> None:
    """Serve a sandbox until interrupted (Ctrl-C); what ``lacale sandbox --port N`` runs.

    Prints the base URL and the API key to use once the socket is bound. The key is a
    throwaway sandbox key, so printing it is the point.

    Args:
        host: Interface to bind.
        port: TCP port (0 picks a free one, printed on start).
        config: Sandbox settings; defaults when None.
        echo: Where the start-up lines go; stdout (flushed at once) when None.
    """
    say = echo if echo is not None else _print_now

    def announce(server: SandboxServer) -> None:
        say(f"La Cale sandbox listening on {server.base_url}")
        say(f"API key: {server.api_key}")
        say(
            f"{len(server.catalogue)} torrents (seed {server.config.seed}, profile "
            f"{server.config.profile}); Ctrl-C to stop"
        )

    # Ctrl-C is the documented way to stop it: not an error worth a traceback.
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve_sandbox(SandboxServer(config, host=host, port=port), on_start=announce))
