"""``lacale upload``: publish a .torrent, and say exactly what to seed."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import click

from .._atomic import refuse_existing, write_atomic
from .._client import LaCaleClient
from .._errors import LaCaleError, redact_url
from .._files import require_writable, resolve_destination
from .._models import UploadResult
from .._torrent import apply_source_flag, parse_torrent
from .._uploads import MAX_TORRENT_SIZE, read_input
from ._app import command
from ._completion import complete_category, complete_tag
from ._render import shown_link
from ._run import connect, echo_json, note, run_command
from ._sanitize import clean, shown
from ._session import Settings
from ._userdata import save_meta

__all__ = ["upload"]


async def _keep_meta(client: LaCaleClient) -> None:
    # The upload resolved slugs through meta: keep that answer for shell completion. Only
    # when it was fetched, so this never sends a request of its own.
    if client.stats.endpoints["meta"].requests:
        save_meta(await client.meta())


async def _save_seed(result: UploadResult, save_to: Path | None, *, overwrite: bool) -> Path | None:
    if save_to is None or result.torrent is None:
        return None
    try:
        return await write_atomic(save_to, result.torrent, overwrite=overwrite)
    except OSError as exc:  # DestinationExistsError among them: the file appeared meanwhile
        raise LaCaleError(
            f"the upload succeeded ({redact_url(result.link or '')}, info hash "
            f"{result.info_hash}) but "
            f"{save_to} could not be written: {exc.strerror or exc}; get the file back with "
            f"'lacale download {result.info_hash}'"
        ) from None


def _report(
    settings: Settings, result: UploadResult, title: str, original: str, saved: Path | None
) -> None:
    changed = result.info_hash != original
    if settings.json:
        echo_json(
            {
                "success": result.success,
                "id": result.id,
                "slug": result.slug,
                "link": shown_link(result.link, settings.secrets) if result.link else None,
                "info_hash": result.info_hash,
                "source_flag_added": changed,
                "saved_to": str(saved) if saved is not None else None,
            },
            secrets=settings.secrets,
        )
        return
    secrets = settings.secrets
    click.echo(f"uploaded: {shown(title, secrets)}")
    click.echo(f"link: {clean(shown_link(result.link or '', secrets))}")
    # Not the server's text: upload() computes it from the bytes it sent.
    click.echo(f"info hash: {result.info_hash}")
    if saved is not None:
        click.echo(f"saved: {clean(str(saved))}")  # a local path (user's folder): exact
    if changed:
        hint = (
            f"seed {saved}"
            if saved is not None
            else f"seed the uploaded file: lacale download {result.info_hash}"
        )
        note(
            f"note: the 'lacale' source flag was added, so the info hash changed from "
            f"{original}; {hint}"
        )


@dataclass(frozen=True)
class _Fields:
    """The upload's form fields, as the command line gave them."""

    title: str | None
    category: str
    tags: tuple[str, ...]
    description: str | None
    nfo: Path | None
    tmdb_id: str | None
    tmdb_type: Literal["MOVIE", "TV"] | None
    cover_url: str | None
    source_policy: Literal["set", "refuse", "keep"]


async def _upload(
    settings: Settings,
    torrent_path: Path,
    fields: _Fields,
    save_torrent: Path | None,
    overwrite: bool,
    sending: list[str],
) -> int:
    """Upload, then report; ``sending`` gets the info hash once the body may have gone out."""
    # Read and held to the source policy once, here, with the SDK's own rules: the command
    # needs the name and the hash that will be uploaded before it connects. The client then
    # uploads these bytes as they are.
    raw = await read_input(torrent_path, "torrent", MAX_TORRENT_SIZE)
    data, info = apply_source_flag(raw, fields.source_policy)
    original = info.info_hash if data is raw else parse_torrent(raw).info_hash
    name = fields.title if fields.title is not None else info.name
    # Checked before uploading: failing to save after a successful upload would leave the
    # user without the file to seed, and the file in the way may be the user's own original.
    save_to = None
    if save_torrent is not None:
        save_to = resolve_destination(save_torrent, info.name or torrent_path.stem)
        refuse_existing(save_to, overwrite)
        require_writable(save_to.parent)
    async with connect(settings) as client:
        try:
            result = await client.upload(
                title=name,
                category=fields.category,
                torrent=data,
                tags=fields.tags,
                description=fields.description,
                tmdb_id=fields.tmdb_id,
                tmdb_type=fields.tmdb_type,
                cover_url=fields.cover_url,
                nfo=fields.nfo,
                source_policy="keep",
            )
        except LaCaleError:
            # An unknown tag or category: the slugs just fetched help complete the next try.
            await _keep_meta(client)
            raise
        except (asyncio.CancelledError, KeyboardInterrupt):
            # Ctrl-C reaches the coroutine as a cancellation. The request counter moves just
            # before the body goes out: from then on the outcome is unknown.
            if client.stats.endpoints["upload"].requests:
                sending.append(info.info_hash)
            raise
        await _keep_meta(client)
    saved = await _save_seed(result, save_to, overwrite=overwrite)
    _report(settings, result, name, original, saved)
    return 0


@command()
@click.argument("torrent_path", metavar="TORRENT_PATH", type=click.Path(path_type=Path))
@click.option(
    "--category",
    required=True,
    metavar="SLUG",
    shell_complete=complete_category,
    help="Category slug or id.",
)
@click.option("--title", help="Title on the tracker (default: the torrent's name).")
@click.option(
    "--tag",
    "tags",
    multiple=True,
    metavar="SLUG",
    shell_complete=complete_tag,
    help="Tag slug or id (repeatable).",
)
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
@click.option("--overwrite", is_flag=True, help="Let --save-torrent replace an existing file.")
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
    overwrite: bool,
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

    fields = _Fields(
        title=title,
        category=category,
        tags=tags,
        description=description,
        nfo=nfo,
        tmdb_id=tmdb_id,
        tmdb_type=tmdb_type,
        cover_url=cover_url,
        source_policy=source_policy,
    )

    async def go() -> int:
        return await _upload(settings, torrent_path, fields, save_torrent, overwrite, sending)

    run_command(settings, go, interrupt_hint=interrupt_hint)
