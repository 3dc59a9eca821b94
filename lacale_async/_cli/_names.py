"""What the command calls the SDK's settings: its options, the variables its user can set.

The SDK words its messages for Python callers (``key_rate``, ``budget_share=0.5``); a command
line user can pass none of those. A message that names a setting is a ``Worded`` (an error's
``wording``, a log record's argument): written here with :data:`CLI_NAMES`, never by
rewriting the SDK's text.
"""

from __future__ import annotations

import logging

from .._wording import Names, Worded, typed

__all__ = ["CLI_NAMES", "CliNames", "log_text", "worded"]

# The command's options for an SDK setting.
_OPTIONS = {"budget_share": "--budget-share", "interval": "--interval", "timeout": "--timeout"}
# Settings the command has no option for, but that the SDK reads from the environment.
_VARIABLES = {"key_rate": "LACALE_KEY_RATE", "quota_store": "LACALE_QUOTA_STORE"}
# Settings the command user cannot change at all: what they are, not a name to set.
_FIXED = {"max_quota_wait": "the longest wait for the key budget"}


class CliNames(Names):
    """The command's names: ``--budget-share``, ``LACALE_KEY_RATE``, or what a setting is."""

    def name(self, setting: str) -> str:
        """Return the option or variable for ``setting``, else what it is."""
        for table in (_OPTIONS, _VARIABLES, _FIXED):
            if setting in table:
                return table[setting]
        return setting

    def called(self, setting: str) -> str:
        """Return the option or variable: the command user has no Python parameter besides."""
        return self.name(setting)

    def assign(self, setting: str, value: float | None) -> str:
        """Return ``--budget-share 0.5`` or ``LACALE_KEY_RATE=off`` (None turns it off)."""
        shown = "off" if value is None else typed(value)
        if setting in _OPTIONS:
            return f"{_OPTIONS[setting]} {shown}"
        if setting in _VARIABLES:
            return f"{_VARIABLES[setting]}={shown}"
        return super().assign(setting, value)

    def advise(self, setting: str, value: float | None) -> str:
        """Return ``set LACALE_QUOTA_STORE=off`` for a variable, ``pass --x V`` for an option."""
        verb = "set" if setting in _VARIABLES else "pass"
        return f"{verb} {self.assign(setting, value)}"


CLI_NAMES = CliNames()
"""The names every text of the command uses."""


def worded(arg: object) -> Worded | None:
    """The :class:`Worded` of a log argument or an error: itself, or the error's ``wording``."""
    if isinstance(arg, Worded):
        return arg
    wording = getattr(arg, "wording", None) if isinstance(arg, BaseException) else None
    return wording if isinstance(wording, Worded) else None


def log_text(record: logging.LogRecord) -> str:
    """Return a log record's message, its worded arguments (errors too) in the command's names."""
    args = record.args
    if not isinstance(args, tuple):
        return record.getMessage()
    texts = [worded(a) for a in args]
    if all(w is None for w in texts):
        return record.getMessage()
    shown = tuple(a if w is None else w.text(CLI_NAMES) for a, w in zip(args, texts, strict=True))
    return str(record.msg) % shown
