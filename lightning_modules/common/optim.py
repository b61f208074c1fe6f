"""One optimiser/scheduler factory for every LightningModule.

Configs give the optimiser and the scheduler as `_partial_: true` nodes (lightning-hydra-template
style): Hydra hands the module a callable that still needs the parameters (and the optimiser).
`configure_optimizers` of every module calls `build_optimizers`, so they all accept the same two
config nodes, check them the same way and return what Lightning expects.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import torch

INTERVALS = ("step", "epoch")


def check_factory(name: str, factory: Any, *, allow_none: bool = False) -> None:
    """A factory must be callable (a `_partial_: true` config node or a class), or None where allowed."""
    if factory is None and allow_none:
        return
    if not callable(factory):
        raise ValueError(f"{name} must be a callable (a config node with `_partial_: true`)"
                         f"{' or None' if allow_none else ''}, got {factory!r}")


def build_optimizers(parameters: Iterable[torch.nn.Parameter], optimizer_factory: Callable | None,
                     scheduler_factory: Callable | None = None, *, interval: str = "step",
                     default: Callable | None = None) -> Any:
    """The optimiser for `parameters` from `optimizer_factory(params=...)` (or `default` when the
    factory is None) and, when a scheduler factory is given, Lightning's dict with the scheduler built
    on that optimiser and stepped every `interval` ("step" or "epoch")."""
    factory = optimizer_factory if optimizer_factory is not None else default
    check_factory("optimizer", factory)
    check_factory("scheduler", scheduler_factory, allow_none=True)
    if interval not in INTERVALS:
        raise ValueError(f"interval must be one of {INTERVALS}, got {interval!r}")
    optimizer = factory(params=parameters)
    if scheduler_factory is None:
        return optimizer
    return {"optimizer": optimizer,
            "lr_scheduler": {"scheduler": scheduler_factory(optimizer=optimizer), "interval": interval}}
