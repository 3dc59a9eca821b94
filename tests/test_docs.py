"""The docs site covers the public API: a new export without a page fails here, not later."""

from __future__ import annotations

import importlib
import inspect
import re
from pathlib import Path

import lacale_async
import lacale_async.testing

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
_SNIPPET = re.compile(r'^--8<-- "([^":]+):([^"]+)"$', re.MULTILINE)


def _page(name: str) -> str:
    """A docs page as MkDocs renders it: README sections it includes are expanded."""

    def expand(match: re.Match[str]) -> str:
        source = (ROOT / match[1]).read_text(encoding="utf-8")
        start, end = f"<!-- --8<-- [start:{match[2]}] -->", f"<!-- --8<-- [end:{match[2]}] -->"
        assert start in source, f"{match[0]} names no marked section"
        assert end in source, f"{match[0]} names a section that never ends"
        return source.split(start, 1)[1].split(end, 1)[0]

    return _SNIPPET.sub(expand, (DOCS / name).read_text(encoding="utf-8"))


def _reference() -> str:
    return "\n".join(p.read_text(encoding="utf-8") for p in (DOCS / "reference").glob("*.md"))


def test_every_public_class_and_function_has_a_reference_entry() -> None:
    reference = _reference()
    errors = _page("errors.md")
    for module in (lacale_async, lacale_async.testing):
        for name in module.__all__:
            obj = getattr(module, name)
            if name == "__version__":
                continue
            if inspect.isclass(obj) and issubclass(obj, Exception):
                assert f"`{name}`" in errors, f"{name} is missing from docs/errors.md"
            # Errors too: their attributes (retry_at, info_hash...) are read there.
            assert f"::: {module.__name__}.{name}" in reference, (
                f"{module.__name__}.{name} is missing from docs/reference/"
            )


def test_docstrings_shown_in_the_reference_hold_no_rest_markup() -> None:
    """MkDocs renders Markdown: a reST role (:class:) or a ``::`` block shows as is."""
    rest = re.compile(r":(?:class|func|data|meth|attr|mod):`|^\s*::\s*$", re.MULTILINE)
    modules = {*re.findall(r"^::: ([\w.]+)", _reference(), re.MULTILINE)}
    for dotted in sorted(modules):
        try:
            obj = importlib.import_module(dotted)
        except ImportError:
            continue  # a class, or a module whose extra is missing
        assert not rest.search(obj.__doc__ or ""), f"{dotted}'s docstring holds reST markup"


def test_the_reference_shows_rest_roles_as_code() -> None:
    """Docstrings keep Sphinx roles; the docs hook shows them as code, not as typed."""
    import importlib.util

    path = DOCS / "hooks" / "rest_roles.py"
    assert "docs/hooks/rest_roles.py" in (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    spec = importlib.util.spec_from_file_location("rest_roles", path)
    assert spec is not None
    assert spec.loader is not None
    hook = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hook)
    page = (
        "<p>Raises :class:<code>LaCaleError</code>; see :meth:<code>~LaCaleClient.search</code>"
        " and :data:<code>x.DEFAULT</code>. Use it as follows::</p>"
    )
    assert hook.on_page_content(page) == (
        "<p>Raises <code>LaCaleError</code>; see <code>search</code>"
        " and <code>x.DEFAULT</code>. Use it as follows:</p>"
    )


def test_the_errors_page_lists_every_option_an_error_can_name() -> None:
    """A front end maps ``error.option`` to its own flag: the page must list every value."""
    raised = set()
    for path in (ROOT / "lacale_async").rglob("*.py"):
        raised |= set(re.findall(r'\boption="(\w+)"', path.read_text(encoding="utf-8")))
    assert raised, "no option= found: the pattern no longer matches the code"
    page = _page("errors.md")
    missing = sorted(name for name in raised if f'`"{name}"`' not in page)
    assert not missing, f"docs/errors.md (README's errors section) omits options {missing}"
