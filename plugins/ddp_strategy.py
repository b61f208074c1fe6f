"""Lightning's DDP strategy, extended to modules that have nothing to train.

`torch.nn.parallel.DistributedDataParallel` refuses a module without a parameter that requires a
gradient, so Lightning's `ddp` cannot run, e.g., the expander Hopfield experiment (its network is
built, not trained) on several processes. This subclass wraps the module as usual when there is
something to train, and otherwise only synchronises the module's state from rank zero (what
Lightning itself does outside fitting): the processes still split the data, and metrics still
reduce across them. The trainer configs `ddp`, `ddp_cpu` and `multinode` use it.
"""

from __future__ import annotations

import logging

from lightning.pytorch.overrides.distributed import _sync_module_states
from lightning.pytorch.strategies import DDPStrategy as LightningDDPStrategy

log = logging.getLogger(__name__)


class DDPStrategy(LightningDDPStrategy):
    def configure_ddp(self) -> None:
        if any(p.requires_grad for p in self.model.parameters()):
            super().configure_ddp()
            return
        log.info("%s has no trainable parameter: not wrapped in DistributedDataParallel",
                 type(self.model).__name__)
        _sync_module_states(self.model)
