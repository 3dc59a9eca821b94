"""The global options of ``lacale``: defined once, accepted before or after the subcommand.

``lacale --json search dune`` and ``lacale search dune --json`` mean the same, as with gh,
httpie or pip. Each global option is declared once in :data:`GLOBAL_OPTIONS`; :func:`add_global`
puts a copy on the group and on every command. Every copy records what it parsed in the root
context, and :func:`settings` reads the result: a value typed on the command line wins over
the environment, and the last one typed wins (``lacale --json search x --json`` is fine).
The environment is read once, by the group's copy.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import click
from click.core import ParameterSource

from .._secret import Secret
from ._session import Settings

__all__ = [
    "GLOBAL_OPTIONS",
    "FiniteRange",
    "GlobalOption",
    "LacaleCommand",
    "LacaleGroup",
    "add_global",
    "settings",
]

F = TypeVar("F", bound=Callable[..., Any])

_STORE = "lacale.global_options"


class FiniteRange(click.FloatRange):
    """A ``click.FloatRange`` that also refuses nan and inf (exit 2, like any bad value).

    ``FloatRange`` compares the value with its bounds, and every comparison with nan is false:
    ``--exec-timeout nan`` passed, then crashed the watch at its first release.
    """

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        """Return the number, or fail as click does for a value out of range."""
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number.", param, ctx)
        return number


@dataclass(frozen=True)
class GlobalOption:
    """One global option: its click declaration and the ``Settings`` field it fills.

    Attributes:
        decls: Flags, then the ``Settings`` field name (``("--json", "json")``).
        attrs: Further ``click.Option`` arguments (help, type, envvar...).
    """

    decls: tuple[str, ...]
    attrs: dict[str, Any]

    def build(self, *, on_group: bool) -> click.Option:
        """Return a fresh ``click.Option`` for the group (reads the environment) or a command."""
        attrs = dict(self.attrs)
        if not on_group:
            # Read once, by the group: a second reading would look like a newer value.
            attrs.pop("envvar", None)
            attrs.pop("show_envvar", None)
        return _Global(self.decls, expose_value=False, callback=_record, **attrs)


class _Global(click.Option):
    """A copy of a global option (``--help`` lists these in their own section)."""


GLOBAL_OPTIONS: tuple[GlobalOption, ...] = (
    GlobalOption(
        ("--api-key", "api_key"),
        {
            "envvar": "LACALE_API_KEY",
            "show_envvar": True,
            "metavar": "KEY",
            "help": "Your La Cale API key (never printed). Without a key or --base-url, "
            "the embedded sandbox is used.",
        },
    ),
    GlobalOption(
        ("--base-url", "base_url"),
        {
            "envvar": "LACALE_BASE_URL",
            "show_envvar": True,
            "metavar": "URL",
            "help": "Tracker origin (default https://la-cale.space).",
        },
    ),
    GlobalOption(
        ("--auth", "auth"),
        {
            "type": click.Choice(["header", "query", "passkey"]),
            "default": "header",
            "show_default": True,
            "help": "How the key is sent: X-Api-Key header, ?apikey= query, or v1 passkey.",
        },
    ),
    GlobalOption(
        ("--timeout", "timeout"),
        {
            "type": FiniteRange(min=0, min_open=True, max=3600),
            "default": 30.0,
            "show_default": True,
            "metavar": "SECONDS",
            "help": "Longest wait for one request (a failed search is retried up to 3 times).",
        },
    ),
    GlobalOption(
        ("--allow-insecure-http", "allow_insecure_http"),
        {"is_flag": True, "help": "Allow a plain http:// --base-url that is not loopback."},
    ),
    GlobalOption(("--json", "json"), {"is_flag": True, "help": "Machine-readable output."}),
    GlobalOption(
        ("--sandbox", "sandbox"),
        {"is_flag": True, "help": "Use the embedded sandbox tracker (its uploads are kept)."},
    ),
    GlobalOption(
        ("-v", "--verbose", "verbose"),
        {"is_flag": True, "help": "Log the SDK's activity on stderr."},
    ),
)
"""Every global option, in the order ``--help`` lists them."""


def _record(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    source = ctx.get_parameter_source(param.name or "")
    store: dict[str, Any] = ctx.find_root().meta.setdefault(_STORE, {})
    # The group's copy runs first; a command's copy overrides only with what was typed.
    if param.name not in store or source is ParameterSource.COMMANDLINE:
        store[param.name or ""] = value
    return value


def add_global(*, on_group: bool = False) -> Callable[[F], F]:
    """Return a decorator that adds every global option to a command or the group."""

    def decorate(f: F) -> F:
        params: list[click.Parameter] = f.__dict__.setdefault("__click_params__", [])
        # click reverses the decorator-stacked list: append in reverse to keep GLOBAL_OPTIONS'
        # order after the command's own options.
        params[:0] = [spec.build(on_group=on_group) for spec in reversed(GLOBAL_OPTIONS)]
        return f

    return decorate


def settings(ctx: click.Context) -> Settings:
    """Return the global options as parsed for this invocation.

    Args:
        ctx: Any context of the invocation (the root's holds the values).

    Returns:
        The settings; defaults for options given nowhere.
    """
    values: dict[str, Any] = dict(ctx.find_root().meta.get(_STORE, {}))
    key = values.pop("api_key", None)
    base_url = values.pop("base_url", None)
    return Settings(api_key=Secret(key) if key else None, base_url=base_url or None, **values)


def _help_sections(
    command: click.Command, ctx: click.Context, formatter: click.HelpFormatter, *, full: bool
) -> None:
    own: list[tuple[str, str]] = []
    shared: list[tuple[str, str]] = []
    for param in command.get_params(ctx):
        record = param.get_help_record(ctx) if isinstance(param, click.Option) else None
        if record is not None:
            (shared if isinstance(param, _Global) else own).append(record)
    if own:
        with formatter.section("Options"):
            formatter.write_dl(own)
    if not shared:
        return
    with formatter.section("Global options (before or after the command)"):
        if full:
            formatter.write_dl(shared)
        else:
            # The group's --help explains them; here a list keeps the command's own visible.
            names = ", ".join(record[0].split(" ")[0].rstrip(",") for record in shared)
            formatter.write_text(f"{names} (see 'lacale --help')")


class LacaleCommand(click.Command):
    """A command whose ``--help`` lists its own options, then names the global ones."""

    def format_options(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """Write the "Options" section, then "Global options"."""
        _help_sections(self, ctx, formatter, full=False)


class LacaleGroup(click.Group):
    """The ``lacale`` group: global options in their own ``--help`` section, then commands."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        """Return the commands in the order they were registered (the most used first)."""
        return list(self.commands)

    def format_options(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """Write the options sections, then the commands."""
        _help_sections(self, ctx, formatter, full=True)
        self.format_commands(ctx, formatter)
