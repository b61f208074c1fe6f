"""Instantiation of config nodes with errors that name the config group and the bad value."""

from __future__ import annotations

import logging
from typing import Any

from hydra.errors import InstantiationException
from hydra.utils import instantiate
from omegaconf import DictConfig

log = logging.getLogger(__name__)


class ConfigError(ValueError):
    """A configuration value is invalid; the message names the config field and what is allowed."""


def _target_error(exc: BaseException) -> BaseException:
    """The exception the target itself raised, under Hydra's InstantiationException wrappers."""
    while isinstance(exc, InstantiationException) and exc.__cause__ is not None:
        exc = exc.__cause__
    return exc


def instantiate_node(node: DictConfig, group: str, **kwargs: Any) -> Any:
    """Instantiate `node` (a `_target_` config) and turn a failure into a ConfigError naming `group`.

    E.g. a negative sigma in the data config raises
    `ConfigError: invalid config `data` (…DiffusionBumpsDataModule): sigma must be a finite number > 0, got -1.0`.
    """
    if node is None or not isinstance(node, DictConfig) or "_target_" not in node:
        raise ConfigError(f"config `{group}` must be a node with a `_target_`, got {node!r}")
    try:
        return instantiate(node, **kwargs)
    except InstantiationException as exc:
        cause = _target_error(exc)
        detail = f"{type(cause).__name__}: {cause}" if cause is not exc else str(exc)
        raise ConfigError(f"invalid config `{group}` ({node._target_}): {detail}") from exc


def instantiate_group(nodes: DictConfig | None, group: str) -> list[Any]:
    """Instantiate every value of a dict of named `_target_` nodes (e.g. callbacks, loggers).

    Entries set to null are skipped, so `callbacks.rich_progress_bar=null` removes one. Entries
    without `_target_` are skipped with a note: they are overrides left by an experiment for a
    callback that the chosen group does not define (e.g. `callbacks=none`).
    """
    if nodes is None:
        return []
    if not isinstance(nodes, DictConfig):
        raise ConfigError(f"config `{group}` must be a dict of named `_target_` nodes, got {type(nodes).__name__}")
    objects = []
    for name, node in nodes.items():
        if node is None:
            continue
        if isinstance(node, DictConfig) and "_target_" in node:
            log.info("Instantiating %s.%s <%s>", group, name, node._target_)
            objects.append(instantiate_node(node, f"{group}.{name}"))
        else:
            log.info("Skipping %s.%s: no `_target_` (got %s)", group, name, node)
    return objects
