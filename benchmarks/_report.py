"""The parts every GC-on / GC-off section shares: its tables and the notes under them."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from benchmarks._harness import Samples, ratio_stats
from benchmarks._pools import ContenderSpec

__all__ = ["gc_tables_and_notes"]


def gc_tables_and_notes(
    main: Samples,
    old: Samples | None,
    table: Callable[[Samples], str],
    *,
    sdk: str,
    baseline: tuple[str, str],
    metric: str,
    extra: Sequence[ContenderSpec],
    old_rounds: int,
) -> tuple[list[str], list[str]]:
    """Return the GC-on table (GC off after it when measured) and the notes on variants.

    Args:
        main: The verdicts' samples (GC on, one process per contender).
        old: The older method's samples (GC off, in-process), or None when not measured.
        table: Draws one table from samples.
        sdk: The SDK contender's name.
        baseline: ``(contender name, how the note names it)`` for the secondary figure.
        metric: The samples' throughput field (``rps``, ``cps``).
        extra: Ablation variants measured beside the SDK.
        old_rounds: Rounds of the older method.

    Returns:
        ``(parts, notes)``: the section's table lines and one note per variant (and for
        the secondary figure).
    """
    parts = ["### GC on, one process per contender (verdicts)", "", table(main)]
    notes = []
    for spec in extra:
        vs_sdk = ratio_stats(main.of(spec.name, metric), main.of(sdk, metric))
        notes.append(f"{spec.name} ({spec.setup}) vs the SDK as is: {vs_sdk.text()}.")
    if old is not None:
        parts += [
            "",
            "### GC off, every contender in one process (the older method, secondary)",
            "",
            table(old),
        ]
        name, called = baseline
        versus = ratio_stats(old.of(sdk, metric), old.of(name, metric))
        notes.append(
            f"Secondary figure (GC off, in-process, {old_rounds} rounds): SDK vs {called} "
            f"{versus.text()}; not a verdict."
        )
    return parts, notes
