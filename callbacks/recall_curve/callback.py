"""Recall curves of an associative memory over network sizes and flip fractions, against the
classical Hebbian Hopfield network (expander_hopfield spec, section 4).

`RecallCurve` attaches to any LightningModule with `build_memory(n_neurons, **overrides)` (a memory:
see `neurobolts.callbacks.recall_curve.recall`); the Hebbian baseline is asked of the same method,
`build_memory(n, kind="hopfield", n_patterns=K, seed=seed)`. At the end of testing, on global rank
zero, it measures P(exact recall) against p for every N in `sizes` (one network per N with the
module's own settings, and one per named variant of them, e.g. the spec's majority dynamics), the same
curves for a Hebbian Hopfield network of each N asked to store K = ceil(baseline_load * N) patterns,
and the Hopfield capacity sweep (K / N in `capacity_loads` at N = `capacity_size`, cues at
`capacity_flip_fraction`). It logs `figures/recall_curve.png` (`callbacks/recall_curve/figures.py`),
the table `figures/recall_curve.json` and the metrics `curve/<label>/N<N>/p<p>/recall` (P(exact
recall)), `.../bit_acc` and `.../spurious` (`curve_metrics`; label `model`, a variant's name,
`hopfield`, or `capacity` for the Hopfield capacity sweep, with K instead of p).
"""

from __future__ import annotations

import math
from collections.abc import Callable

from lightning.pytorch import Callback

from neurobolts.callbacks.recall_curve.figures import recall_curve_figure
from neurobolts.callbacks.recall_curve.recall import recall_curve
from neurobolts.plugins.checks import check_positive, check_positive_int, is_integer, is_number
from neurobolts.plugins.figures import log_figure, log_table


def hopfield_builder(build: Callable, load: float, seed: int):
    """build_k(n): the Hebbian Hopfield network of n neurons storing ceil(load * n) patterns that
    `build` (a module's `build_memory`) makes with kind="hopfield"."""
    return lambda n: build(n, kind="hopfield", n_patterns=max(1, math.ceil(load * n - 1e-9)), seed=seed)


# a record's measure -> the last part of its metric name (short: MLflow's chart titles show the whole name)
CURVE_METRIC_NAMES = {"exact_recall": "recall", "bit_accuracy": "bit_acc", "spurious": "spurious"}


def curve_metrics(records: list[dict]) -> dict[str, float]:
    """Flat metric names for the records: `curve/<label>/N<N>/p<p>/<measure>`, p written as short as
    it reads (`p0.02`), measure `recall` (P(exact recall)), `bit_acc` or `spurious`; the Hopfield
    capacity sweep (record label `hopfield_capacity`) as `curve/capacity/N<N>/K<K>/<measure>`."""
    out = {}
    for r in records:
        capacity = r["label"] == "hopfield_capacity"
        label = "capacity" if capacity else r["label"]
        point = f"K{r['n_patterns']}" if capacity else f"p{r['flip_fraction']:g}"
        for key, name in CURVE_METRIC_NAMES.items():
            out[f"curve/{label}/N{r['n_neurons']}/{point}/{name}"] = float(r[key])
    return out


class RecallCurve(Callback):
    """Recall curves of the module's memory, its variants and a Hebbian Hopfield baseline, at test end.

    Args:
        sizes: network sizes N of the curves.
        flip_fractions: p values of the curves.
        trials: cues per (N, p) point.
        max_steps: cap on parallel steps.
        seed: seed of the cues and of the Hopfield patterns (the model's networks use its own seed).
        baseline_load: K / N of the Hopfield baseline in panel (a) (null: no baseline curves).
        capacity_loads: K / N values of the Hopfield capacity sweep in panel (b) (empty: none).
        capacity_size, capacity_flip_fraction: N and p of that sweep.
        variants: {name: overrides of the module's settings} measured and drawn beside the model.
    """

    def __init__(
        self,
        sizes: list[int] = (150, 600, 2400),
        flip_fractions: list[float] = (0.01, 0.02, 0.03, 0.04, 0.05, 0.06),
        trials: int = 200,
        max_steps: int = 30,
        seed: int = 0,
        baseline_load: float | None = 0.2,
        capacity_loads: list[float] = (0.02, 0.05, 0.1, 0.14, 0.2, 0.3),
        capacity_size: int = 600,
        capacity_flip_fraction: float = 0.01,
        variants: dict[str, dict] | None = None,
    ) -> None:
        super().__init__()
        sizes, flip_fractions, capacity_loads = list(sizes), list(flip_fractions), list(capacity_loads)
        # the lists keep one message each (the whole list is the value the user wrote)
        if not sizes or not all(is_integer(n) and n >= 2 for n in sizes):
            raise ValueError(f"sizes must be a non-empty list of integers >= 2, got {sizes!r}")
        if not flip_fractions or not all(is_number(p) and 0 <= p <= 1 for p in flip_fractions):
            raise ValueError(f"flip_fractions must be a non-empty list of numbers in [0, 1], got {flip_fractions!r}")
        check_positive_int("trials", trials)
        check_positive("baseline_load", baseline_load, allow_none=True)
        if not all(is_number(load) and 0 < load < math.inf for load in capacity_loads):
            raise ValueError(f"capacity_loads must be a list of finite numbers > 0, got {capacity_loads!r}")
        self.sizes, self.flip_fractions, self.trials = sizes, flip_fractions, trials
        self.max_steps, self.seed, self.baseline_load = max_steps, seed, baseline_load
        self.capacity_loads, self.capacity_size = capacity_loads, capacity_size
        self.capacity_flip_fraction = capacity_flip_fraction
        self.variants = {str(k): dict(v) for k, v in (variants or {}).items()}
        reserved = {"model", "hopfield", "hopfield_capacity", "capacity"} & set(self.variants)
        if reserved:
            raise ValueError(f"variants may not be named {sorted(reserved)}: those labels are taken")
        self.records: list[dict] = []

    def measure(self, build) -> list[dict]:
        """All records: the model's curves (`build(n, **overrides)`, a module's `build_memory`), its
        variants, the Hopfield baseline and capacity sweep (`build(n, kind="hopfield", ...)`)."""
        args = (self.sizes, self.flip_fractions, self.trials, self.max_steps, self.seed)
        records = recall_curve(build, *args, label="model")
        for name, overrides in self.variants.items():
            records += recall_curve(lambda n, o=overrides: build(n, **o), *args, label=name)
        if self.baseline_load is not None:
            records += recall_curve(hopfield_builder(build, self.baseline_load, self.seed), *args, label="hopfield")
        for load in self.capacity_loads:
            records += recall_curve(hopfield_builder(build, load, self.seed), [self.capacity_size],
                                    [self.capacity_flip_fraction], self.trials, self.max_steps, self.seed,
                                    label="hopfield_capacity")
        return records

    def on_test_end(self, trainer, pl_module) -> None:
        if not trainer.is_global_zero:
            return
        if not callable(getattr(pl_module, "build_memory", None)):
            raise TypeError(f"RecallCurve needs a module with build_memory(n_neurons); {type(pl_module).__name__} has none")
        self.records = self.measure(pl_module.build_memory)
        by_label = {label: [r for r in self.records if r["label"] == label]
                    for label in ("model", "hopfield", "hopfield_capacity")}
        variant_records = [r for r in self.records if r["label"] in self.variants]
        for logger in trainer.loggers:
            logger.log_metrics(curve_metrics(self.records), step=trainer.global_step)
        figure = recall_curve_figure(by_label["model"], by_label["hopfield"], by_label["hopfield_capacity"],
                                     variant_records)
        log_figure(trainer, figure, "figures/recall_curve.png")
        log_table(trainer, self.records, "figures/recall_curve.json")
