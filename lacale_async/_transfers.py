"""The client's torrent transfers: ``upload``, ``download`` and ``download_to``."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Literal

import msgspec

from ._cached import CacheMode
from ._config import ClientConfig, SourcePolicy
from ._download_link import link_token
from ._engine import Engine
from ._errors import ValidationError
from ._files import prepare_download, safe_filename, save_download
from ._models import Meta, Torrent, UploadResult
from ._secret import wire_secret
from ._uploads import UploadFields
from ._validation import check_info_hash

__all__ = ["Transfers"]


class Transfers:
    """Upload and download methods of :class:`LaCaleClient`, which mixes them in.

    They need only what the client provides below: its checked options, its open engine, and
    its cached ``meta`` (to resolve an upload's category and tag slugs).
    """

    __slots__ = ()

    _config: ClientConfig

    def _require_open(self) -> Engine:
        raise NotImplementedError

    async def meta(self, *, cache: CacheMode = "use") -> Meta:
        raise NotImplementedError

    async def upload(
        self,
        *,
        title: str,
        category: str,
        torrent: bytes | str | os.PathLike[str],
        tags: Sequence[str] = (),
        description: str | None = None,
        tmdb_id: int | str | None = None,
        tmdb_type: Literal["MOVIE", "TV"] | None = None,
        cover_url: str | None = None,
        nfo: bytes | str | os.PathLike[str] | None = None,
        source_policy: SourcePolicy | None = None,
    ) -> UploadResult:
        """Upload a torrent.

        The torrent gets the ``lacale`` source flag unless the policy says otherwise (which
        changes its info hash: seed ``result.torrent``, not the original file). An upload is
        never sent twice blindly: it is retried only when the server refused it with 429 or
        no connection could be made.

        Args:
            title: Title shown on the tracker.
            category: Category id or slug (slugs are resolved through :meth:`meta`).
            torrent: The .torrent as bytes, or a path to it (``str`` or ``PathLike``).
            tags: Tag ids or slugs.
            description: Description text.
            tmdb_id: TMDB id.
            tmdb_type: ``MOVIE`` or ``TV``.
            cover_url: Public https URL of a cover image.
            nfo: The NFO as bytes, or a path to it.
            source_policy: Overrides the client's ``source_policy`` for this upload.

        Returns:
            The tracker's answer, with the info hash and bytes of what was uploaded.

        Raises:
            ValidationError: Bad input or an unknown category/tag; nothing was sent.
            InvalidTorrentError: The torrent is not well-formed; nothing was sent.
            ConflictError: The tracker already has this torrent (409).
            UploadRejectedError: The tracker answered ``success: false``.
            ServerError: 5xx after the body was sent (``outcome_unknown`` is True).
            RequestTimeoutError: Timed out after the body was sent (``outcome_unknown``).
            QuotaExceededError: The key-wide budget is spent; nothing was sent.
            APIError: Any other refusal.
            ClientStateError: The client is not open.
        """
        fields = UploadFields.check(
            title=title,
            category=category,
            tags=tags,
            description=description,
            tmdb_id=tmdb_id,
            tmdb_type=tmdb_type,
            cover_url=cover_url,
            source_policy=source_policy,
            default_policy=self._config.source_policy,
        )
        self._require_open()
        data, info, nfo_bytes = await fields.read(torrent, nfo, self._config.key.redact)
        form = fields.form(await self.meta(), data, info, nfo_bytes)
        engine = self._require_open()  # the client may have closed while meta was fetched
        result = await engine.upload(form, info_hash=info.info_hash, title=fields.title)
        return msgspec.structs.replace(result, info_hash=info.info_hash, torrent=data)

    async def download(self, torrent: str | Torrent) -> bytes:
        """Download a .torrent and check it is the torrent asked for.

        Given a search result, its ``download_link`` is used when it is on this client's
        origin and its token has not expired: that request carries the token, not the key.
        Otherwise (no link, another origin, expired, or the token refused) the documented
        ``/api/torrents/download/<infoHash>`` is requested with the key.

        Args:
            torrent: An info hash (40 hex characters for v1, 64 for v2), or a :class:`Torrent`
                from :meth:`search`.

        Returns:
            The .torrent bytes.

        Raises:
            ValidationError: A malformed info hash; nothing was sent.
            NotFoundError: The tracker has no such torrent.
            IntegrityError: The answer is not a torrent, or not the one asked for.
            QuotaExceededError: The key-wide budget is spent; nothing was sent.
            APIError: Any other refusal.
            TransportError: The server could not be reached.
            ClientStateError: The client is not open.
        """
        info_hash, link = _target(torrent, self._config.key.redact)
        body, _ = await self._require_open().download(info_hash, link)
        return body

    async def download_to(
        self,
        torrent: str | Torrent,
        path_or_dir: str | os.PathLike[str],
        *,
        overwrite: bool = False,
    ) -> Path:
        """Download a .torrent and save it atomically.

        The file is written to a temporary file in the target folder and renamed into place
        once complete and verified, so a reader never sees a half-written torrent and a
        failure or cancellation leaves nothing behind. The torrent is checked whole before it
        is published, which is why it is held in memory (at most ``max_body_size``).

        Args:
            torrent: An info hash (40 or 64 hexadecimal characters), or a :class:`Torrent`
                (its download link is used as :meth:`download` does).
            path_or_dir: A file path, or an existing folder to save into under the torrent's
                (sanitised) name; the client's API key, should the name hold it, is masked
                (``___``): a key never lands in the file system.
            overwrite: Replace an existing file instead of raising.

        Returns:
            The path written.

        Raises:
            DestinationExistsError: The file exists and ``overwrite`` is False.
            StorageError: The folder cannot be written, or the write failed.
            ValidationError: A malformed info hash, a destination whose folder is missing, or
                a path that is not text (bytes, None) or holds a NUL or a lone surrogate.
            ConfigurationError: ``overwrite`` is not a bool.
            IntegrityError: The answer is not the torrent asked for.
            QuotaExceededError: The key-wide budget is spent; nothing was sent.
            APIError: The server refused the download.
            TransportError: The server could not be reached.
            ClientStateError: The client is not open.
        """
        info_hash, link = _target(torrent, self._config.key.redact)
        target, is_dir = await prepare_download(path_or_dir, overwrite)
        body, info = await self._require_open().download(info_hash, link)
        name = self._file_stem(info.name, link) if info.name else info_hash
        return await save_download(target, is_dir=is_dir, name=name, body=body, overwrite=overwrite)

    def _file_stem(self, name: str, link: str | None) -> str:
        """The torrent's name, the key and the link's token masked before and after it is made safe.

        Made safe between the two: dropping a control character (or a directory part at a
        ``/`` of the key) can bring together a key that was split. Masked as data (no
        four-character tail rule): it is a name, not a cut message.
        """
        secrets = [self._config.key]
        token = link_token(link)
        if token is not None:
            # The server names the torrent and issues the token in the same answer.
            secrets.append(wire_secret(token))

        def scrub(text: str) -> str:
            for secret in secrets:
                text = secret.scrub(text, cut_tail=False)
            return text

        return scrub(safe_filename(scrub(name), suffix=""))


def _target(torrent: str | Torrent, scrub: Callable[[str], str]) -> tuple[str, str | None]:
    """Return a download's checked, lowercase info hash, and its link when it has one.

    The refusal quotes the hash, which a search result's came from the server (it may be the
    key echoed): ``scrub`` removes the key from it.
    """
    try:
        if isinstance(torrent, Torrent):
            return check_info_hash(torrent.info_hash), torrent.download_link
        return check_info_hash(torrent), None
    except ValidationError as exc:
        refused = ValidationError(scrub(exc.message))
    raise refused  # out of the except clause: the unscrubbed error is not chained
