"""Hydra SearchPathPlugin: makes the configs installed with neurobolts discoverable.

Any Hydra app (a user's own `train.py` included) then sees neurobolts' config groups, e.g.
`experiment=diffusion_bumps`. Hydra imports every module under `hydra_plugins` at start-up, so this
module must stay import-light: no torch, no lightning.
"""

from hydra.core.config_search_path import ConfigSearchPath
from hydra.plugins.search_path_plugin import SearchPathPlugin


class NeuroboltsSearchPathPlugin(SearchPathPlugin):
    def manipulate_search_path(self, search_path: ConfigSearchPath) -> None:
        search_path.append(provider="neurobolts", path="pkg://neurobolts.configs")
