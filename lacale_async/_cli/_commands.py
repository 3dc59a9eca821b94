"""Every ``lacale`` subcommand, registered in one place.

A new command is a function declared with :func:`._app.command` in a module of its own, then
added to :data:`COMMANDS`.
"""

from __future__ import annotations

import click

from ._app import cli
from ._bulk import bulk
from ._download import download
from ._quota import quota
from ._search import meta, search
from ._serve import sandbox
from ._upload import upload
from ._watch import watch

__all__ = ["COMMANDS", "cli"]

COMMANDS: tuple[click.Command, ...] = (
    search,
    meta,
    upload,
    download,
    bulk,
    watch,
    quota,
    sandbox,
)
"""The subcommands, in the order ``lacale --help`` lists them."""

for _command in COMMANDS:
    cli.add_command(_command)
