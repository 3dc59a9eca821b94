"""The public surface: one sorted __all__, everything importable, the contract names present."""

from __future__ import annotations

import importlib
import inspect
from pathlib import Path

import lacale_async
from lacale_async import _errors

CONTRACT = {
    "LaCaleClient",
    "Torrent",
    "Meta",
    "Category",
    "TagGroup",
    "Tag",
    "UploadResult",
    "LaCaleError",
    "APIError",
    "BadRequestError",
    "AuthenticationError",
    "PermissionDeniedError",
    "NotFoundError",
    "ConflictError",
    "RateLimitError",
    "ServerError",
    "TransportError",
}


def isort_key(name: str) -> tuple[int, str]:
    """Constants first, then classes, then the rest (the order ruff's RUF022 enforces)."""
    if name.isupper():
        return (0, name)
    return (1 if name[:1].isupper() else 2, name)


def test_all_is_sorted_and_unique() -> None:
    names = list(lacale_async.__all__)
    assert names == sorted(names, key=isort_key)
    assert len(names) == len(set(names))


def test_every_exported_name_exists_and_is_public() -> None:
    for name in lacale_async.__all__:
        obj = getattr(lacale_async, name)
        if inspect.isclass(obj) or inspect.isfunction(obj):
            assert obj.__module__.startswith("lacale_async"), name


def test_the_contract_names_are_exported() -> None:
    assert set(lacale_async.__all__) >= CONTRACT


def test_every_error_class_is_exported_and_rooted_at_lacale_error() -> None:
    classes = [
        obj
        for _, obj in inspect.getmembers(_errors, inspect.isclass)
        if issubclass(obj, Exception) and obj.__module__ == _errors.__name__
    ]
    for cls in classes:
        assert issubclass(cls, lacale_async.LaCaleError)
        assert cls.__name__ in lacale_async.__all__
        # The tree in the module docstring names every class.
        assert cls.__name__ in (_errors.__doc__ or "")


def test_implementation_modules_are_private() -> None:
    package = Path(lacale_async.__file__).parent
    public = {p.stem for p in package.glob("*.py") if not p.stem.startswith("_")}
    assert public == set()
    assert (package / "py.typed").exists()


def test_the_testing_package_has_a_sorted_all() -> None:
    testing = importlib.import_module("lacale_async.testing")
    names = list(testing.__all__)
    assert names == sorted(names, key=isort_key)
    for name in names:
        assert hasattr(testing, name)
