"""``lacale bulk``: read queries, run them through ``search_many``, show each as it completes."""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TextIO, cast

import click
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
)
from rich.text import Text

from .._bulk import SearchOutcome, SearchQuery
from .._client import LaCaleClient
from .._errors import LaCaleError, QuotaExceededError, ValidationError
from .._validation import check_query
from ._app import command
from ._completion import cat_option
from ._exit import error_line, error_text, exit_code
from ._quota import budget_line, not_run_line
from ._render import stats_line, torrent_dict, torrents_table
from ._run import connect, handled, run_command, stderr_console, stdout_console
from ._sanitize import clean, json_text
from ._session import Settings
from ._userdata import save_hashes
from ._waits import WaitWatch

__all__ = ["BulkLine", "bulk", "read_queries", "run_bulk"]


@dataclass(frozen=True)
class BulkLine:
    """One query line of the input.

    Attributes:
        text: The query as written (line ending removed).
        query: What is searched: the text plus the ``--cat`` filters. Lines with equal
            queries are searched once (``search_many`` merges them); lines equal only once
            normalised ("Amélie", "amelie ") share one request through the client instead.
        number: The line's number in the input, from 1.
        error: Why the line cannot be searched (too long...), naming the line; None when
            it can be. Such a line is reported as failed and never sent.
    """

    text: str
    query: SearchQuery
    number: int = 0
    error: ValidationError | None = None


def read_queries(lines: Iterable[str], categories: tuple[str, ...] = ()) -> list[BulkLine]:
    """Parse query lines, skipping blank lines and ``#`` comments.

    Args:
        lines: The input, one query per line.
        categories: Category slugs applied to every query.

    Returns:
        The queries in input order, duplicates included; a line the API would refuse carries
        its error instead of failing the whole input.
    """
    out: list[BulkLine] = []
    for number, raw in enumerate(lines, start=1):
        text = raw.rstrip("\r\n")
        if not text.strip() or text.lstrip().startswith("#"):
            continue
        query = SearchQuery(query=text, categories=categories)
        error: ValidationError | None = None
        try:
            check_query(text)
        except ValidationError as exc:
            error = ValidationError(f"line {number}: {exc}")
        out.append(BulkLine(text=text, query=query, number=number, error=error))
    return out


class _WaitColumn(ProgressColumn):
    """The progress bar's last column: which rate limit holds searches back, if any."""

    def __init__(self, watch: WaitWatch | None) -> None:
        super().__init__()
        self._watch = watch

    def render(self, task: Task) -> Text:
        """Return the watch's description of the current wait (empty when none)."""
        reason = self._watch.describe() if self._watch is not None else None
        return Text(reason or "", style="yellow")


# A query line this long is cut in the table: the error already says how long it is.
_SHOWN = 60


class _Report:
    """Writes each outcome as a table or a JSON line and counts failures."""

    def __init__(self, *, top: int, as_json: bool, out: Console, secrets: tuple[str, ...]) -> None:
        self.top = top
        self.as_json = as_json
        self.out = out
        self.secrets = secrets
        self.failed = 0
        self.first_error: LaCaleError | None = None
        self.hashes: list[str] = []
        self.not_run = 0  # refused by the key budget: nothing was sent for them
        self.not_run_until: datetime | None = None

    def emit(self, line: BulkLine, outcome: SearchOutcome) -> None:
        results = outcome.results or []
        self.hashes.extend(t.info_hash for t in results)
        if isinstance(outcome.error, QuotaExceededError):
            self.not_run += 1
            until = outcome.error.retry_at
            self.not_run_until = (
                until if self.not_run_until is None else min(self.not_run_until, until)
            )
        if outcome.error is not None:
            self.failed += 1
            if self.first_error is None:
                self.first_error = outcome.error
        if self.as_json:
            record = {
                "query": line.text,
                "ok": outcome.ok,
                "results": [torrent_dict(t, self.secrets) for t in results],
                "error": (
                    error_text(outcome.error, self.secrets) if outcome.error is not None else None
                ),
            }
            # sys.stdout looked up per line: while the progress bar runs on a terminal, rich swaps
            # in a proxy that prints above the bar. Flushed so `| jq` sees each line as it comes.
            encoded = json_text(record, secrets=self.secrets)
            sys.stdout.write(encoded + "\n")
            sys.stdout.flush()
            return
        text = clean(line.text)  # the user's own query: not masked
        if outcome.error is not None:
            cut = text if len(text) <= _SHOWN else text[: _SHOWN - 1] + "…"
            message = Text(f"{cut}: ", style="bold")
            message.append(error_line(outcome.error, self.secrets), style="red")
            self.out.print(message)
            return
        if not results:
            self.out.print(Text(f"{text}  (no results)", style="dim"))
            return
        heading = f"{text}  ({len(results)} result{'s' if len(results) != 1 else ''})"
        if self.top == 0:
            self.out.print(Text(heading))
            return
        self.out.print(torrents_table(results, title=heading, limit=self.top, secrets=self.secrets))


def _progress_bar(out: Console, err: Console, watch: WaitWatch | None) -> Progress | None:
    """Return the progress bar for a terminal's stderr, or None on a pipe or file."""
    if not err.is_terminal:
        return None
    return Progress(
        TextColumn("searching"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        _WaitColumn(watch),
        console=err,
        transient=True,
        # Results printed to a terminal go above the bar; to a pipe or file, untouched.
        redirect_stdout=out.is_terminal,
        redirect_stderr=False,
    )


async def _search_all(
    client: LaCaleClient,
    by_key: dict[SearchQuery, list[BulkLine]],
    report: _Report,
    *,
    concurrency: int,
    progress: Progress | None,
) -> None:
    """Search one query per group of equal lines, reporting each outcome for every line."""
    with progress if progress is not None else contextlib.nullcontext():
        task = progress.add_task("searching", total=len(by_key)) if progress is not None else None

        def on_progress(done: int, total: int) -> None:
            if progress is not None and task is not None:
                progress.update(task, completed=done, total=total)

        queries = [group[0].query for group in by_key.values()]
        outcomes = client.search_many(queries, concurrency=concurrency, on_progress=on_progress)
        try:
            async for outcome in outcomes:
                for line in by_key.get(outcome.query, ()):
                    report.emit(line, outcome)
        finally:
            # Leaving early (Ctrl-C, an unexpected error) must cancel the searches still running.
            closer = getattr(outcomes, "aclose", None)
            if closer is not None:
                await closer()


async def run_bulk(
    client: LaCaleClient,
    lines: list[BulkLine],
    *,
    concurrency: int,
    top: int,
    as_json: bool,
    out: Console,
    err: Console,
    secrets: tuple[str, ...] = (),
    watch: WaitWatch | None = None,
) -> int:
    """Search every line, print the outcomes as they come, then the client's statistics.

    Args:
        client: An open client.
        lines: The queries (duplicates are searched once and reported for each line).
        concurrency: Most searches in flight.
        top: Rows shown per query in a table.
        as_json: One JSON object per input line on stdout instead of tables; the statistics
            go to stderr so stdout stays pure JSON lines.
        out: Console for results.
        err: Console for the progress bar (shown only on a terminal) and messages.
        secrets: Values never to print.
        watch: The limiter waits of ``client``, for the wall-clock wait in the stats line.

    Returns:
        0 when every query succeeded, else the exit code of the first failure.

    Raises:
        ValidationError: A category the API would refuse (nothing was sent).
    """
    started = time.monotonic()
    if not lines:
        click.echo("note: no queries to run (blank lines and # comments are skipped)", err=True)
    by_key: dict[SearchQuery, list[BulkLine]] = {}
    refused = [line for line in lines if line.error is not None]
    for line in lines:
        if line.error is None:
            by_key.setdefault(line.query, []).append(line)
    report = _Report(top=top, as_json=as_json, out=out, secrets=secrets)
    # Lines the API would refuse fail on their own, first, without stopping the others.
    for line in refused:
        report.emit(line, SearchOutcome(query=line.query, error=line.error))
    await _search_all(
        client, by_key, report, concurrency=concurrency, progress=_progress_bar(out, err, watch)
    )
    save_hashes(report.hashes)
    summary = stats_line(
        client.stats,
        merged=len(lines) - len(refused) - len(by_key),
        elapsed=time.monotonic() - started,
        waited=watch.wall if watch is not None else None,
    )
    return await _conclude(client, report, summary, total=len(lines), as_json=as_json)


async def _conclude(
    client: LaCaleClient, report: _Report, summary: str, *, total: int, as_json: bool
) -> int:
    """Print the stats, the key budget and the failures; return the exit code."""
    # Plain echo, not rich: one unwrapped line that a script can grep, whatever the width.
    click.echo(summary, err=as_json)
    click.echo(budget_line(await client.quota()), err=as_json)
    if report.not_run_until is not None:
        click.echo(not_run_line(report.not_run, report.not_run_until), err=True)
    if report.first_error is not None:
        click.echo(f"error: {report.failed} of {total} queries failed", err=True)
        return exit_code(report.first_error)
    return 0


@command()
@click.argument("file", required=False, type=click.File("r", encoding="utf-8-sig"))
@cat_option("Category for all.")
@click.option(
    "--concurrency",
    default=8,
    show_default=True,
    type=click.IntRange(min=1),
    help="Most searches in flight (the rate limiter still paces them).",
)
@click.option(
    "--top", default=5, show_default=True, type=click.IntRange(min=0), help="Rows per query."
)
def bulk(
    settings: Settings,
    file: TextIO | None,
    categories: tuple[str, ...],
    concurrency: int,
    top: int,
) -> None:
    """Run many searches: one query per line of FILE, or of stdin ('-' or piped).

    Blank lines and lines starting with '#' are skipped. Searches run concurrently under the
    rate limiter; duplicate queries (same text once case, accents and spaces are ignored) are
    sent once. Ends with the client's traffic statistics.
    """
    if file is None:
        if sys.stdin.isatty():
            raise click.UsageError("give a FILE of queries, or pipe them on stdin")
        # Read as click reads '-': UTF-8, strict, BOM dropped. sys.stdin as it is decodes in the
        # locale's encoding with surrogateescape: each line then failed on its own.
        file = cast("TextIO", click.open_file("-", encoding="utf-8-sig", errors="strict"))
    lines: list[BulkLine] = []
    # Reading a pipe can take long (the producer is slow): Ctrl-C there is an interruption too.
    with handled(settings):
        try:
            lines = read_queries(file, categories)
        except UnicodeDecodeError:
            raise ValidationError("the queries are not UTF-8 text") from None

    async def go() -> int:
        watch = WaitWatch()
        async with connect(settings, watch=watch, spin=False) as client:
            return await run_bulk(
                client,
                lines,
                concurrency=concurrency,
                top=top,
                as_json=settings.json,
                out=stdout_console(),
                err=stderr_console(),
                secrets=settings.secrets,
                watch=watch,
            )

    run_command(settings, go)
