"""Hydra SearchPathPlugin: makes the configs installed with neurobolts, and those of other installed
packages that extend it, discoverable.

Any Hydra app (a user's own `train.py` included) then sees neurobolts' config groups, e.g.
`experiment=diffusion_bumps`, followed by the config trees that other distributions declare in the
entry-point group `neurobolts.configs` (value: the package holding the tree, e.g. `my_lab.configs`;
see neurobolts.plugins.experiments and docs/guides/third_party.md). Those come after neurobolts' own,
so their experiments can use neurobolts' groups in their defaults, and a name that both define is
neurobolts'. Hydra imports every module under `hydra_plugins` at start-up, so this module must stay
import-light: no torch, no lightning, and a third-party tree is appended as its folder on disk
(`file://...`), located without importing the package: a package that fails to import cannot break
config loading, and a broken entry point is skipped with a warning.
"""

from hydra.core.config_search_path import ConfigSearchPath
from hydra.plugins.search_path_plugin import SearchPathPlugin

from neurobolts.plugins.experiments import NEUROBOLTS_CONFIGS, third_party_config_packages


class NeuroboltsSearchPathPlugin(SearchPathPlugin):
    def manipulate_search_path(self, search_path: ConfigSearchPath) -> None:
        search_path.append(provider="neurobolts", path=f"pkg://{NEUROBOLTS_CONFIGS}")
        for package in third_party_config_packages():
            for path in package.search_paths:
                search_path.append(provider=package.distribution, path=path)
