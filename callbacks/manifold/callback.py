"""LatentManifoldOrdering: the latent-manifold analysis of `callbacks/manifold/` as a Callback.

Every `every_n_steps` training steps (and once before training: the step-0 baseline) it runs a fixed
probe through the model in eval mode under no_grad, captures the activation of one module with a
forward hook (registered around the probe forward only, and removed in a `finally`), flattens it per
probe point, computes the manifold metrics against the probe's ground-truth factors, classifies the
phase relative to the baseline, and logs `manifold/<metric>` and `manifold/phase` at the global step.

Where the probe comes from: the `probe=(inputs, factors)` argument, else the datamodule's
`probe_batch()` returning `(inputs, factors)`. `inputs` is passed to the module's forward: a tuple or
list is unpacked, a dict is passed as keywords, a tensor as one argument.

Distributed: the analysis runs on global rank zero only, on the fixed probe (no collectives at all, so
nothing can deadlock); results are logged once. The state is plain lists and floats, so checkpoints
resume with `weights_only=True` and a resumed run keeps its baseline and history.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import torch
from lightning.pytorch import Callback

from neurobolts.callbacks.common.isolated_rng import isolated_rng
from neurobolts.callbacks.common.probe import capture, resolve_module
from neurobolts.callbacks.manifold.figures import embedding_figure, summary_figure
from neurobolts.callbacks.manifold.metrics import manifold_metrics
from neurobolts.callbacks.manifold.phases import PHASE_NAMES, PhaseRule, classify_phase
from neurobolts.plugins.checks import check_positive_int
from neurobolts.plugins.figures import log_figure

log = logging.getLogger(__name__)

DEFAULT_TRACKED = ("gen/frac_A", "gen/frac_B", "gen/frac_C")


class LatentManifoldOrdering(Callback):
    """Track how ordered a model's latent manifold is with respect to known factors.

    Args:
        layer: dotted path of the module whose output is the latent (e.g. "net.mid"); a tuple output
            uses its first element.
        feature_fn: alternatively, `feature_fn(pl_module, inputs) -> (n, ...) tensor` computes the latents.
        probe: `(inputs, factors)`; default: the datamodule's `probe_batch()`.
        every_n_steps: measurement cadence in global steps (plus the step-0 baseline).
        k: neighbours for trustworthiness, continuity and kNN regression.
        rule: phase thresholds (see `PhaseRule`).
        track_metrics: logged metrics recorded after each validation for the fit-end figure
            (e.g. the A/B/C generation fractions); absent ones are ignored.
        log_embedding: log a PCA (and UMAP, if `umap-learn` is installed) figure at each measurement.
    """

    def __init__(
        self,
        layer: str | None = None,
        feature_fn: Callable[[torch.nn.Module, Any], torch.Tensor] | None = None,
        probe: tuple[Any, Any] | None = None,
        every_n_steps: int = 250,
        k: int = 5,
        rule: PhaseRule | None = None,
        track_metrics: tuple[str, ...] | list[str] = DEFAULT_TRACKED,
        log_embedding: bool = True,
    ) -> None:
        super().__init__()
        if (layer is None) == (feature_fn is None):
            raise ValueError("give exactly one of layer=<dotted module path> or feature_fn=<callable>")
        check_positive_int("every_n_steps", every_n_steps)
        check_positive_int("k", k)
        self.layer = layer
        self.feature_fn = feature_fn
        self.probe = probe
        self.every_n_steps = every_n_steps
        self.k = k
        self.rule = rule or PhaseRule()
        self.track_metrics = tuple(track_metrics)
        self.log_embedding = log_embedding
        # State (plain values only: checkpoints load with weights_only=True).
        self.baseline: dict[str, float] | None = None
        self.history: dict[str, list[float]] = {}
        self.tracked: dict[str, list[float]] = {}
        self._last_measured_step = -1
        self.seconds_spent = 0.0  # wall time inside measurements (for overhead reports; not state)

    @property
    def state_key(self) -> str:
        return self._generate_state_key(layer=self.layer, every_n_steps=self.every_n_steps, k=self.k)

    # ------------------------------------------------------------------------------- probe
    def _probe(self, trainer) -> tuple[Any, torch.Tensor]:
        probe = self.probe
        if probe is None:
            datamodule = trainer.datamodule
            if datamodule is None or not hasattr(datamodule, "probe_batch"):
                raise ValueError(
                    "LatentManifoldOrdering needs probe=(inputs, factors) or a datamodule with probe_batch()"
                )
            probe = datamodule.probe_batch()
        if not isinstance(probe, (tuple, list)) or len(probe) != 2 or probe[1] is None:
            raise ValueError("the probe must be a pair (inputs, factors) with ground-truth factors (n, k)")
        return probe[0], torch.as_tensor(probe[1])

    def compute_latents(self, pl_module, inputs: Any) -> torch.Tensor:
        """Run the probe in eval mode under no_grad; returns (n, features) float32 on the CPU."""
        if self.feature_fn is not None:
            latents = capture(pl_module, inputs, fn=self.feature_fn)
        else:
            latents = capture(pl_module, inputs, layer=self.layer)
        return latents.detach().float().cpu().reshape(latents.shape[0], -1)

    # ------------------------------------------------------------------------------- hooks
    def setup(self, trainer, pl_module, stage: str) -> None:
        if self.layer is not None:
            resolve_module(pl_module, self.layer)  # fail at once on a bad layer name

    def on_train_start(self, trainer, pl_module) -> None:
        if self.baseline is None:
            self._measure(trainer, pl_module)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx: int) -> None:
        step = trainer.global_step
        if step % self.every_n_steps == 0 and step != self._last_measured_step:
            self._measure(trainer, pl_module)

    def on_validation_end(self, trainer, pl_module) -> None:
        if trainer.sanity_checking or not trainer.is_global_zero:
            return
        values = {k: trainer.callback_metrics[k] for k in self.track_metrics if k in trainer.callback_metrics}
        if values:
            self.tracked.setdefault("step", []).append(float(trainer.global_step))
            for key, value in values.items():
                self.tracked.setdefault(key, []).append(float(value))

    def on_fit_end(self, trainer, pl_module) -> None:
        if trainer.is_global_zero and self.history.get("step"):
            self._log_summary_figure(trainer)

    # ----------------------------------------------------------------------------- measure
    def _measure(self, trainer, pl_module) -> None:
        self._last_measured_step = trainer.global_step
        if not trainer.is_global_zero:
            return
        start = time.perf_counter()
        try:
            with isolated_rng():
                self._measure_on_rank_zero(trainer, pl_module)
        finally:
            self.seconds_spent += time.perf_counter() - start

    def _measure_on_rank_zero(self, trainer, pl_module) -> None:
        inputs, factors = self._probe(trainer)
        latents = self.compute_latents(pl_module, inputs)
        if len(latents) != len(factors):
            raise ValueError(f"the probe gave {len(latents)} latents but {len(factors)} factor rows")
        metrics = manifold_metrics(latents, factors, self.k)
        if self.baseline is None:
            self.baseline = dict(metrics)
        metrics["phase"] = float(classify_phase(metrics, self.baseline, self.rule))
        step = trainer.global_step
        self.history.setdefault("step", []).append(float(step))
        for key, value in metrics.items():
            self.history.setdefault(key, []).append(float(value))
        for logger in trainer.loggers:
            logger.log_metrics({f"manifold/{k}": v for k, v in metrics.items()}, step=step)
        log.info("step %d: manifold phase %s, trustworthiness %.4f, PR %.2f", step,
                 PHASE_NAMES[int(metrics["phase"])], metrics["trustworthiness"], metrics["participation_ratio"])
        if self.log_embedding:
            self._log_embedding_figure(trainer, latents, factors, step)

    # ----------------------------------------------------------------------------- figures
    def _log_embedding_figure(self, trainer, latents: torch.Tensor, factors: torch.Tensor, step: int) -> None:
        phase = PHASE_NAMES[int(self.history["phase"][-1])]
        figure = embedding_figure(latents, factors, f"{self.layer or 'features'} at step {step} (phase {phase})")
        log_figure(trainer, figure, f"figures/manifold/embedding_step_{step:06d}.png")

    def _log_summary_figure(self, trainer) -> None:
        figure = summary_figure(self.history, self.tracked, f"Latent manifold of {self.layer or 'features'}")
        log_figure(trainer, figure, "figures/manifold/summary.png")

    # ---------------------------------------------------------------------------- state
    def state_dict(self) -> dict[str, Any]:
        return {
            "baseline": dict(self.baseline) if self.baseline is not None else None,
            "history": {k: list(v) for k, v in self.history.items()},
            "tracked": {k: list(v) for k, v in self.tracked.items()},
            "last_measured_step": self._last_measured_step,
        }

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.baseline = state_dict["baseline"]
        self.history = {k: list(v) for k, v in state_dict["history"].items()}
        self.tracked = {k: list(v) for k, v in state_dict["tracked"].items()}
        self._last_measured_step = int(state_dict["last_measured_step"])

