"""Recall curves of an associative memory over network sizes and flip fractions, against the
classical Hebbian Hopfield network (expander_hopfield spec, section 4).

`RecallCurve` attaches to any LightningModule with `build_memory(n_neurons, **overrides)` (a memory:
see `neurobolts.lightning_modules.associative_recall`). At the end of testing, on global rank zero, it
measures P(exact recall) against p for every N in `sizes` (one network per N with the module's own
settings, and one per named variant of them, e.g. the spec's majority dynamics), the same curves for a Hebbian Hopfield network of each N asked to store
K = ceil(baseline_load * N) patterns, and the Hopfield capacity sweep (K / N in `capacity_loads` at
N = `capacity_size`, cues at `capacity_flip_fraction`). It logs `figures/recall_curve.png`, the table
`figures/recall_curve.json` and the metrics `curve/<label>/N<N>/p<p>/exact_recall` (label `model`,
a variant's name, `hopfield`, or `hopfield_capacity` with K instead of p).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from lightning.pytorch import Callback

from neurobolts.lightning_modules.associative_recall import build_memory, recall_curve
from neurobolts.plugins.figures import log_figure

HOPFIELD_CAPACITY = 0.138  # Amit, Gutfreund & Sompolinsky (1985)


def hopfield_builder(load: float, seed: int):
    """build(n): a Hebbian Hopfield network of n neurons storing ceil(load * n) patterns."""
    return lambda n: build_memory("hopfield", n, seed=seed, n_patterns=max(1, math.ceil(load * n - 1e-9)))


def recall_curve_figure(model_records: list[dict], hopfield_records: list[dict], capacity_records: list[dict],
                        variant_records: list[dict] = ()):
    """Two panels: (a) P(exact) vs p per N, model (solid), variants (dotted) and Hopfield (dashed);
    (b) Hopfield exact recall and bit accuracy vs K / N with the 0.138 N capacity."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    fig, (ax, bx) = plt.subplots(1, 2, figsize=(11, 4))
    sizes = sorted({r["n_neurons"] for r in model_records})
    colors = plt.cm.viridis([i / max(1, len(sizes) - 1) * 0.85 for i in range(len(sizes))])
    for n, color in zip(sizes, colors, strict=True):
        rows = [r for r in model_records if r["n_neurons"] == n]
        ax.plot([100 * r["flip_fraction"] for r in rows], [r["exact_recall"] for r in rows], "o-", color=color,
                label=f"expander N={n}: 2^{rows[0]['log2_stored_states']:g} states, {rows[0]['trials']} trials/pt")
        for label in sorted({r["label"] for r in variant_records}):
            rows = [r for r in variant_records if r["label"] == label and r["n_neurons"] == n]
            ax.plot([100 * r["flip_fraction"] for r in rows], [r["exact_recall"] for r in rows], "^:", color=color,
                    label=f"{label} N={n}")
        base = [r for r in hopfield_records if r["n_neurons"] == n]
        if base:
            ax.plot([100 * r["flip_fraction"] for r in base], [r["exact_recall"] for r in base], "x--", color=color,
                    label=f"Hopfield N={n}: K={base[0]['n_patterns']} patterns")
    ax.set_xlabel("flipped bits in the cue, p (%)")
    ax.set_ylabel("P(exact recall)")
    ax.set_ylim(-0.03, 1.03)
    ax.legend(fontsize=6.5)
    ax.set_title("(a) exact recall vs cue corruption", fontsize=9)
    if capacity_records:
        loads = [r["n_patterns"] / r["n_neurons"] for r in capacity_records]
        bx.plot(loads, [r["exact_recall"] for r in capacity_records], "o-", label="P(exact recall)")
        bx.plot(loads, [r["bit_accuracy"] for r in capacity_records], "s-", label="fraction of correct bits")
        bx.axvline(HOPFIELD_CAPACITY, color="k", ls=":", label="0.138 N")
        first = capacity_records[0]
        bx.set_title(f"(b) Hebbian Hopfield, N={first['n_neurons']}, p={100 * first['flip_fraction']:g}%, "
                     f"{first['trials']} trials/pt", fontsize=9)
        bx.set_xlabel("stored patterns K / N")
        bx.set_ylim(-0.03, 1.03)
        bx.legend(fontsize=7)
    fig.tight_layout()
    return fig


def curve_metrics(records: list[dict]) -> dict[str, float]:
    """Flat metric names for the records: curve/<label>/N<N>/p<p>/exact_recall (capacity: K<K>)."""
    out = {}
    for r in records:
        point = f"K{r['n_patterns']}" if r["label"] == "hopfield_capacity" else f"p{r['flip_fraction']:.3f}"
        for key in ("exact_recall", "bit_accuracy", "spurious"):
            out[f"curve/{r['label']}/N{r['n_neurons']}/{point}/{key}"] = float(r[key])
    return out


def log_table(trainer, records: list[dict], artifact_path: str) -> str:
    """The records as JSON: an MLflow artifact if an MLFlowLogger is attached, else a file."""
    from lightning.pytorch.loggers import MLFlowLogger

    for logger in trainer.loggers:
        if isinstance(logger, MLFlowLogger) and logger.run_id is not None:
            logger.experiment.log_dict(logger.run_id, records, artifact_path)
            return f"mlflow:{logger.run_id}/{artifact_path}"
    path = Path(trainer.default_root_dir) / artifact_path
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(records, indent=1))
    return str(path)


class RecallCurve(Callback):
    """Args:
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
        if not sizes or not all(isinstance(n, int) and n > 1 for n in sizes):
            raise ValueError(f"sizes must be a non-empty list of integers > 1, got {sizes!r}")
        if not flip_fractions or not all(0.0 <= p <= 1.0 for p in flip_fractions):
            raise ValueError(f"flip_fractions must be a non-empty list of numbers in [0, 1], got {flip_fractions!r}")
        if not isinstance(trials, int) or trials < 1:
            raise ValueError(f"trials must be a positive integer, got {trials!r}")
        if baseline_load is not None and not baseline_load > 0:
            raise ValueError(f"baseline_load must be > 0 or null, got {baseline_load!r}")
        if not all(load > 0 for load in capacity_loads):
            raise ValueError(f"capacity_loads must all be > 0, got {capacity_loads!r}")
        self.sizes, self.flip_fractions, self.trials = sizes, flip_fractions, trials
        self.max_steps, self.seed, self.baseline_load = max_steps, seed, baseline_load
        self.capacity_loads, self.capacity_size = capacity_loads, capacity_size
        self.capacity_flip_fraction = capacity_flip_fraction
        self.variants = {str(k): dict(v) for k, v in (variants or {}).items()}
        reserved = {"model", "hopfield", "hopfield_capacity"} & set(self.variants)
        if reserved:
            raise ValueError(f"variants may not be named {sorted(reserved)}: those labels are taken")
        self.records: list[dict] = []

    def measure(self, build) -> list[dict]:
        """All records: the model's curves (`build(n, **overrides)`), its variants, the Hopfield
        baseline and capacity sweep."""
        args = (self.sizes, self.flip_fractions, self.trials, self.max_steps, self.seed)
        records = recall_curve(build, *args, label="model")
        for name, overrides in self.variants.items():
            records += recall_curve(lambda n, o=overrides: build(n, **o), *args, label=name)
        if self.baseline_load is not None:
            records += recall_curve(hopfield_builder(self.baseline_load, self.seed), *args, label="hopfield")
        for load in self.capacity_loads:
            records += recall_curve(hopfield_builder(load, self.seed), [self.capacity_size],
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
