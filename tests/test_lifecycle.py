"""Lifecycle and Openable: the states an opened-then-closed object goes through; the refusals."""

from __future__ import annotations

import asyncio

import pytest

from lacale_async._errors import ClientStateError
from lacale_async._lifecycle import ClientState, Lifecycle, Openable

HOW_TO_OPEN = "use 'async with' or await open()"
AFTER_CLOSE = "create a new one"


def for_good() -> Lifecycle:
    """A lifecycle like the client's: closed is final."""
    return Lifecycle("widget", how_to_open=HOW_TO_OPEN, after_close=AFTER_CLOSE)


def reopenable() -> Lifecycle:
    """A lifecycle like the sandbox server's: it may be opened again once closed."""
    return Lifecycle("server", how_to_open="call start()", after_close=None)


class Resource:
    """What being open means for a Widget, with a record of its release."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.released = False


class Widget(Openable[Resource]):
    """The smallest Openable, counting its starts and stops."""

    __slots__ = ("closable", "entered", "fail_start", "gate", "starts", "stopped")

    def __init__(self) -> None:
        self._life = for_good()
        self._opened = None
        self.starts = 0
        self.stopped: list[Resource] = []
        self.fail_start = False
        self.closable = True
        self.gate: asyncio.Event | None = None  # set: _start waits for it (a slow connect)
        self.entered = asyncio.Event()  # _start has begun

    async def _start(self) -> Resource:
        self.starts += 1
        self.entered.set()
        if self.gate is not None:
            await self.gate.wait()
        if self.fail_start:
            raise OSError("no connection")
        return Resource(self.starts)

    async def _stop(self, opened: Resource) -> None:
        opened.released = True
        self.stopped.append(opened)

    def _check_closable(self, opened: Resource) -> None:
        if not self.closable:
            raise ClientStateError("the widget cannot be closed from here")

    def use(self) -> Resource:
        return self._require_open()


# -- Lifecycle ----------------------------------------------------------------------------


def opens(life: Lifecycle) -> None:
    """Open ``life`` as an opener does: begin, then record the success."""
    life.begin_open()
    assert life.opened()


def test_a_new_lifecycle_is_unopened_and_may_open() -> None:
    life = for_good()
    states = [life.state]
    life.begin_open()  # no error
    states.append(life.state)  # unopened until the opener says it succeeded
    assert repr(life) == "Lifecycle('widget', unopened)"
    assert life.opened()
    states.append(life.state)
    assert states == [ClientState.UNOPENED, ClientState.UNOPENED, ClientState.OPEN]


def test_an_open_lifecycle_refuses_to_open_again() -> None:
    life = for_good()
    opens(life)
    assert repr(life) == "Lifecycle('widget', open)"
    with pytest.raises(ClientStateError) as info:
        life.begin_open()
    assert str(info.value) == "the widget is already open"
    assert life.state is ClientState.OPEN  # the refusal changes nothing


def test_an_opening_lifecycle_refuses_a_second_open() -> None:
    life = for_good()
    life.begin_open()
    with pytest.raises(ClientStateError, match=r"^the widget is already opening$"):
        life.begin_open()
    life.open_failed()
    opens(life)  # a failed open leaves it openable


def test_a_close_while_opening_wins() -> None:
    life = for_good()
    life.begin_open()
    assert life.close() is True
    assert not life.opened()  # the opener releases what it built
    assert life.state is ClientState.CLOSED
    assert str(life.closed_while_opening()) == "the widget was closed while it was opening"
    assert life.close() is False


def test_a_closed_lifecycle_refuses_to_open_with_the_after_close_advice() -> None:
    life = for_good()
    opens(life)
    assert life.close()
    with pytest.raises(ClientStateError) as info:
        life.begin_open()
    assert str(info.value) == "the widget was closed; create a new one"


def test_a_reopenable_lifecycle_may_open_again_after_closing() -> None:
    life = reopenable()
    opens(life)
    life.close()
    opens(life)  # after_close=None means it may reopen
    assert life.state is ClientState.OPEN
    with pytest.raises(ClientStateError, match=r"^the server is already open$"):
        life.begin_open()


def test_close_reports_only_the_first_close() -> None:
    life = for_good()
    assert life.close() is True  # closing one never opened counts as its close
    assert life.state is ClientState.CLOSED
    assert life.close() is False
    assert life.close() is False
    assert life.state is ClientState.CLOSED
    assert repr(life) == "Lifecycle('widget', closed)"


def test_a_reopened_lifecycle_reports_its_next_close_again() -> None:
    life = reopenable()
    opens(life)
    assert life.close() is True
    opens(life)
    assert life.close() is True
    assert life.close() is False
    life.begin_open()  # a reopen that a close overtakes: that close counts
    assert life.close() is True


@pytest.mark.parametrize(
    ("life", "close", "message"),
    [
        (for_good(), False, "the widget is not open: use 'async with' or await open()"),
        (for_good(), True, "the widget was closed; create a new one"),
        (reopenable(), False, "the server is not open: call start()"),
        (reopenable(), True, "the server is closed; call start()"),
    ],
    ids=["unopened", "closed-for-good", "reopenable-unopened", "reopenable-closed"],
)
def test_refusal_names_the_state_and_the_advice(life: Lifecycle, close: bool, message: str) -> None:
    if close:
        life.close()
    error = life.refusal()
    assert isinstance(error, ClientStateError)
    assert str(error) == message
    assert life.state is (ClientState.CLOSED if close else ClientState.UNOPENED)


# -- Openable -----------------------------------------------------------------------------


async def test_open_starts_once_and_returns_the_object() -> None:
    widget = Widget()
    states = [widget.state]
    assert await widget.open() is widget
    states.append(widget.state)
    assert states == [ClientState.UNOPENED, ClientState.OPEN]
    assert widget.use().n == 1
    with pytest.raises(ClientStateError, match=r"^the widget is already open$"):
        await widget.open()
    assert widget.starts == 1  # the refused open built nothing
    await widget.aclose()


async def opening(widget: Widget) -> asyncio.Task[Widget]:
    """Start ``widget.open()`` in a task and return it once it waits inside ``_start``."""
    widget.gate = asyncio.Event()
    task = asyncio.create_task(widget.open())
    await widget.entered.wait()
    return task


async def test_a_second_open_while_the_first_runs_is_refused_and_builds_nothing() -> None:
    # Regression: both opens succeeded, and the first one's resource was never released.
    widget = Widget()
    first = await opening(widget)
    second = asyncio.create_task(widget.open())
    assert widget.gate is not None
    widget.gate.set()
    opened, refused = await asyncio.gather(first, second, return_exceptions=True)
    assert opened is widget
    assert isinstance(refused, ClientStateError)
    assert str(refused) == "the widget is already opening"
    assert widget.starts == 1
    resource = widget.use()
    await widget.aclose()
    assert widget.stopped == [resource]


async def test_a_close_while_opening_releases_what_the_open_built() -> None:
    # Regression: the close was lost; the open then marked it open, its resource held.
    widget = Widget()
    first = await opening(widget)
    await widget.aclose()
    assert widget.state is ClientState.CLOSED
    assert widget.gate is not None
    widget.gate.set()
    with pytest.raises(ClientStateError, match=r"^the widget was closed while it was opening$"):
        await first
    assert [(r.n, r.released) for r in widget.stopped] == [(1, True)]
    assert widget.state is ClientState.CLOSED
    with pytest.raises(ClientStateError, match=r"^the widget was closed; create a new one$"):
        widget.use()


async def test_a_cancelled_open_leaves_it_unopened_and_openable() -> None:
    widget = Widget()
    first = await opening(widget)
    first.cancel()
    with pytest.raises(asyncio.CancelledError):
        await first
    assert widget.state is ClientState.UNOPENED
    widget.gate = None
    async with widget:
        assert widget.use().n == 2


async def test_async_with_stops_what_it_started_exactly_once() -> None:
    widget = Widget()
    async with widget as entered:
        assert entered is widget
        resource = widget.use()
    assert widget.state is ClientState.CLOSED
    assert widget.stopped == [resource]
    assert resource.released
    await widget.aclose()  # closing twice is harmless
    assert widget.stopped == [resource]


async def test_use_before_open_and_after_close_is_refused_with_the_advice() -> None:
    widget = Widget()
    with pytest.raises(ClientStateError, match=r"^the widget is not open: use 'async with'"):
        widget.use()
    async with widget:
        pass
    with pytest.raises(ClientStateError, match=r"^the widget was closed; create a new one$"):
        widget.use()
    with pytest.raises(ClientStateError, match=r"^the widget was closed; create a new one$"):
        await widget.open()
    assert widget.starts == 1


async def test_closing_one_never_opened_stops_nothing_and_forbids_opening() -> None:
    widget = Widget()
    await widget.aclose()
    assert widget.state is ClientState.CLOSED
    assert widget.stopped == []
    with pytest.raises(ClientStateError, match="was closed"):
        await widget.open()
    assert widget.starts == 0


async def test_a_failed_start_leaves_it_unopened_and_openable() -> None:
    widget = Widget()
    widget.fail_start = True
    with pytest.raises(OSError, match="no connection"):
        await widget.open()
    assert widget.state is ClientState.UNOPENED
    with pytest.raises(ClientStateError, match="is not open"):
        widget.use()
    widget.fail_start = False
    async with widget:
        assert widget.use().n == 2  # the second start, after the failed one
    assert [r.n for r in widget.stopped] == [2]


async def test_a_refused_close_leaves_it_open_and_usable() -> None:
    widget = Widget()
    await widget.open()
    widget.closable = False
    with pytest.raises(ClientStateError, match="cannot be closed from here"):
        await widget.aclose()
    assert widget.state is ClientState.OPEN
    assert widget.use().n == 1
    assert widget.stopped == []
    widget.closable = True
    await widget.aclose()
    assert [r.n for r in widget.stopped] == [1]


async def test_an_exception_inside_async_with_still_closes() -> None:
    widget = Widget()
    with pytest.raises(KeyError):
        async with widget:
            raise KeyError("boom")
    assert widget.state is ClientState.CLOSED
    assert len(widget.stopped) == 1


async def test_an_openable_without_start_cannot_open() -> None:
    class Bare(Openable[int]):
        __slots__ = ()

        def __init__(self) -> None:
            self._life = for_good()
            self._opened = None

    bare = Bare()
    with pytest.raises(NotImplementedError):
        await bare.open()
    assert bare.state is ClientState.UNOPENED
