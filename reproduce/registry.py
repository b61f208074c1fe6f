"""The papers of the report, by name, in the report's order: name -> the module whose
`reproduce(settings: Settings) -> PaperResult` runs the paper's headline claims.

Adding a paper = one module `reproduce/<name>.py` with a documented `reproduce(settings)` (its
rows: the claims its slow tests assert, computed by functions those tests call) and one line here.
An entry may also be the function itself (tests register stand-ins that way)."""

from __future__ import annotations

import importlib
from collections.abc import Callable

from neurobolts.reproduce.results import PaperResult, Settings

PAPERS: dict[str, str | Callable[[Settings], PaperResult]] = {
    "diffusion_bumps": "neurobolts.reproduce.diffusion_bumps",
    "dsa": "neurobolts.reproduce.dsa",
    "inductive_bias": "neurobolts.reproduce.inductive_bias",
    "align": "neurobolts.reproduce.align",
    "expander_hopfield": "neurobolts.reproduce.expander_hopfield",
    "farmap": "neurobolts.reproduce.farmap",
    "far_curiosity": "neurobolts.reproduce.far_curiosity",
    "map_induction": "neurobolts.reproduce.map_induction",
    "ggs": "neurobolts.reproduce.ggs",
}


def reproducer(name: str) -> Callable[[Settings], PaperResult]:
    """The `reproduce` function of the paper `name` (its module is imported now, not before)."""
    if name not in PAPERS:
        raise KeyError(f"unknown paper {name!r}; choose from: {', '.join(PAPERS)}")
    entry = PAPERS[name]
    return entry if callable(entry) else importlib.import_module(entry).reproduce
