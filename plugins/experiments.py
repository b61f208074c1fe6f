"""Experiment discovery: the experiment configs shipped in `neurobolts.configs/experiment`."""

from __future__ import annotations

from importlib import resources


def available_experiments() -> list[str]:
    """Names usable as `experiment=<name>`, sorted."""
    folder = resources.files("neurobolts.configs") / "experiment"
    return sorted(p.name[: -len(".yaml")] for p in folder.iterdir() if p.name.endswith(".yaml"))
