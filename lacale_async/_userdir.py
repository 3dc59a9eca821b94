"""The one folder the SDK and the ``lacale`` command keep files in between runs.

``LACALE_CACHE_DIR`` when set, else ``platformdirs``' user cache folder for ``lacale-async``
(``~/.cache/lacale-async`` on Linux). The key budget's store (``quota.sqlite3``, unless
``LACALE_QUOTA_STORE`` names another file) and what the command remembers live there.
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

from ._errors import ConfigurationError
from ._files import check_path, expand_home

__all__ = ["user_cache_dir"]


def user_cache_dir() -> Path:
    """Return the folder (not created here): ``LACALE_CACHE_DIR``, or the user's cache folder.

    Raises:
        ConfigurationError: ``LACALE_CACHE_DIR`` is no path a folder can have.
    """
    override = os.environ.get("LACALE_CACHE_DIR")
    if override:
        name = "LACALE_CACHE_DIR"
        return expand_home(check_path(override, name, ConfigurationError), name, ConfigurationError)
    return platformdirs.user_cache_path("lacale-async", appauthor=False)
