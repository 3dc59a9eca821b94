"""MkDocs hook: show the reST cross-references of docstrings as code in the API reference.

The docstrings use Sphinx roles (:class:`Torrent`, :meth:`~LaCaleClient.search`), which IDEs
and ``help()`` show well; mkdocstrings renders Markdown, where a role would stay as typed
(":class:" before the name) and a paragraph ending in ``::`` would keep both colons.
"""

from __future__ import annotations

import re
from typing import Any

# mkdocstrings has already turned the backquoted part into <code>...</code>.
_ROLE = re.compile(r":(?:class|meth|func|attr|data|mod|exc|obj):<code>(~?)([^<]*)</code>")
_LITERAL_LEAD = re.compile(r"::</p>")


def _name(match: re.Match[str]) -> str:
    name = match[2]
    if match[1]:  # Sphinx's ~ shows the last component only
        name = name.rsplit(".", 1)[-1]
    return f"<code>{name}</code>"


def strip_roles(html: str) -> str:
    """Return ``html`` with each rendered reST role shown as plain code.

    Args:
        html: A rendered page.

    Returns:
        The page, ``:class:<code>X</code>`` as ``<code>X</code>`` and a paragraph ending in
        ``::`` ending in one colon.
    """
    return _LITERAL_LEAD.sub(":</p>", _ROLE.sub(_name, html))


def on_page_content(html: str, **kwargs: Any) -> str:
    """MkDocs' hook for a page's rendered content."""
    return strip_roles(html)
