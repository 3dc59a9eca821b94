"""``lacale watch``: one line per new release, saved or handed to a command, until Ctrl-C.

Against the embedded sandbox (no key, or ``--sandbox``) it is a demonstration: the sandbox
publishes a release matching one of the queries every few seconds, and its daily budget is
scaled down to an hour, so releases arrive within a minute instead of a quarter of an hour.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import itertools
import logging
from collections.abc import AsyncIterator, Iterator
from contextlib import aclosing
from pathlib import Path

import click

from .._bulk import SearchQuery
from .._errors import StorageError
from .._userdir import user_cache_dir
from .._watch import Delivery
from ..testing import RateLimit, SandboxConfig, SandboxServer
from ._app import command
from ._background import beside
from ._completion import cat_option
from ._names import log_text
from ._options import FiniteRange
from ._run import connect, handled, note, run_command, stdout_console
from ._sanitize import clean
from ._session import SandboxHook, Settings, sandbox_config
from ._watch_actions import Actions, check_folder, parse_command

__all__ = ["DEMO_DAY", "DEMO_DRIP", "watch"]

DEMO_DRIP = 20.0
"""Seconds between two releases the embedded sandbox publishes for ``lacale watch``."""
DEMO_DAY = 3600.0
"""The embedded sandbox's "day" for ``lacale watch``: its 200 requests a day last an hour."""

_STATE_FILE = "watch.sqlite3"


class _NoteHandler(logging.Handler):
    """The watch's INFO lines (its plan, its retries) as notes on stderr.

    Its warnings are left to the command's own handler (``run_command``), which says every
    SDK warning once, with the ``warning:`` prefix.
    """

    def __init__(self, secrets: tuple[str, ...]) -> None:
        super().__init__(logging.INFO)
        self._secrets = secrets

    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno < logging.WARNING:
            # A line may quote a query or a server's answer; the SDK scrubs its own texts,
            # masking again guards the key all the same.
            note(log_text(record), self._secrets)


@contextlib.contextmanager
def _watch_notes(settings: Settings) -> Iterator[None]:
    if settings.verbose:  # -v already shows every log line, these included
        yield
        return
    logger = logging.getLogger("lacale_async.watch")
    handler = _NoteHandler(settings.secrets)
    logger.addHandler(handler)
    level = logger.level
    logger.setLevel(logging.INFO)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def demo_title(query: SearchQuery, number: int) -> str:
    """Return a release title the sandbox search finds for ``query`` (its words, dotted)."""
    words = ".".join(w.capitalize() for w in (query.query or "release").split())
    quality = ("1080p.WEB-DL.x264", "2160p.BluRay.x265", "720p.HDTV.x264")[number % 3]
    return f"{words}.{2026 + number // 3}.MULTi.{quality}-LACALE"


def _demo(queries: list[SearchQuery]) -> tuple[SandboxConfig, SandboxHook]:
    """Return the embedded sandbox's settings and what publishes into it while the watch runs."""
    config = dataclasses.replace(
        sandbox_config(), key_budget=(RateLimit(60, 60.0), RateLimit(200, DEMO_DAY))
    )

    @contextlib.asynccontextmanager
    async def drip(server: SandboxServer) -> AsyncIterator[None]:
        async def publish() -> None:
            for number in itertools.count():
                await asyncio.sleep(DEMO_DRIP)
                query = queries[number % len(queries)]
                category = query.categories[0] if query.categories else None
                server.publish(demo_title(query, number), category=category)

        note(
            f"note: the embedded sandbox publishes a release matching your queries every "
            f"{DEMO_DRIP:g} s, and its daily budget lasts an hour here (the tracker's lasts "
            "24 h, so a watch there polls far less often)"
        )
        async with beside(publish()):
            yield

    return config, drip


def _state_path(settings: Settings, state: str | None) -> Path | None:
    if state is not None:
        return Path(state)
    if settings.uses_sandbox:
        return None  # a new sandbox, a new port: nothing to remember
    folder = user_cache_dir()
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        # Exit 12 like every folder problem, with the two ways out, not errno text.
        raise StorageError(
            f"cannot create the cache folder {folder} ({exc.strerror or type(exc).__name__}): "
            "set LACALE_CACHE_DIR to a folder you can write, or pass --state FILE"
        ) from None
    return folder / _STATE_FILE


@command()
@click.argument("words", nargs=-1, required=True, metavar="QUERY...")
@cat_option("Category for every query (repeatable).")
@click.option(
    "--interval",
    type=FiniteRange(min=0, min_open=True),
    metavar="SECONDS",
    help="Seconds between two searches of one query (default: what the key's daily budget "
    "allows at --budget-share, never under 30).",
)
@click.option(
    "--budget-share",
    type=FiniteRange(0, 1, min_open=True),
    default=0.5,
    show_default=True,
    help="Share of the key's daily budget the watch may spend.",
)
@click.option(
    "--state",
    metavar="FILE",
    help="Where what was seen is kept, so a restart announces what appeared meanwhile and "
    "nothing twice (default: watch.sqlite3 in the user cache folder).",
)
@click.option("--include-existing", is_flag=True, help="Also announce what the first search lists.")
@click.option(
    "--download-to",
    metavar="DIR/",
    help="Save each new .torrent into this folder (a client's watch folder); a trailing / "
    "creates it. A save that fails for a transient reason is tried again at a later round.",
)
@click.option(
    "--exec",
    "exec_text",
    metavar="CMD",
    help="Run CMD for each new release, its fields in LACALE_TITLE, LACALE_INFO_HASH, "
    "LACALE_SIZE, LACALE_CATEGORY, LACALE_LINK, LACALE_QUERY, LACALE_FILE... (no shell).",
)
@click.option(
    "--exec-timeout",
    type=FiniteRange(min=0, min_open=True),
    default=600.0,
    show_default=True,
    metavar="SECONDS",
    help="Kill a command that runs longer.",
)
def watch(
    settings: Settings,
    words: tuple[str, ...],
    categories: tuple[str, ...],
    interval: float | None,
    budget_share: float,
    state: str | None,
    include_existing: bool,
    download_to: str | None,
    exec_text: str | None,
    exec_timeout: float,
) -> None:
    """Announce each new release for QUERY... (each argument one query) until Ctrl-C.

    One line per release (a JSON line with --json). Quote a query of several words:
    'lacale watch "one piece" dune --cat series'.
    """
    queries = [SearchQuery(query=w, categories=categories) for w in words]
    with handled(settings):
        argv = parse_command(exec_text) if exec_text is not None else None
        folder = check_folder(download_to) if download_to is not None else None
    actions = Actions(
        folder=folder,
        command=argv,
        timeout=exec_timeout,
        as_json=settings.json,
        width=stdout_console().width,
        show_query=len(queries) > 1,
        secrets=settings.secrets,
    )
    demo, drip = _demo(queries) if settings.uses_sandbox else (None, None)

    async def go() -> int:
        async with connect(settings, spin=False, sandbox=demo, on_sandbox=drip) as client:
            events = client.watch(
                queries,
                interval=interval,
                budget_share=budget_share,
                state=_state_path(settings, state),
                include_existing=include_existing,
            )
            with _watch_notes(settings):
                async with aclosing(events) as stream:
                    # asend: each release's outcome goes back to the watch, which keeps one
                    # whose save failed for a transient reason for a later round.
                    reply: Delivery | None = None
                    while True:
                        try:
                            event = await stream.asend(reply)
                        except StopAsyncIteration:
                            break
                        reply = await actions.handle(client, event)
        return 0

    def hint() -> str:
        plural = "" if actions.count == 1 else "s"
        return clean(f"{actions.count} new release{plural} announced")

    run_command(settings, go, interrupt_hint=hint)
