"""The docs site covers the public API: a new export without a page fails here, not later."""

from __future__ import annotations

import inspect
from pathlib import Path

import lacale_async
import lacale_async.testing

DOCS = Path(__file__).resolve().parent.parent / "docs"


def _reference() -> str:
    return "\n".join(p.read_text(encoding="utf-8") for p in (DOCS / "reference").glob("*.md"))


def test_every_public_class_and_function_has_a_reference_entry() -> None:
    reference = _reference()
    errors = (DOCS / "errors.md").read_text(encoding="utf-8")
    for module in (lacale_async, lacale_async.testing):
        for name in module.__all__:
            obj = getattr(module, name)
            if not (inspect.isclass(obj) or inspect.isfunction(obj)):
                continue  # constants and type aliases are described in the prose
            if inspect.isclass(obj) and issubclass(obj, Exception):
                assert f"`{name}`" in errors, f"{name} is missing from docs/errors.md"
            else:
                assert f"::: {module.__name__}.{name}" in reference, (
                    f"{module.__name__}.{name} is missing from docs/reference/"
                )
