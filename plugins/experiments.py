"""Experiment discovery: the config packages on Hydra's search path and the experiments they hold.

neurobolts ships its config tree as the package `neurobolts.configs`. Other installed distributions
add theirs by declaring an entry point in the group `neurobolts.configs` whose value is the importable
package holding their Hydra config tree (folders experiment/, model/, data/, ...):

    [project.entry-points."neurobolts.configs"]
    my_lab = "my_lab.configs"

The Hydra SearchPathPlugin (`hydra_plugins/neurobolts_searchpath`) appends that package's folder
after `pkg://neurobolts.configs`, so `neurobolts-train experiment=<their experiment>` finds their
configs and their configs may name neurobolts' groups (trainer, callbacks, logger, ...) in their
defaults. That plugin runs in every Hydra app at start-up, so this module stays import-light: the
standard library only, and third-party packages are located on disk, never imported. (Hydra's own
`pkg://<package>` source would import the package, and its `__init__`, at every config lookup: a
package that fails to import would then break every Hydra app.)
"""

from __future__ import annotations

import re
import sys
import warnings
from dataclasses import dataclass
from importlib import metadata, resources
from pathlib import Path

ENTRY_POINT_GROUP = "neurobolts.configs"
NEUROBOLTS_CONFIGS = "neurobolts.configs"
_PACKAGE_NAME = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$")


@dataclass(frozen=True)
class ConfigPackage:
    """A config tree declared by an installed distribution.

    Attributes:
        package: the importable package holding the tree (the entry point's value).
        distribution: the distribution that declared it.
        entry_point: the entry point's name.
    """

    package: str
    distribution: str
    entry_point: str
    locations: tuple[str, ...] = ()

    @property
    def search_paths(self) -> list[str]:
        """Hydra search-path entries of the tree: `file://` folders (read without importing the package);
        `pkg://<package>` for a package that is not a folder on disk (e.g. inside a zip)."""
        folders = [loc for loc in self.locations if Path(loc).is_dir()]
        return [f"file://{folder}" for folder in folders] if folders else [f"pkg://{self.package}"]


def _find_spec(finder, fullname: str, path):
    find_spec = getattr(finder, "find_spec", None)
    if find_spec is None:
        return None
    try:
        return find_spec(fullname, path)
    except (ImportError, ValueError, OSError):
        return None


def locate_package(name: str):
    """The module spec of package `name`, found without executing any module (a package whose
    `__init__` imports torch costs nothing here); None when it cannot be found or is a plain module."""
    spec, path = None, None
    parts = name.split(".")
    for i in range(len(parts)):
        fullname = ".".join(parts[: i + 1])
        module = sys.modules.get(fullname)
        if module is not None and getattr(module, "__spec__", None) is not None:
            spec = module.__spec__
        else:
            spec = next((s for finder in sys.meta_path if (s := _find_spec(finder, fullname, path)) is not None),
                        None)
        if spec is None or spec.submodule_search_locations is None:
            return None
        path = spec.submodule_search_locations
    return spec


def _locate(value: str) -> tuple[tuple[str, ...], str | None]:
    """(the folders of config package `value`, None), or ((), why it cannot be used)."""
    if not _PACKAGE_NAME.match(value):
        return (), (f"the value must be the dotted name of a package holding a Hydra config tree "
                    f"(e.g. my_lab.configs), got {value!r}")
    if value == NEUROBOLTS_CONFIGS:
        return (), "it names neurobolts' own config package, which is always on the search path"
    spec = locate_package(value)
    if spec is None:
        return (), f"no package {value!r} can be found on sys.path (is the distribution installed completely?)"
    return tuple(str(loc) for loc in spec.submodule_search_locations), None


def third_party_config_packages() -> list[ConfigPackage]:
    """The config packages other distributions declare in the entry-point group `neurobolts.configs`,
    ordered by distribution and entry-point name (a stable search path).

    An entry point that cannot be used (not a dotted package name, or a package that is not there) is
    skipped with a warning naming the distribution and the entry point, so one broken install does
    not stop every Hydra app.
    """
    found = []
    for entry_point in metadata.entry_points(group=ENTRY_POINT_GROUP):
        dist = getattr(entry_point, "dist", None)
        distribution = dist.metadata["Name"] if dist is not None else "<unknown distribution>"
        locations, why = _locate(entry_point.value.strip())
        if why is not None:
            warnings.warn(f"neurobolts: ignoring the entry point `{entry_point.name} = {entry_point.value}` "
                          f"(group {ENTRY_POINT_GROUP}) of distribution {distribution!r}: {why}",
                          stacklevel=2)
            continue
        found.append(ConfigPackage(entry_point.value.strip(), distribution, entry_point.name, locations))
    return sorted(found, key=lambda p: (p.distribution.lower(), p.entry_point))


def _config_folders(include_third_party: bool = True) -> list:
    """The roots of the config trees in search-path order: neurobolts' own, then the third-party ones
    (folders on disk; a tree Hydra reads with `pkg://` is listed through importlib.resources)."""
    roots = [resources.files(NEUROBOLTS_CONFIGS)]
    for package in third_party_config_packages() if include_third_party else []:
        for entry in package.search_paths:
            if entry.startswith("file://"):
                roots.append(Path(entry[len("file://"):]))
            else:
                try:
                    roots.append(resources.files(package.package))
                except Exception as exc:  # noqa: BLE001 - a third-party package that fails to import
                    warnings.warn(f"neurobolts: cannot read the config package {package.package!r} of "
                                  f"distribution {package.distribution!r}: {type(exc).__name__}: {exc}", stacklevel=2)
    return roots


def _config_files(group: str, include_third_party: bool = True) -> dict[str, object]:
    """{option name: its YAML file} of one config group over all config trees; on a name clash the
    first tree on the search path wins, as in Hydra."""
    files: dict[str, object] = {}
    for root in _config_folders(include_third_party):
        folder = root / group
        if not folder.is_dir():
            continue
        for entry in sorted(folder.iterdir(), key=lambda e: e.name):
            if entry.name.endswith(".yaml"):
                files.setdefault(entry.name[: -len(".yaml")], entry)
    return files


def available_experiments(include_third_party: bool = True) -> list[str]:
    """Names usable as `experiment=<name>`, sorted: neurobolts' own and, unless `include_third_party`
    is false, those of the config packages other distributions declare (see the module docstring)."""
    return sorted(_config_files("experiment", include_third_party))


def _defaults(file) -> list:
    import yaml

    node = yaml.safe_load(file.read_text()) or {}
    defaults = node.get("defaults") if isinstance(node, dict) else None
    return defaults if isinstance(defaults, list) else []


def experiment_choice(experiment: str, group: str, default: str | None = None) -> str | None:
    """The option of `group` (e.g. "model") that experiment `experiment` selects in its defaults list
    (`override /model: <option>`, also through the experiments it extends), `default` if it selects none.

    Read from the YAML files without composing, so it answers for every experiment at once."""
    experiments = _config_files("experiment")
    seen: set[str] = set()

    def choice(name: str) -> str | None:
        if name in seen or name not in experiments:
            return None
        seen.add(name)
        chosen = None
        for entry in _defaults(experiments[name]):
            if isinstance(entry, str) and entry != "_self_":
                chosen = choice(entry.removeprefix("/experiment/")) or chosen  # an extended experiment
            elif isinstance(entry, dict):
                for key, value in entry.items():
                    if str(key).removeprefix("override").strip().lstrip("/") == group and isinstance(value, str):
                        chosen = value
        return chosen

    return choice(experiment) or default


def predict_experiments() -> list[str]:
    """The experiments `predict.py` supports: those whose model option has a prediction config
    (`predict/<model>.yaml`, selecting the DataModule that reads the new inputs)."""
    predict_configs = _config_files("predict")
    default_model = next((entry["model"] for entry in _defaults(resources.files(NEUROBOLTS_CONFIGS) / "predict.yaml")
                          if isinstance(entry, dict) and "model" in entry), None)
    return [name for name in available_experiments()
            if experiment_choice(name, "model", default_model) in predict_configs]
