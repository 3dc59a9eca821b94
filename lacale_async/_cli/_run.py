"""Running one command: its client, its output streams, and one line (or none) per failure."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from typing import Any

import click
from rich.console import Console

from .._client import LaCaleClient
from .._errors import LaCaleError
from ..testing import SandboxConfig
from ._exit import EXIT_INTERRUPTED, EXIT_OTHER, error_line, exit_code
from ._names import log_text
from ._sanitize import json_text, shown
from ._session import SandboxHook, Settings, open_client
from ._streams import EXIT_BROKEN_PIPE, PipeSafeConsole, silence_stdout
from ._waits import WaitWatch, spinner

__all__ = [
    "connect",
    "echo_json",
    "handled",
    "note",
    "run_command",
    "stderr_console",
    "stdout_console",
]

# Pipes and files get a wide table instead of rich's 80-column default for non-terminals.
_PIPE_WIDTH = 120


def stdout_console() -> Console:
    """Return the console for results (120 columns on a pipe unless ``COLUMNS`` says)."""
    console = PipeSafeConsole(highlight=False)
    if not console.is_terminal and "COLUMNS" not in os.environ:
        console.width = _PIPE_WIDTH
    return console


def stderr_console() -> Console:
    """Return the console for progress and spinners."""
    return PipeSafeConsole(stderr=True, highlight=False)


def note(text: str, secrets: tuple[str, ...] = ()) -> None:
    """Print one informational line on stderr, safe for a terminal, ``secrets`` masked."""
    click.echo(shown(text, secrets), err=True)


def echo_json(
    value: object,
    *,
    indent: int | None = 2,
    secrets: tuple[str, ...] = (),
) -> None:
    """Print ``value`` as JSON on stdout (exact, terminal-safe escapes, ``secrets`` masked)."""
    click.echo(json_text(value, indent=indent, secrets=secrets))


@contextlib.asynccontextmanager
async def connect(
    settings: Settings,
    *,
    watch: WaitWatch | None = None,
    spin: bool = True,
    sandbox: SandboxConfig | None = None,
    on_sandbox: SandboxHook | None = None,
) -> AsyncIterator[LaCaleClient]:
    """Open the client for the command, with a spinner on stderr for waits over a second.

    Args:
        settings: The global options.
        watch: Sees the limiter waits; a new one when None.
        spin: Show the spinner (commands with a progress bar of their own pass False).
        sandbox: The embedded sandbox's settings, when it is used (see ``open_client``).
        on_sandbox: Runs beside the embedded sandbox (see ``open_client``).

    Yields:
        The open client.
    """
    watch = watch if watch is not None else WaitWatch()
    async with open_client(
        settings, note=note, watch=watch, sandbox=sandbox, on_sandbox=on_sandbox
    ) as client:
        if not spin:
            yield client
            return
        async with spinner(watch, stderr_console()):
            yield client


class _ScrubbingFormatter(logging.Formatter):
    """Log format for ``-v``: the key masked, text from the network cleaned."""

    def __init__(self, secrets: tuple[str, ...]) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")
        self._secrets = tuple(s for s in secrets if s)

    def format(self, record: logging.LogRecord) -> str:
        # The message with the command's names for SDK settings (see _names.log_text).
        record = logging.makeLogRecord({**record.__dict__, "msg": log_text(record), "args": None})
        return shown(super().format(record), self._secrets, multiline=True)


class _WarningNotes(logging.Handler):
    """The SDK's warnings on stderr without ``-v``, as notes naming the command's settings."""

    def __init__(self, secrets: tuple[str, ...]) -> None:
        super().__init__(logging.WARNING)
        self._secrets = tuple(s for s in secrets if s)

    def emit(self, record: logging.LogRecord) -> None:
        # The SDK scrubs its own texts; masking again costs nothing and guards the key.
        note("warning: " + log_text(record), self._secrets)


@contextlib.contextmanager
def handled(
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


def run_command(
    settings: Settings,
    make: Callable[[], Coroutine[Any, Any, int]],
    *,
    interrupt_hint: Callable[[], str | None] | None = None,
) -> None:
    """Run one command's coroutine under :func:`handled`, with ``-v`` logging if asked.

    Args:
        settings: The global options.
        make: Returns the command's coroutine; its result is the exit code.
        interrupt_hint: Called on Ctrl-C; what it returns is added to "interrupted".

    Raises:
        click.exceptions.Exit: Always when the command fails, with its exit code.
    """
    logger = logging.getLogger("lacale_async")
    handler: logging.Handler
    if settings.verbose:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(_ScrubbingFormatter(settings.secrets))
        logger.setLevel(logging.DEBUG)
    else:
        # Python's last-resort handler would print them too, but in the SDK's Python names.
        handler = _WarningNotes(settings.secrets)
    logger.addHandler(handler)
    try:
        with handled(settings, interrupt_hint=interrupt_hint):
            code = asyncio.run(make())
    finally:
        logger.removeHandler(handler)
        if settings.verbose:
            logger.setLevel(logging.NOTSET)
    if code:
        raise click.exceptions.Exit(code)
