"""Lazy package exports (PEP 562): a package names what it exports and where each name is defined,
and the defining module is imported on first access only. So `from neurobolts.callbacks import
DynamicalSimilarity` works, while importing a pure module of the package (e.g.
`neurobolts.callbacks.dsa.similarity`) does not load the Callbacks, nor Lightning."""

from __future__ import annotations

import importlib
from collections.abc import Callable


def lazy_exports(package: str, exports: dict[str, str]) -> tuple[Callable[[str], object], Callable[[], list[str]]]:
    """`__getattr__` and `__dir__` for `package` exporting `exports` ({name: module}; a module name
    starting with "." is relative to the package). Use in the package's `__init__.py`:

        _EXPORTS = {"DynamicalSimilarity": ".callback", "dsa": ".similarity"}
        __all__ = list(_EXPORTS)
        __getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
    """
    namespace = importlib.import_module(package).__dict__

    def __getattr__(name: str) -> object:
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module, package), name)
        namespace[name] = value  # later lookups skip __getattr__
        return value

    def __dir__() -> list[str]:
        return sorted({*namespace, *exports})

    return __getattr__, __dir__
