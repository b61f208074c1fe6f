"""MkDocs hook that lets mkdocstrings find the `neurobolts.*` packages for the API reference.

The import namespace is mapped onto top-level folders by setuptools' `package-dir` (callbacks/ is
`neurobolts.callbacks`, plugins/ is `neurobolts.plugins`, ...). Griffe, which reads the sources for
mkdocstrings, looks for a folder named `neurobolts` on its search paths: it cannot follow that
mapping, and its reading of setuptools' editable finder only adds the project root (where no
`neurobolts/` folder exists). So at `on_config` this hook builds, in a temporary directory, a
`neurobolts/` folder of symbolic links to each package's folder as the import system locates it
(the checkout for an editable install, site-packages for a wheel; copies where symbolic links are
not available) and puts that directory first on the Python handler's search paths. Griffe then
reads the sources statically: nothing of the package is imported while the site builds.
"""

from __future__ import annotations

import atexit
import importlib.util
import shutil
import tempfile
from pathlib import Path

from mkdocs.exceptions import PluginError
from mkdocs.plugins import event_priority

# the top-level packages of the namespace that hold Python code (configs/ holds only YAML)
PACKAGES = ("callbacks", "datamodules", "lightning_modules", "plugins", "reproduce")


def package_folder(name: str) -> Path:
    """The folder of `neurobolts.<name>` as the import system finds it (without importing it)."""
    try:
        spec = importlib.util.find_spec(f"neurobolts.{name}")
    except ModuleNotFoundError:
        spec = None
    if spec is None or not spec.submodule_search_locations:
        raise PluginError(
            f"the API reference needs the package neurobolts.{name}, which is not importable: install the "
            f"project first (`make install`, or `pip install -e '.[docs]'`)")
    return Path(next(iter(spec.submodule_search_locations)))


def source_tree() -> Path:
    """A temporary directory holding `neurobolts/<package>` for every package in PACKAGES."""
    root = Path(tempfile.mkdtemp(prefix="neurobolts-api-"))
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    (root / "neurobolts").mkdir()
    for name in PACKAGES:
        source, link = package_folder(name), root / "neurobolts" / name
        try:
            link.symlink_to(source, target_is_directory=True)
        except OSError:  # e.g. Windows without the symbolic-link privilege
            shutil.copytree(source, link, ignore=shutil.ignore_patterns("__pycache__"))
    return root


@event_priority(100)  # before mkdocstrings' own on_config, which creates the Python handler
def on_config(config):
    handlers = config.plugins["mkdocstrings"].config.handlers
    python = handlers.setdefault("python", {})
    python["paths"] = [str(source_tree()), *(python.get("paths") or [])]
    return config
