"""Where an object that opens and closes is in its life: one record, one set of refusals.

The client, the fleet's ``RedisBackend`` and the sandbox server each keep a :class:`Lifecycle`
and ask it, never a field of their own, whether they may open or be used. The client and the
backend, opened once and closed once, share the open/close protocol too (:class:`Openable`).
"""

from __future__ import annotations

import asyncio
import enum
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import TYPE_CHECKING, Generic, TypeVar

from ._errors import ClientStateError

if TYPE_CHECKING:
    from typing_extensions import Self

__all__ = ["ClientState", "Lifecycle", "Openable"]


class ClientState(enum.Enum):
    """Where a client is in its life."""

    UNOPENED = "unopened"
    OPEN = "open"
    CLOSED = "closed"


R = TypeVar("R")


class Lifecycle:
    """The state of one object that is opened, used, then closed.

    Args:
        name: What the messages call the object (``"client"``, ``"RedisBackend"``).
        how_to_open: The advice for using it before it was opened.
        after_close: The advice once it is closed (``"create a new LaCaleClient"``); None for
            an object that may be opened again after closing (the sandbox server).
    """

    __slots__ = ("_after_close", "_how_to_open", "_name", "_opening", "_stopped", "state")

    def __init__(self, name: str, *, how_to_open: str, after_close: str | None) -> None:
        self._name = name
        self._how_to_open = how_to_open
        self._after_close = after_close
        self.state = ClientState.UNOPENED
        # Between begin_open() and opened(): the state is still the one it opens from.
        self._opening = False
        # Set once the close's release of what was open has ended (see Openable.aclose).
        self._stopped: asyncio.Event | None = None

    def begin_open(self) -> None:
        """Record that opening starts; refuse a second open, or (unless it may reopen) a closed one.

        Raises:
            ClientStateError: Already open or opening, or closed for good.
        """
        if self._opening:
            # Two opens at once would each build a session, and the first would leak.
            raise ClientStateError(f"the {self._name} is already opening")
        if self.state is ClientState.OPEN:
            raise ClientStateError(f"the {self._name} is already open")
        if self.state is ClientState.CLOSED and self._after_close is not None:
            raise ClientStateError(f"the {self._name} was closed; {self._after_close}")
        self._opening = True

    def opened(self) -> bool:
        """Record that opening succeeded; False when it was closed meanwhile (release, raise)."""
        if not self._opening:
            return False
        self._opening = False
        self.state = ClientState.OPEN
        return True

    def open_failed(self) -> None:
        """Record that opening failed: the state is the one it opened from."""
        self._opening = False

    def closed_while_opening(self) -> ClientStateError:
        """Return the error for an open that a close overtook (raise it)."""
        return ClientStateError(f"the {self._name} was closed while it was opening")

    async def open_with(
        self, start: Callable[[], Awaitable[R]], release: Callable[[R], Awaitable[None]]
    ) -> R:
        """Run ``start`` as this object's one open, and return what it built.

        Args:
            start: Builds what being open means (a session, a listening socket).
            release: Undoes it, when a close overtook the open.

        Raises:
            ClientStateError: See :meth:`begin_open`; or a close came while ``start`` ran
                (what it built is released).
        """
        self.begin_open()
        try:
            built = await start()
        except BaseException:
            self.open_failed()
            raise
        if not self.opened():
            await release(built)
            raise self.closed_while_opening()
        return built

    def close(self) -> bool:
        """Record the close; return False when it was closed already (closing twice is fine).

        A close while it opens wins: :meth:`opened` then says so, and the opener releases
        what it built.
        """
        was_closed = self.state is ClientState.CLOSED and not self._opening
        self._opening = False
        self.state = ClientState.CLOSED
        return not was_closed

    async def stop_with(self, stop: Awaitable[None]) -> None:
        """Await ``stop``, the close's release of what was open; :meth:`wait_stopped` follows it."""
        self._stopped = stopped = asyncio.Event()
        try:
            await stop
        finally:
            stopped.set()

    async def wait_stopped(self) -> None:
        """Return once the close's release (:meth:`stop_with`), if one runs, has ended."""
        if self._stopped is not None:
            await self._stopped.wait()

    def refusal(self) -> ClientStateError:
        """Return the error for using the object while it is not open (raise it)."""
        if self.state is ClientState.CLOSED and self._after_close is not None:
            return ClientStateError(f"the {self._name} was closed; {self._after_close}")
        if self.state is ClientState.CLOSED:
            return ClientStateError(f"the {self._name} is closed; {self._how_to_open}")
        return ClientStateError(f"the {self._name} is not open: {self._how_to_open}")

    def __repr__(self) -> str:
        return f"Lifecycle({self._name!r}, {self.state.value})"


class Openable(Generic[R]):
    """An object opened once, used, then closed once: ``async with``, or ``open()``/``aclose()``.

    A subclass sets ``_life`` and ``_opened = None`` in its constructor, builds what being open
    means in :meth:`_start` and releases it in :meth:`_stop`; while open, ``_opened`` holds it
    (a hot path may read it directly) and :meth:`_require_open` returns it.
    """

    __slots__ = ("_life", "_opened")

    _life: Lifecycle
    _opened: R | None

    @property
    def state(self) -> ClientState:
        """``UNOPENED``, ``OPEN`` or ``CLOSED``."""
        return self._life.state

    async def open(self) -> Self:
        """Open it; ``async with`` calls this for you.

        Returns:
            The object itself.

        Raises:
            ClientStateError: Already open or opening, or closed (it is not reusable, like an
                httpx client), or closed while it was opening (what it built is released).
        """
        self._opened = await self._life.open_with(self._start, self._stop)
        return self

    async def aclose(self) -> None:
        """Close it, ending the work in flight; closing twice is harmless.

        A close while another runs (a signal handler's, then the ``async with``'s) returns once
        the first has ended: the work in flight ended and what was open released.
        """
        opened = self._opened
        if opened is not None:
            self._check_closable(opened)
        if not self._life.close():
            await self._life.wait_stopped()
            return
        self._opened = None
        if opened is not None:
            await self._life.stop_with(self._stop(opened))

    async def __aenter__(self) -> Self:
        return await self.open()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def _require_open(self) -> R:
        opened = self._opened
        if opened is None:
            raise self._life.refusal()
        return opened

    async def _start(self) -> R:
        """Build what being open means (the session, the connection...)."""
        raise NotImplementedError

    async def _stop(self, opened: R) -> None:
        """Release what :meth:`_start` built."""
        raise NotImplementedError

    def _check_closable(self, opened: R) -> None:
        """Refuse to close from where it cannot be closed (another event loop...)."""
