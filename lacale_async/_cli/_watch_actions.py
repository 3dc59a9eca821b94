"""What ``lacale watch`` does with each new release: a row or a JSON line, a save, a command.

A release's fields reach ``--exec`` only as environment variables (``LACALE_TITLE``...): the
command line is the user's own text, split once into arguments, and no shell ever reads a
value that came from the network. The child gets neither the API key nor a download token.

A save that fails for a transient reason (a 5xx, the network, a spent budget) answers
:attr:`Delivery.LATER`: the release stays in the watch's outbox, saved at its query's next
round or the next start, and ``--exec`` waits for that save. Any other failure (404, a refused
folder) is reported, and the release is done.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import click

from .._client import LaCaleClient
from .._errors import (
    ConfigurationError,
    DestinationExistsError,
    LaCaleError,
    StorageError,
)
from .._watch import TRANSIENT, Delivery, WatchEvent
from ._download import make_folder
from ._exit import error_text
from ._render import (
    human_size,
    local_date,
    magnet_or_none,
    short_hash,
    shown_link,
    torrent_dict,
)
from ._sanitize import clean, json_text, masked, shown

__all__ = [
    "ActionResult",
    "Actions",
    "check_folder",
    "exec_env",
    "parse_command",
    "watch_dict",
    "watch_row",
]

# Variables the child never inherits: the key (the point), and what a parent watch set.
_NOT_INHERITED = ("LACALE_API_KEY",)
_FIXED_WIDTH = 16 + 1 + 9 + 1 + 5 + 1 + 12 + 2  # date, size, seeders, hash and the gaps
_OUTPUT_SHOWN = 4000  # characters of a command's output echoed to stderr


def parse_command(text: str) -> list[str]:
    """Split the ``--exec`` text into arguments, once, the way a shell would, without a shell.

    Raises:
        ConfigurationError: Unbalanced quotes, nothing to run, or a program not found.
    """
    try:
        argv = shlex.split(text)
    except ValueError as exc:
        raise ConfigurationError(f"--exec {text!r} cannot be split into arguments: {exc}") from None
    if not argv:
        raise ConfigurationError("--exec needs a command to run")
    if shutil.which(argv[0]) is None:
        raise ConfigurationError(f"--exec: no program {argv[0]!r} found (PATH or a path)")
    return argv


def _env_value(value: object) -> str:
    # An environment value cannot hold a NUL, nor text the file system encoding refuses.
    text = str(value).replace("\x00", "")
    return text.encode("utf-8", "replace").decode("utf-8")


def exec_env(event: WatchEvent, path: Path | None, secrets: tuple[str, ...] = ()) -> dict[str, str]:
    """Return the environment of ``--exec``: this process's, minus the key, plus the release.

    ``secrets`` (the key) are masked in every value from the tracker, wherever it put them.
    The query and the file are kept exact: the query is the user's own text, and the file's
    name was made from the masked torrent name, so ``LACALE_FILE`` names a file that exists.
    """
    t, q = event.torrent, event.query
    tracker: dict[str, object] = {
        "LACALE_TITLE": t.title,
        "LACALE_INFO_HASH": t.info_hash,
        "LACALE_GUID": t.guid,
        "LACALE_SIZE": t.size,
        "LACALE_CATEGORY": t.category,
        # The torrent's page, credentials masked; never the token-bearing download link.
        "LACALE_LINK": shown_link(t.link, secrets),
        "LACALE_PUB_DATE": t.pub_date.isoformat(),
        "LACALE_SEEDERS": t.seeders,
        "LACALE_LEECHERS": t.leechers,
        # Empty for a malformed info hash; made from the masked title (see magnet_or_none).
        "LACALE_MAGNET": magnet_or_none(t, secrets) or "",
    }
    user: dict[str, object] = {
        "LACALE_QUERY": q.query or "",
        "LACALE_CATEGORIES": ",".join(q.categories),
        "LACALE_SEEN_AT": event.seen_at.isoformat(),
    }
    if path is not None:
        user["LACALE_FILE"] = str(path)
    env = {k: v for k, v in os.environ.items() if k not in _NOT_INHERITED}
    # Masked too: a hook's output may be logged (a file, a cron mail, a chat message) where
    # this process never sees it to mask it, and a server that echoes the key into a title
    # would otherwise hand the key to that log. As data: a hash must stay exact.
    env.update({k: masked(_env_value(v), secrets, cut_tail=False) for k, v in tracker.items()})
    env.update({k: _env_value(v) for k, v in user.items()})
    return env


def watch_row(
    event: WatchEvent, width: int, *, show_query: bool, secrets: tuple[str, ...] = ()
) -> str:
    """Return one line for a new release: when, size, seeders, hash, title (cut to fit).

    ``secrets`` are masked before the title is cut: a key cut in half would escape its mask.
    """
    t = event.torrent
    # The query is the user's own text: cleaned, not masked.
    label = f"  [{clean(event.query.query or '')}]" if show_query else ""
    room = max(width - _FIXED_WIDTH - len(label), 12)
    name = shown(t.title, secrets, cut_tail=False)
    if len(name) > room:
        name = name[: room - 1] + "…"
    return (
        f"{local_date(event.seen_at)} {human_size(t.size):>9} {t.seeders:>4}S "
        f"{short_hash(t.info_hash, secrets)}  {name}{label}"
    )


@dataclass
class ActionResult:
    """What happened to one release: where it was saved, how its command ended."""

    path: Path | None = None
    download_error: str | None = None
    exec_status: int | None = None
    exec_error: str | None = None


def watch_dict(
    event: WatchEvent, result: ActionResult, secrets: tuple[str, ...] = ()
) -> dict[str, Any]:
    """Return the JSON line of a release (snake_case, no download link, no secret)."""
    q = event.query
    return {
        "query": {"query": q.query, "categories": list(q.categories), "tmdb_id": q.tmdb_id},
        "seen_at": event.seen_at.isoformat(timespec="seconds"),
        "torrent": torrent_dict(event.torrent, secrets),
        "path": str(result.path) if result.path is not None else None,
        "download_error": result.download_error,
        "exec_status": result.exec_status,
        "exec_error": result.exec_error,
    }


@dataclass
class Actions:
    """Everything done per release, in order: save, run, report.

    Attributes:
        folder: ``--download-to``, or None.
        command: ``--exec`` split into arguments, or None.
        timeout: Seconds a command may run before it is killed.
        as_json: Print JSON lines instead of rows.
        width: The row width.
        show_query: Name the query on each row (several queries watched).
        secrets: Values no output may contain.
        shown: The releases (query and hash or guid) reported so far.
    """

    folder: Path | None
    command: list[str] | None
    timeout: float
    as_json: bool
    width: int
    show_query: bool
    secrets: tuple[str, ...] = ()
    shown: set[tuple[str | None, str]] = field(default_factory=set)

    @property
    def count(self) -> int:
        """Releases reported so far, each once (a save tried again is the same release)."""
        return len(self.shown)

    async def handle(self, client: LaCaleClient, event: WatchEvent) -> Delivery:
        """Save, run and report one new release; a failure is reported, never raised.

        Returns:
            ``LATER`` when the save failed for a transient reason (tried again at a later
            round, ``--exec`` not run yet), else ``DONE``.
        """
        # One row per release, printed before its save; a save tried again prints no second
        # row (its failures go to stderr), and the JSON line waits for the final outcome.
        if not self.as_json and _seen(event) not in self.shown:
            row = watch_row(event, self.width, show_query=self.show_query, secrets=self.secrets)
            self._shown(event, row)
        result = ActionResult()
        reply = Delivery.DONE
        if self.folder is not None:
            reply = await self._download(client, event, result)
        if self.command is not None and reply is Delivery.DONE:
            await self._run(event, result)
        if self.as_json and reply is Delivery.DONE:
            record = watch_dict(event, result, self.secrets)
            line = json_text(record, secrets=self.secrets)
            self._shown(event, line)
        return reply

    def _shown(self, event: WatchEvent, line: str) -> None:
        # Counted as it is printed: a release cut off by Ctrl-C halfway is still announced.
        click.echo(line)
        self.shown.add(_seen(event))

    async def _download(
        self, client: LaCaleClient, event: WatchEvent, out: ActionResult
    ) -> Delivery:
        assert self.folder is not None
        name = clean(event.torrent.title)  # _say masks the secrets
        try:
            out.path = await client.download_to(event.torrent, self.folder)
        except DestinationExistsError as exc:
            out.download_error = error_text(exc, self.secrets)
            self._say(f"note: not saved, already in {clean(str(self.folder))}: {name}")
            return Delivery.DONE
        except TRANSIENT as exc:
            out.download_error = error_text(exc, self.secrets)
            self._say(
                f"error: cannot save {name}: {out.download_error}; trying again at the next round"
            )
            return Delivery.LATER
        except LaCaleError as exc:
            out.download_error = error_text(exc, self.secrets)
            self._say(f"error: cannot save {name}: {out.download_error}")
            return Delivery.DONE
        if not self.as_json:
            # Not masked: the name was made from the masked torrent name (download_to), the
            # folder is the user's, and the line must name the file that exists.
            click.echo(f"saved {clean(str(out.path))}", err=True)
        return Delivery.DONE

    async def _run(self, event: WatchEvent, out: ActionResult) -> None:
        assert self.command is not None
        name = clean(event.torrent.title)  # _say masks the secrets
        try:
            with anyio.fail_after(self.timeout):
                done = await anyio.run_process(
                    self.command,
                    env=exec_env(event, out.path, self.secrets),
                    stdin=subprocess.DEVNULL,
                    check=False,
                )
        except TimeoutError:
            out.exec_error = f"killed after {self.timeout:g} s"
        except OSError as exc:
            out.exec_error = f"cannot run {self.command[0]}: {exc.strerror or exc}"
        else:
            out.exec_status = done.returncode
            output = (done.stdout or b"") + (done.stderr or b"")
            if output.strip():
                # Masked before the cut: a key straddling the cut would keep its tail.
                text = shown(output.decode("utf-8", "replace"), self.secrets, multiline=True)
                self._say(text[-_OUTPUT_SHOWN:].rstrip())
            if done.returncode != 0:
                out.exec_error = f"exited with status {done.returncode}"
        if out.exec_error is not None:
            self._say(f"error: --exec for {name}: {out.exec_error}")

    def _say(self, line: str) -> None:
        click.echo(masked(line, self.secrets), err=True)


def check_folder(target: str) -> Path:
    """Return the ``--download-to`` folder, which must exist (``DIR/`` creates it).

    Raises:
        StorageError: It is missing (without a trailing ``/``), not a folder, or cannot be
            created.
    """
    make_folder(target)
    folder = Path(target)
    if not folder.is_dir():
        raise StorageError(f"--download-to {target}: no such folder (end it with / to create it)")
    return folder


def _seen(event: WatchEvent) -> tuple[str | None, str]:
    """The release an event is about, as ``shown`` counts it (its query, its hash or guid)."""
    t = event.torrent
    return (event.query.query, t.info_hash or t.guid)
