"""``lacale quota``, and the budget lines that end ``lacale bulk``: what the key has left."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import click

from .._quota import Quota, describe_wait, describe_window
from ._app import command
from ._names import CLI_NAMES
from ._render import local_date
from ._run import connect, echo_json, run_command
from ._sanitize import clean
from ._session import Settings

__all__ = ["budget_line", "not_run_line", "quota", "quota_dict"]


def quota_dict(quota: Quota) -> dict[str, Any]:
    """Return the budget as a JSON-ready dict (ISO dates, seconds as numbers)."""

    def iso(moment: datetime | None) -> str | None:
        return moment.isoformat(timespec="seconds") if moment is not None else None

    return {
        "remaining": quota.remaining,
        "next_free_in": round(quota.next_free_in, 3),
        "next_free_at": iso(quota.next_free_at),
        "paused_until": iso(quota.paused_until),
        "store": quota.store,
        "at": iso(quota.at),
        "windows": [
            {
                "calls": w.calls,
                "period": w.period,
                "used": w.used,
                "remaining": w.remaining,
                "next_free_at": iso(w.next_free_at),
            }
            for w in quota.windows
        ],
    }


def budget_line(quota: Quota) -> str:
    """Return one line: what each key window has left, and when a request may go."""
    if quota.remaining is None:
        return f"key budget: none ({CLI_NAMES.assign('key_rate', None)})"
    parts = [f"{w.remaining} of {describe_window(w.calls, w.period)} left" for w in quota.windows]
    line = "key budget: " + ", ".join(parts)
    if quota.paused_until is not None:
        line += f"; paused by a 429 until {local_date(quota.paused_until)}"
    elif quota.next_free_at is not None:
        line += (
            f"; next request in {describe_wait(quota.next_free_in)} "
            f"({local_date(quota.next_free_at)})"
        )
    return line


def not_run_line(count: int, retry_at: datetime) -> str:
    """Return the line saying how many queries the spent budget kept from running."""
    plural = "query was" if count == 1 else "queries were"
    return (
        f"note: {count} {plural} not run (key budget spent, nothing sent for them); the budget "
        f"frees up at {local_date(retry_at)}: run them again then"
    )


@command()
def quota(settings: Settings) -> None:
    """Show what is left of the key-wide request budget, per window, and when it frees up."""

    async def go() -> int:
        async with connect(settings) as client:
            budget = await client.quota()
        if settings.json:
            echo_json(quota_dict(budget), secrets=settings.secrets)
            return 0
        click.echo(budget_line(budget))
        for w in budget.windows:
            frees = f", next frees {local_date(w.next_free_at)}" if w.next_free_at else ""
            click.echo(
                f"  {describe_window(w.calls, w.period)}: {w.used} used, {w.remaining} left{frees}"
            )
        click.echo(f"  kept in: {clean(str(budget.store))}")
        return 0

    run_command(settings, go)
