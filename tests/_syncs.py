"""Record the order of fsync and rename calls: a file must be synced before it is renamed."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


def record_syncs_and_renames(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Patch ``os.fsync`` and ``os.replace`` to append ``"fsync"``/``"replace"`` as they run."""
    steps: list[str] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd: int) -> None:
        steps.append("fsync")
        real_fsync(fd)

    def replace(src: str | Path, dst: str | Path) -> None:
        steps.append("replace")
        real_replace(src, dst)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    return steps
