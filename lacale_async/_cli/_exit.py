"""Exit codes of the ``lacale`` command and the one-line error text shown for each failure."""

from __future__ import annotations

from .._errors import (
    AuthenticationError,
    BadRequestError,
    ConfigurationError,
    ConflictError,
    ConnectError,
    LaCaleError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ResponseError,
    ServerError,
    StorageError,
    TransportError,
    ValidationError,
)
from . import EXIT_INTERRUPTED
from ._names import CLI_NAMES, worded
from ._sanitize import clean, masked

__all__ = [
    "CLI_HINTS",
    "EXIT_CODES",
    "EXIT_INTERRUPTED",
    "EXIT_OTHER",
    "EXIT_USAGE",
    "error_line",
    "error_text",
    "exit_code",
]

EXIT_OTHER = 1
"""Any LaCaleError not listed in :data:`EXIT_CODES`."""
EXIT_USAGE = 2
"""Bad command line (click's own code), or the ``cli`` extra is not installed."""

EXIT_CODES: dict[type[LaCaleError], int] = {
    ConfigurationError: 3,
    ValidationError: 4,
    # A 400/422 is the tracker refusing the input: the user fixes it like a local validation error.
    BadRequestError: 4,
    AuthenticationError: 5,
    PermissionDeniedError: 5,
    NotFoundError: 6,
    ConflictError: 7,
    RateLimitError: 8,
    ServerError: 9,
    TransportError: 10,
    ResponseError: 11,
    # Cannot write the file (exists, permissions, disk full): the user fixes the destination.
    StorageError: 12,
}
"""The one table from error class to exit code; subclasses inherit their parent's code."""


def exit_code(error: LaCaleError) -> int:
    """Return the exit code for ``error``: its nearest class in :data:`EXIT_CODES`, else 1.

    Args:
        error: The failure that ends the command.

    Returns:
        The process exit code.
    """
    for cls in type(error).__mro__:
        code = EXIT_CODES.get(cls)
        if code is not None:
            return code
    return EXIT_OTHER


CLI_HINTS: dict[str, str] = {
    "allow_insecure_http": "use https, or pass --allow-insecure-http if you really mean it",
    "allow_empty_search": "try 'lacale search FRENCH'",
    "api_key": "pass the key with --api-key or LACALE_API_KEY",
    "budget_share": "raise --interval or --budget-share, or watch fewer queries",
    "interval": "raise --interval",
    "meta": "list them with 'lacale meta' (ids or slugs accepted)",
    "overwrite": "pass --overwrite to replace it",
    "path_or_dir": "create it, or pass an existing folder (-o DIR/ with its trailing slash "
    "creates DIR and saves the torrent in it under its own name)",
    "source_policy": "or upload with --source-policy set and seed the file saved by --save-torrent",
}
"""What the command line says for an error's ``option`` (the SDK's hint names Python calls)."""


def _next_step(error: BaseException) -> str | None:
    """What to do about a failure whose message only says what went wrong."""
    if isinstance(error, ConnectError):
        return "is the tracker reachable from here? check --base-url (or LACALE_BASE_URL)"
    # The live tracker's answer to an upload without one (recorded; the v2 docs list nfoFile
    # among the multipart fields without saying it is required).
    if isinstance(error, BadRequestError) and "nfoFile" in error.server_message:
        return "pass the release's NFO with --nfo FILE"
    return None


def error_text(error: BaseException, secrets: tuple[str, ...] = ()) -> str:
    """Return the message of ``error`` on one line, safe for a terminal, secrets masked.

    An SDK error whose ``option`` names a Python argument gets the command line's own hint
    instead (``--overwrite`` rather than ``overwrite=True``), and one whose ``wording`` names
    SDK settings is written with the command's names (``LACALE_KEY_RATE``, not ``key_rate``);
    a connection refused or a missing NFO gets the option that fixes it.

    Args:
        error: The failure to describe.
        secrets: Values that must never be shown (the API key); empty strings are ignored.

    Returns:
        The message, whitespace collapsed, control characters and escape sequences removed
        (the class name when the message is empty).
    """
    wording = worded(error)
    option = getattr(error, "option", None)
    hint = CLI_HINTS.get(option) if isinstance(option, str) else None
    if wording is not None:
        # Written again with the command's names (key_rate), its own hint included.
        text = wording.text(CLI_NAMES)
    elif hint is not None:
        text = f"{getattr(error, 'reason', str(error))}; {hint}"
    else:
        text = str(error)
        if (step := _next_step(error)) is not None:
            text = f"{text}; {step}"
    return masked(" ".join(clean(text).split()) or type(error).__name__, secrets)


def error_line(error: BaseException, secrets: tuple[str, ...] = ()) -> str:
    """Return ``error: <message>`` as :func:`error_text` writes it, for stderr."""
    return f"error: {error_text(error, secrets)}"
