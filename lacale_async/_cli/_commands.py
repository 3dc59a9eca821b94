"""The ``lacale`` commands: global options, then search, meta, upload, download, bulk, sandbox."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import sys
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any, Literal, TextIO

import anyio
import click
import msgspec
from rich.console import Console

from .._errors import DestinationExistsError, LaCaleError, ValidationError
from .._files import resolve_destination, write_atomic
from .._secret import Secret
from .._torrent import apply_source_flag, parse_torrent
from .._version import __version__
from ._bulk import BulkLine, read_queries, run_bulk
from ._exit import EXIT_INTERRUPTED, EXIT_OTHER, error_line, exit_code
from ._quota import show_quota
from ._render import meta_tree, torrent_dict, torrents_table
from ._serve import run_standalone
from ._session import Settings, open_client
from ._streams import EXIT_BROKEN_PIPE, PipeSafeConsole, harden_streams, silence_stdout

__all__ = ["cli"]

_MAX_TORRENT_FILE = 10 * 1024 * 1024
# Pipes and files get a wide table instead of rich's 80-column default for non-terminals.
_PIPE_WIDTH = 120


def _stdout() -> Console:
    console = PipeSafeConsole(highlight=False)
    if not console.is_terminal and "COLUMNS" not in os.environ:
        console.width = _PIPE_WIDTH
    return console


def _stderr() -> Console:
    return PipeSafeConsole(stderr=True, highlight=False)


def _note(text: str) -> None:
    click.echo(text, err=True)


def _json_line(value: object, *, indent: int | None = None) -> str:
    if indent is None:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return json.dumps(value, ensure_ascii=False, indent=indent)


class _ScrubbingFormatter(logging.Formatter):
    """Log format for ``-v``; masks the key even if some library were to log it."""

    def __init__(self, secrets: tuple[str, ...]) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")
        self._secrets = tuple(s for s in secrets if s)

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text


@contextlib.contextmanager
def _handled(
    settings: Settings, *, interrupt_hint: Callable[[], str | None] | None = None
) -> Iterator[None]:
    """Turn SDK errors, Ctrl-C and a closed stdout into one line (or none) and an exit code.

    Args:
        settings: The global options (their secrets are masked in every line).
        interrupt_hint: Called on Ctrl-C; what it returns is added to "interrupted".

    Raises:
        click.exceptions.Exit: Always when the block fails, with its exit code.
    """
    try:
        yield
    except LaCaleError as exc:
        click.echo(error_line(exc, settings.secrets), err=True)
        raise click.exceptions.Exit(exit_code(exc)) from None
    except BrokenPipeError:
        # The reader has gone (`| head`): nobody wants a message, like a SIGPIPE'd process.
        silence_stdout()
        raise click.exceptions.Exit(EXIT_BROKEN_PIPE) from None
    except OSError as exc:
        # The file system failing (permission denied, disk full) is no bug: no traceback.
        click.echo(error_line(exc, settings.secrets), err=True)
        raise click.exceptions.Exit(EXIT_OTHER) from None
    except KeyboardInterrupt:
        hint = interrupt_hint() if interrupt_hint is not None else None
        click.echo(f"interrupted: {hint}" if hint else "interrupted", err=True)
        raise click.exceptions.Exit(EXIT_INTERRUPTED) from None


def _run(
    settings: Settings,
    make: Callable[[], Coroutine[Any, Any, int]],
    *,
    interrupt_hint: Callable[[], str | None] | None = None,
) -> None:
    """Run one command's coroutine under :func:`_handled`, with ``-v`` logging if asked.

    Args:
        settings: The global options.
        make: Returns the command's coroutine; its result is the exit code.
        interrupt_hint: Called on Ctrl-C; what it returns is added to "interrupted".

    Raises:
        click.exceptions.Exit: Always when the command fails, with its exit code.
    """
    handler: logging.Handler | None = None
    logger = logging.getLogger("lacale_async")
    if settings.verbose:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(_ScrubbingFormatter(settings.secrets))
        logger.addHandler(handler)
        logger.setLevel(logging.DEBUG)
    try:
        with _handled(settings, interrupt_hint=interrupt_hint):
            code = asyncio.run(make())
    finally:
        if handler is not None:
            logger.removeHandler(handler)
            logger.setLevel(logging.NOTSET)
    if code:
        raise click.exceptions.Exit(code)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option(
    "--api-key",
    envvar="LACALE_API_KEY",
    show_envvar=True,
    metavar="KEY",
    help="Your La Cale API key (never printed). Without a key or --base-url, the embedded "
    "sandbox is used.",
)
@click.option(
    "--base-url",
    envvar="LACALE_BASE_URL",
    show_envvar=True,
    metavar="URL",
    help="Tracker origin (default https://la-cale.space).",
)
@click.option(
    "--auth",
    type=click.Choice(["header", "query", "passkey"]),
    default="header",
    show_default=True,
    help="How the key is sent: X-Api-Key header, ?apikey= query, or v1 passkey.",
)
@click.option("--json", "json_output", is_flag=True, help="Machine-readable output on stdout.")
@click.option("--sandbox", is_flag=True, help="Start the embedded sandbox and use it.")
@click.option("-v", "--verbose", is_flag=True, help="Log the SDK's activity on stderr.")
@click.version_option(__version__, prog_name="lacale")
@click.pass_context
def cli(
    ctx: click.Context,
    api_key: str | None,
    base_url: str | None,
    auth: Literal["header", "query", "passkey"],
    json_output: bool,
    sandbox: bool,
    verbose: bool,
) -> None:
    """Search, upload and download on the La Cale tracker.

    Run it with no key to try everything against an embedded sandbox tracker.
    """
    harden_streams()
    ctx.obj = Settings(
        api_key=Secret(api_key) if api_key else None,
        base_url=base_url or None,
        auth=auth,
        json=json_output,
        sandbox=sandbox,
        verbose=verbose,
    )


@cli.command()
@click.argument("query", required=False)
@click.option("--cat", "categories", multiple=True, metavar="SLUG", help="Category (repeatable).")
@click.option("--tmdb", "tmdb_id", metavar="ID", help="Exact TMDB id.")
@click.pass_obj
def search(
    settings: Settings, query: str | None, categories: tuple[str, ...], tmdb_id: str | None
) -> None:
    """Search torrents (the latest ones when QUERY is omitted)."""

    async def go() -> int:
        async with open_client(settings, note=_note) as client:
            results = await client.search(query, categories=categories, tmdb_id=tmdb_id)
        if settings.json:
            click.echo(_json_line([torrent_dict(t) for t in results], indent=2))
        else:
            _stdout().print(torrents_table(results))
        return 0

    _run(settings, go)


@cli.command()
@click.pass_obj
def meta(settings: Settings) -> None:
    """Show categories and tags (the slugs that --cat and --tag take)."""

    async def go() -> int:
        async with open_client(settings, note=_note) as client:
            data = await client.meta()
        if settings.json:
            click.echo(_json_line(msgspec.to_builtins(data), indent=2))
        else:
            _stdout().print(meta_tree(data))
        return 0

    _run(settings, go)


def _read_torrent_file(path: Path) -> bytes:
    try:
        if path.stat().st_size > _MAX_TORRENT_FILE:
            raise ValidationError(f"torrent file {path} is over {_MAX_TORRENT_FILE} bytes")
        return path.read_bytes()
    except FileNotFoundError:
        raise ValidationError(f"torrent file not found: {path}") from None
    except IsADirectoryError:
        raise ValidationError(f"torrent path is a folder: {path}") from None
    except OSError as exc:
        raise ValidationError(f"cannot read torrent file {path}: {exc.strerror}") from None


@cli.command()
@click.argument("torrent_path", metavar="TORRENT_PATH", type=click.Path(path_type=Path))
@click.option("--category", required=True, metavar="SLUG", help="Category slug or id.")
@click.option("--title", help="Title on the tracker (default: the torrent's name).")
@click.option("--tag", "tags", multiple=True, metavar="SLUG", help="Tag slug or id (repeatable).")
@click.option("--description", metavar="TEXT", help="Description.")
@click.option("--nfo", type=click.Path(path_type=Path), help="NFO file to attach.")
@click.option("--tmdb-id", metavar="ID", help="TMDB id.")
@click.option(
    "--tmdb-type",
    type=click.Choice(["MOVIE", "TV"], case_sensitive=False),
    metavar="MOVIE|TV",
    help="What the TMDB id names.",
)
@click.option("--cover-url", metavar="URL", help="Public https URL of a cover image.")
@click.option(
    "--source-policy",
    type=click.Choice(["set", "refuse", "keep"]),
    default="set",
    show_default=True,
    help="When the torrent lacks the 'lacale' source flag: add it, refuse, or upload as is.",
)
@click.option(
    "--save-torrent",
    type=click.Path(path_type=Path),
    metavar="PATH",
    help="Write the uploaded .torrent (with its source flag) here: seed that file.",
)
@click.pass_obj
def upload(
    settings: Settings,
    torrent_path: Path,
    category: str,
    title: str | None,
    tags: tuple[str, ...],
    description: str | None,
    nfo: Path | None,
    tmdb_id: str | None,
    tmdb_type: Literal["MOVIE", "TV"] | None,
    cover_url: str | None,
    source_policy: Literal["set", "refuse", "keep"],
    save_torrent: Path | None,
) -> None:
    """Upload TORRENT_PATH and print its link and info hash."""

    # The info hash the tracker would record, once known: what to search for when Ctrl-C
    # came after the body may have been sent.
    sending: list[str] = []

    def interrupt_hint() -> str | None:
        if not sending:
            return None
        return (
            "the upload had started, so the tracker may or may not have recorded it: "
            f"search for info hash {sending[0]} before uploading again"
        )

    async def go() -> int:
        data = _read_torrent_file(torrent_path)
        info = parse_torrent(data)
        try:
            uploaded_hash = apply_source_flag(data, source_policy)[1].info_hash
        except ValidationError as exc:
            raise ValidationError(_cli_wording(str(exc))) from None
        # Checked before uploading: failing to save after a successful upload would leave the
        # user without the file to seed.
        save_to = (
            resolve_destination(save_torrent, info.name or torrent_path.stem)
            if save_torrent is not None
            else None
        )
        async with open_client(settings, note=_note) as client:
            try:
                result = await client.upload(
                    title=title if title is not None else info.name,
                    category=category,
                    torrent=data,
                    tags=tags,
                    description=description,
                    tmdb_id=tmdb_id,
                    tmdb_type=tmdb_type,
                    cover_url=cover_url,
                    nfo=nfo,
                    source_policy=source_policy,
                )
            except ValidationError as exc:
                raise ValidationError(_cli_wording(str(exc))) from None
            except (asyncio.CancelledError, KeyboardInterrupt):
                # Ctrl-C reaches the coroutine as a cancellation. The request counter moves
                # just before the body goes out: from then on the outcome is unknown.
                if client.stats.endpoints["upload"].requests:
                    sending.append(uploaded_hash)
                raise
        changed = result.info_hash != info.info_hash
        saved: Path | None = None
        if save_to is not None and result.torrent is not None:
            try:
                saved = await write_atomic(save_to, result.torrent, overwrite=True)
            except OSError as exc:
                raise LaCaleError(
                    f"the upload succeeded ({result.link}, info hash {result.info_hash}) but "
                    f"{save_to} could not be written: {exc.strerror}; get the file back with "
                    f"'lacale download {result.info_hash}'"
                ) from None
        if settings.json:
            click.echo(
                _json_line(
                    {
                        "success": result.success,
                        "id": result.id,
                        "slug": result.slug,
                        "link": result.link,
                        "info_hash": result.info_hash,
                        "source_flag_added": changed,
                        "saved_to": str(saved) if saved is not None else None,
                    },
                    indent=2,
                )
            )
            return 0
        click.echo(f"uploaded: {title if title is not None else info.name}")
        click.echo(f"link: {result.link}")
        click.echo(f"info hash: {result.info_hash}")
        if saved is not None:
            click.echo(f"saved: {saved}")
        if changed:
            hint = (
                f"seed {saved}"
                if saved is not None
                else f"seed the uploaded file: lacale download {result.info_hash}"
            )
            _note(
                f"note: the 'lacale' source flag was added, so the info hash changed from "
                f"{info.info_hash}; {hint}"
            )
        return 0

    _run(settings, go, interrupt_hint=interrupt_hint)


def _cli_wording(message: str) -> str:
    """Name the command's options where an SDK message names the Python arguments."""
    return message.replace("source_policy='set'", "--source-policy set").replace(
        "source_policy=", "--source-policy "
    )


@cli.command()
@click.argument("info_hash")
@click.option(
    "-o",
    "--output",
    metavar="PATH_OR_DIR",
    help="File to write, or folder to save into (default: the current folder).",
)
@click.option("--overwrite", is_flag=True, help="Replace an existing file.")
@click.pass_obj
def download(settings: Settings, info_hash: str, output: str | None, overwrite: bool) -> None:
    """Download the .torrent of INFO_HASH and print where it was saved."""
    target = output if output is not None else os.getcwd()

    async def go() -> int:
        # A trailing separator says "folder": never let it quietly become a file name.
        if target.endswith(("/", os.sep)) and not await anyio.Path(target).is_dir():
            raise ValidationError(f"destination folder does not exist: {target}")
        try:
            async with open_client(settings, note=_note) as client:
                path = await client.download_to(info_hash, target, overwrite=overwrite)
        except DestinationExistsError as exc:
            text = str(exc).replace("pass overwrite=True", "pass --overwrite")
            if "--overwrite" not in text:
                text += "; pass --overwrite to replace it"
            raise DestinationExistsError(text) from None
        if settings.json:
            click.echo(_json_line({"info_hash": info_hash.lower(), "path": str(path)}))
        else:
            click.echo(str(path))
        return 0

    _run(settings, go)


@cli.command()
@click.argument("file", required=False, type=click.File("r", encoding="utf-8-sig"))
@click.option("--cat", "categories", multiple=True, metavar="SLUG", help="Category for all.")
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
@click.pass_obj
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
        file = sys.stdin
    lines: list[BulkLine] = []
    # Reading a pipe can take long (the producer is slow): Ctrl-C there is an interruption too.
    with _handled(settings):
        try:
            lines = read_queries(file, categories)
        except UnicodeDecodeError:
            raise ValidationError("the queries are not UTF-8 text") from None

    async def go() -> int:
        async with open_client(settings, note=_note) as client:
            return await run_bulk(
                client,
                lines,
                concurrency=concurrency,
                top=top,
                as_json=settings.json,
                out=_stdout(),
                err=_stderr(),
                secrets=settings.secrets,
            )

    _run(settings, go)


@cli.command()
@click.pass_obj
def quota(settings: Settings) -> None:
    """Show what is left of the key-wide request budget, per window, and when it frees up."""
    _run(settings, lambda: show_quota(settings, note=_note))


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8765, show_default=True, type=click.IntRange(0, 65535))
def sandbox(host: str, port: int) -> None:
    """Run the sandbox tracker until Ctrl-C, and print how to point the SDK at it."""
    try:
        run_standalone(host, port)
    except LaCaleError as exc:
        click.echo(error_line(exc), err=True)
        raise click.exceptions.Exit(exit_code(exc)) from None
    except KeyboardInterrupt:
        # Ctrl-C is how this command is meant to end.
        click.echo("sandbox stopped", err=True)
