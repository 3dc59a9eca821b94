"""What the global options select: the tracker or the embedded sandbox, and a client for it."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from .._client import LaCaleClient
from .._config import DEFAULT_BASE_URL
from .._errors import ConfigurationError
from .._quota import resolve_key_rate
from .._secret import Secret
from .._transport import AuthMode
from ..testing import Profile, RateLimit, SandboxConfig, SandboxServer
from ._sandbox_state import SavedUploads
from ._waits import WaitWatch

__all__ = ["SANDBOX_RATES", "SandboxHook", "Settings", "open_client", "sandbox_config"]

SandboxHook = Callable[[SandboxServer], AbstractAsyncContextManager[object]]
"""What a command runs beside the embedded sandbox while it works (``watch`` publishes into it)."""

SANDBOX_RATES: dict[str, RateLimit] = {
    "search": RateLimit(5, 2.0),
    "meta": RateLimit(5, 2.0),
    "download": RateLimit(5, 2.0),
    "upload": RateLimit(30, 60.0),
}
"""Limits of the embedded sandbox (strict sliding windows), and the client rates used against it.

The client is given exactly the server's limits so a bulk run shows the limiter holding requests
back instead of the server answering 429: the demo's point is zero 429s at full speed.
"""


@dataclass(frozen=True)
class Settings:
    """The global options of one ``lacale`` invocation.

    Attributes:
        api_key: The user's key, or None; held in a :class:`Secret` so no repr shows it.
        base_url: The tracker's origin, or None for the default.
        auth: How the key is sent: ``header``, ``query`` or ``passkey``.
        json: Machine-readable output on stdout.
        sandbox: Run against the embedded sandbox even when a key is given.
        verbose: DEBUG logging of ``lacale_async`` on stderr.
        timeout: Seconds for one request.
        allow_insecure_http: Plain http to a host that is not loopback.
    """

    api_key: Secret | None = field(default=None, repr=False)
    base_url: str | None = None
    auth: AuthMode = "header"
    json: bool = False
    sandbox: bool = False
    verbose: bool = False
    timeout: float = 30.0
    allow_insecure_http: bool = False

    @property
    def uses_sandbox(self) -> bool:
        """True for ``--sandbox``, and when neither a key nor a base URL was given."""
        return self.sandbox or (self.api_key is None and self.base_url is None)

    @property
    def secrets(self) -> tuple[str, ...]:
        """Values no output may contain."""
        return (self.api_key.reveal(),) if self.api_key is not None else ()


def sandbox_config(profile: Profile = "live") -> SandboxConfig:
    """Return the settings of the embedded sandbox: limits from :data:`SANDBOX_RATES`."""
    limits = dict(SANDBOX_RATES)
    return SandboxConfig(
        key_limits=limits, ip_limits=limits, rate_limit_mode="sliding", profile=profile
    )


@asynccontextmanager
async def open_client(
    settings: Settings,
    *,
    note: Callable[[str], None],
    watch: WaitWatch | None = None,
    sandbox: SandboxConfig | None = None,
    on_sandbox: SandboxHook | None = None,
) -> AsyncIterator[LaCaleClient]:
    """Open a client for the selected target, starting the embedded sandbox when needed.

    The embedded sandbox gets back the uploads of earlier commands, and keeps this one's.

    Args:
        settings: The global options.
        note: Prints one informational line on stderr.
        watch: Sees every wait for a rate limit (for the spinner and the stats line).
        sandbox: The embedded sandbox's settings, when it is used; :func:`sandbox_config`'s
            when None.
        on_sandbox: Entered with the embedded sandbox once it runs, exited before it stops.

    Yields:
        An open client; it (and the sandbox) are closed on every way out.

    Raises:
        ConfigurationError: No key for a real tracker, or a bad base URL.
    """
    watch = watch if watch is not None else WaitWatch()
    common: dict[str, Any] = {
        "auth": settings.auth,
        "timeout": settings.timeout,
        "on_wait": watch.observe,
    }
    async with AsyncExitStack() as stack:
        if settings.uses_sandbox:
            server = await stack.enter_async_context(
                _embedded(settings, sandbox if sandbox is not None else sandbox_config(), note)
            )
            if "LACALE_KEY_RATE" in os.environ:
                # The user's own statement of the budget wins over the sandbox's, as it does
                # over the SDK's default (try `LACALE_KEY_RATE=3/86400 lacale --sandbox bulk`).
                common["key_rate"] = resolve_key_rate(None, is_default=True)
            # The sandbox's client keeps to its limits (SANDBOX_RATES) on its own.
            client = server.client(**common)
            if on_sandbox is not None:
                await stack.enter_async_context(on_sandbox(server))
        else:
            if settings.api_key is None:
                raise ConfigurationError(
                    "no API key for --base-url: pass --api-key or set LACALE_API_KEY "
                    "(or drop --base-url to use the embedded sandbox)"
                )
            client = LaCaleClient(
                settings.api_key.reveal(),
                base_url=settings.base_url or DEFAULT_BASE_URL,
                allow_insecure_http=settings.allow_insecure_http,
                **common,
            )
        yield await stack.enter_async_context(client)


@asynccontextmanager
async def _embedded(
    settings: Settings, config: SandboxConfig, note: Callable[[str], None]
) -> AsyncIterator[SandboxServer]:
    """Run the embedded sandbox with the uploads of earlier commands; keep this one's."""
    async with SandboxServer(config) as server:
        saved = SavedUploads()
        saved.load(server)
        if not settings.sandbox:
            note(
                "note: no API key given (--api-key or LACALE_API_KEY): "
                f"using the embedded sandbox at {server.base_url}"
            )
        try:
            yield server
        finally:
            saved.save(server)
