"""The package layout (README "Layout"): every folder is a listed package, imports run one way, the
pure cores load no Lightning, every config `_target_` names the defining module, and the wheel ships
all of it."""

from __future__ import annotations

import ast
import importlib
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import yaml

tomllib = pytest.importorskip("tomllib")  # Python >= 3.11 (the project supports 3.10)

ROOT = Path(__file__).resolve().parents[1]
PACKAGE_FOLDERS = ("callbacks", "datamodules", "lightning_modules", "plugins", "configs", "reproduce")
CODE_FOLDERS = ("callbacks", "datamodules", "lightning_modules")
ENTRY_POINT_FOLDERS = ("reproduce",)  # like train.py: may import everything, imported by nothing
NOT_CORE = ("callback.py", "figures.py")  # the Lightning-facing modules of an analysis subpackage
RUN_WIDE = ("reliability",)  # callbacks/ subpackages of Callbacks, not analyses


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return "neurobolts." + ".".join(parts)


def module_path(name: str) -> Path | None:
    """The file of a `neurobolts.*` module or package, None if there is none."""
    if not name.startswith("neurobolts."):
        return None
    rel = Path(*name.split(".")[1:])
    for candidate in (ROOT / rel.with_suffix(".py"), ROOT / rel / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def kind(path: Path) -> str:
    """core | callback | datamodule | lightning_module | entry_point | plugin."""
    rel = path.relative_to(ROOT)
    top = rel.parts[0]
    if top in ENTRY_POINT_FOLDERS:
        return "entry_point"
    if top == "callbacks":
        if len(rel.parts) == 3 and rel.parts[1] not in RUN_WIDE and rel.name not in NOT_CORE:
            return "core"  # callbacks/common/* and callbacks/<analysis>/* but callback.py, figures.py
        return "callback"  # callbacks/*.py, callbacks/reliability/*, callbacks/<analysis>/{callback,figures}.py
    return {"datamodules": "datamodule", "lightning_modules": "lightning_module"}.get(top, "plugin")


def lazy_exports(package_init: Path) -> dict[str, str]:
    """The {name: module} map (`_EXPORTS`) of a lazy package `__init__`, modules made absolute."""
    for node in ast.parse(package_init.read_text()).body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "_EXPORTS" for t in node.targets):
            package = module_name(package_init)
            return {name: package + module if module.startswith(".") else module
                    for name, module in ast.literal_eval(node.value).items()}
    return {}


def imported_modules(path: Path) -> list[tuple[int, str]]:
    """(line, module) for every import in the file (function-level ones included). `from pkg import
    name` resolves to the submodule `pkg.name`, or to the module a lazy package exports `name` from."""
    package = module_name(path) if path.name == "__init__.py" else module_name(path).rsplit(".", 1)[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{anchor}.{base}" if base else anchor
            for alias in node.names:
                target = base
                if base.startswith("neurobolts."):
                    init = module_path(base)
                    if module_path(f"{base}.{alias.name}") is not None:
                        target = f"{base}.{alias.name}"
                    elif init is not None and init.name == "__init__.py":
                        target = lazy_exports(init).get(alias.name, base)
                found.append((node.lineno, target))
    return found


def violation(source: Path, target: str) -> str | None:
    """Why the module in `source` may not import `target` (a module name), or None if it may."""
    source_kind = kind(source)
    if target == "lightning" or target.startswith(("lightning.", "pytorch_lightning")):
        return "a pure core may not import Lightning" if source_kind == "core" else None
    if not target.startswith("neurobolts."):
        return None
    path = module_path(target)
    if path is None:
        return "no such module"
    target_kind = kind(path)
    allowed = {
        "core": {"core", "plugin"},
        "callback": {"core", "plugin"},
        "datamodule": {"datamodule", "plugin"},
        "lightning_module": {"core", "datamodule", "lightning_module", "plugin"},
        "entry_point": {"core", "callback", "datamodule", "lightning_module", "plugin", "entry_point"},
    }[source_kind]
    if source_kind == "callback" and target_kind == "callback" and path.name == "figures.py" \
            and path.parent == source.parent:
        return None  # an analysis' Callback draws with its own figures module
    if target_kind not in allowed:
        return f"a {source_kind} module may not import a {target_kind} module"
    return None


def code_files(folders: tuple[str, ...] = CODE_FOLDERS):
    return sorted(p for folder in folders for p in (ROOT / folder).rglob("*.py") if "__pycache__" not in p.parts)


def core_modules() -> list[str]:
    return [module_name(p) for p in code_files() if kind(p) == "core"]


def test_every_package_folder_is_listed_in_pyproject():
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    folders = {p.parent for top in PACKAGE_FOLDERS for p in (ROOT / top).rglob("__init__.py")
               if "__pycache__" not in p.parts}
    expected = {module_name(folder / "__init__.py"): folder.relative_to(ROOT).as_posix() for folder in folders}
    listed = {name for name in setuptools["packages"] if name.startswith("neurobolts.")}
    assert listed == set(expected)
    assert {name: setuptools["package-dir"][name] for name in listed} == expected
    # no module outside a package (a folder of code without __init__.py would be left out of the wheel)
    assert {p.parent for folder in CODE_FOLDERS for p in (ROOT / folder).rglob("*.py")
            if "__pycache__" not in p.parts} <= folders


def test_imports_run_one_way():
    problems = [f"{path.relative_to(ROOT)}:{line} imports {target}: {why}"
                for path in code_files((*CODE_FOLDERS, *ENTRY_POINT_FOLDERS)) for line, target in imported_modules(path)
                if (why := violation(path, target)) is not None]
    assert not problems, "\n".join(problems)


def test_the_import_rules_catch_a_violation():
    """The scan is not vacuous: it sees function-level and lazy-package imports, and each rule bites."""
    core = ROOT / "callbacks" / "dsa" / "similarity.py"
    callback = ROOT / "callbacks" / "inductive_bias" / "callback.py"
    datamodule = ROOT / "datamodules" / "dsa" / "attractors.py"
    module = ROOT / "lightning_modules" / "dsa" / "attractor_study.py"
    assert violation(core, "lightning.pytorch") is not None
    assert violation(core, "neurobolts.callbacks.dsa.callback") is not None
    assert violation(core, "neurobolts.callbacks.dsa.figures") is not None
    assert violation(core, "neurobolts.datamodules.expander_hopfield.bit_flips") is not None
    assert violation(callback, "neurobolts.lightning_modules.inductive_bias.mlp_classifier") is not None
    assert violation(callback, "neurobolts.callbacks.dsa.figures") is not None  # another analysis' figures
    assert violation(callback, "neurobolts.callbacks.inductive_bias.figures") is None
    assert violation(datamodule, "neurobolts.callbacks.dsa.similarity") is not None
    assert violation(module, "neurobolts.callbacks.recall_curve.callback") is not None
    assert violation(module, "neurobolts.callbacks.dsa.similarity") is None
    # the report (an entry point) may import anything; nothing may import it
    report = ROOT / "reproduce" / "diffusion_bumps.py"
    assert violation(report, "neurobolts.lightning_modules.diffusion_bumps.module") is None
    assert violation(report, "neurobolts.callbacks.manifold.callback") is None
    assert violation(module, "neurobolts.reproduce.runner") is not None
    assert violation(core, "neurobolts.reproduce.results") is not None
    # a function-level import (the figure at train end) and a lazy package export are resolved
    assert (ROOT / "callbacks" / "inductive_bias" / "figures.py") in {
        module_path(t) for _, t in imported_modules(callback)}
    assert lazy_exports(ROOT / "callbacks" / "__init__.py")["DynamicalSimilarity"] == "neurobolts.callbacks.dsa.callback"


def _fresh_python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=300)


def test_pure_cores_load_no_lightning_and_no_callback():
    """One fresh interpreter imports every core in turn and stops at the first one that loaded
    Lightning, a Callback, DataModule or LightningModule module."""
    cores = core_modules()
    assert "neurobolts.callbacks.dsa.similarity" in cores and "neurobolts.callbacks.common.probe" in cores
    assert "neurobolts.callbacks.dsa.callback" not in cores
    code = f"""
import importlib, sys
def bad():
    return sorted(m for m in sys.modules if m == 'lightning' or m.startswith(('lightning.', 'pytorch_lightning'))
                  or m.startswith(('neurobolts.datamodules.', 'neurobolts.lightning_modules.',
                                   'neurobolts.callbacks.reliability.'))
                  or m.endswith(('.callback', '.figures')) and m.startswith('neurobolts.callbacks.'))
for name in {cores!r}:
    importlib.import_module(name)
    assert not bad(), f"importing {{name}} loaded {{bad()[:5]}}"
print("ok", len({cores!r}))
"""
    result = _fresh_python(code)
    assert result.returncode == 0, result.stderr[-3000:]
    # and the lazy exports still reach the functions
    result = _fresh_python("import sys, neurobolts.callbacks.dsa as d; f = d.dsa; import neurobolts.callbacks.manifold as m;"
                           " m.PhaseRule; assert callable(f) and f.__module__.endswith('similarity');"
                           " assert 'lightning' not in sys.modules")
    assert result.returncode == 0, result.stderr[-3000:]


def test_callbacks_load_no_datamodule_or_lightning_module():
    callbacks = [module_name(p) for p in code_files() if kind(p) == "callback"]
    code = f"""
import importlib, sys
for name in {callbacks!r}:
    importlib.import_module(name)
bad = sorted(m for m in sys.modules if m.startswith(('neurobolts.datamodules.', 'neurobolts.lightning_modules.')))
assert not bad, bad
"""
    result = _fresh_python(code)
    assert result.returncode == 0, result.stderr[-3000:]


def _targets(node):
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "_target_" and isinstance(value, str):
                yield value
            else:
                yield from _targets(value)
    elif isinstance(node, list):
        for value in node:
            yield from _targets(value)


def test_every_target_names_the_defining_module():
    targets = set()
    for path in (ROOT / "configs").rglob("*.yaml"):
        targets |= {(t, path.relative_to(ROOT).as_posix()) for t in _targets(yaml.safe_load(path.read_text()))
                    if t.startswith("neurobolts.")}
    assert len(targets) > 20
    problems = []
    for target, where in sorted(targets):
        module, _, name = target.rpartition(".")
        obj = getattr(importlib.import_module(module), name, None)
        if obj is None or obj.__module__ != module:
            problems.append(f"{where}: {target} is defined in {getattr(obj, '__module__', None)}")
    assert not problems, "\n".join(problems)


def test_package_exports_resolve():
    for init in sorted(p for folder in CODE_FOLDERS for p in (ROOT / folder).rglob("__init__.py")):
        package = importlib.import_module(module_name(init))
        exports = lazy_exports(init)
        assert exports and list(exports) == package.__all__, init
        # an export named like a submodule would be replaced by the submodule once that is imported
        assert not {name for name in exports if module_path(f"{package.__name__}.{name}")}, init
        for name, module in exports.items():
            assert getattr(package, name) is getattr(importlib.import_module(module), name), (init, name)
        with pytest.raises(AttributeError, match="has no attribute"):
            package.not_exported  # noqa: B018


def test_the_wheel_ships_every_package_and_the_configs(tmp_path):
    """Build the wheel offline from a copy of the sources, and import from it alone (editable install
    switched off in the child interpreter)."""
    source = tmp_path / "src"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for folder in (*PACKAGE_FOLDERS, "hydra_plugins"):
        shutil.copytree(ROOT / folder, source / folder, ignore=ignore)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
                            "-q", "-w", str(tmp_path / "dist"), str(source)],
                           capture_output=True, text=True, timeout=300)
    assert build.returncode == 0, build.stderr[-3000:]
    (wheel,) = (tmp_path / "dist").glob("neurobolts-*.whl")
    installed = tmp_path / "installed"
    zipfile.ZipFile(wheel).extractall(installed)
    code = f"""
import sys
sys.meta_path[:] = [f for f in sys.meta_path if "editable" not in repr(f).lower()]
sys.path_hooks[:] = [h for h in sys.path_hooks if "editable" not in repr(h).lower()]
sys.path[:] = [p for p in sys.path if "__editable__" not in p]
sys.path_importer_cache.clear()
import importlib
for name in ("neurobolts.callbacks.dsa.callback", "neurobolts.lightning_modules.diffusion_bumps.module",
             "neurobolts.configs", "neurobolts.callbacks.dsa", "neurobolts.datamodules",
             "neurobolts.reproduce.registry"):
    module = importlib.import_module(name)
    assert module.__file__.startswith({str(installed)!r}), (name, module.__file__)
from neurobolts.callbacks import DynamicalSimilarity
from neurobolts.plugins.experiments import available_experiments
print(",".join(available_experiments()))
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                            cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(installed)})
    assert result.returncode == 0, result.stderr[-3000:]
    shipped = result.stdout.strip().splitlines()[-1].split(",")
    assert shipped == sorted(p.stem for p in (ROOT / "configs" / "experiment").glob("*.yaml"))
    packaged = {p.relative_to(installed / "neurobolts" / "configs").as_posix()
                for p in (installed / "neurobolts" / "configs").rglob("*.yaml")}
    assert packaged == {p.relative_to(ROOT / "configs").as_posix() for p in (ROOT / "configs").rglob("*.yaml")}
