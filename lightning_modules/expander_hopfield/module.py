"""Associative recall with bipartite expander Hopfield networks (Chaudhuri & Fiete 2019; spec:
docs/papers/expander_hopfield.md) or the classical Hebbian Hopfield baseline (`kind="hopfield"`).

Nothing is trained by gradient. Fit constructs the network (`configure_model`: random biregular
graph from `graph_seed`, Hamming local codes, GF(2) null space of the global parity checks; or K
Hebbian patterns), verifies the construction (structure invariants; clean stored states are fixed
points) and logs its capacity; validation and test run the network's own dynamics from corrupted
cues and log the recall:

- fit: `fit/fixed_point_fraction`, `fit/log2_stored_states`, `fit/rate` (log2 #stored / N) and, for
  the expander, `fit/rate_bound` (1 - gamma r / z);
- val/test: `<stage>/exact_recall` (fraction of cues recovered exactly), `<stage>/bit_accuracy`,
  `<stage>/steps`, `<stage>/unconverged`, `<stage>/spurious` (ended at a fixed point that is no
  stored state), `<stage>/wrong_memory` (ended at another stored state);
- predict (`predict.py experiment=expander_hopfield predict.inputs=<cues>`): the network's dynamics
  from new cues; per cue the recalled state, whether it converged and whether it is a stored state.
"""

from __future__ import annotations

import logging

import torch
from lightning.pytorch import LightningModule
from torch import nn
from torchmetrics import MeanMetric

from neurobolts.callbacks.recall_curve.recall import recall_scores, run_to_fixed_point
from neurobolts.datamodules.expander_hopfield.bit_flips import corrupt
from neurobolts.lightning_modules.expander_hopfield.figures import recall_figure
from neurobolts.lightning_modules.expander_hopfield.hebbian import check_hopfield_arguments
from neurobolts.lightning_modules.expander_hopfield.memory import MEMORY_KINDS, build_memory
from neurobolts.lightning_modules.expander_hopfield.network import check_expander_arguments
from neurobolts.plugins.checks import check_choice, check_int, check_positive_int
from neurobolts.plugins.figures import log_figure, log_table

log = logging.getLogger(__name__)

OUTCOMES = ("exact_recall", "bit_accuracy", "steps", "unconverged", "spurious", "wrong_memory")


class ExpanderHopfieldModule(LightningModule):
    """An associative memory (the expander Hopfield network or the Hebbian baseline) as a LightningModule.

    Args:
        kind: "expander" (the paper's network) or "hopfield" (Hebbian baseline).
        n_neurons: N.
        hamming_r: r of the local Hamming(2^r - 1, 2^r - 1 - r) codes (expander).
        degree: gamma, glomeruli per input (expander).
        self_coupling: lambda_self (expander; the spec's default 0, see its section 5).
        decoder: "syndrome" or "wta" (explicit hidden units; expander).
        wiring: "sparse" or "dense" (expander).
        dynamics: "majority" (the spec's vote) or "adaptive" (single-vote flips when the vote is stuck
            at a non-codeword; fixed points = codewords; not in the spec).
        n_patterns: K, the patterns the Hopfield baseline stores (required for kind="hopfield").
        max_steps: cap on parallel steps during recall.
        graph_seed: seed of the graph (expander) or of the patterns (hopfield).
    """

    # Nothing is learned: the network is built from the config and `graph_seed` (`configure_model`), so
    # `predict.py` may run without a checkpoint (the training run writes none, see
    # configs/experiment/expander_hopfield.yaml); a checkpoint given with ckpt_path is loaded.
    predict_without_checkpoint = True

    def __init__(
        self,
        kind: str = "expander",
        n_neurons: int = 600,
        hamming_r: int = 4,
        degree: int = 3,
        self_coupling: float = 0.0,
        decoder: str = "syndrome",
        wiring: str = "sparse",
        dynamics: str = "majority",
        n_patterns: int | None = None,
        max_steps: int = 30,
        graph_seed: int = 0,
    ) -> None:
        super().__init__()
        check_choice("kind", kind, MEMORY_KINDS)
        if kind == "expander":
            check_expander_arguments(n_neurons, hamming_r, degree, self_coupling, decoder, wiring, dynamics)
        else:
            check_hopfield_arguments(n_neurons, n_patterns)
        check_positive_int("max_steps", max_steps)
        check_int("graph_seed", graph_seed)
        self.save_hyperparameters(logger=False)
        self.automatic_optimization = False  # no gradient training: fit constructs and verifies
        self.memory: nn.Module | None = None
        self.fixed_points = MeanMetric()
        self.outcomes = nn.ModuleDict({
            stage: nn.ModuleDict({key: MeanMetric() for key in OUTCOMES}) for stage in ("val", "test")
        })

    # ------------------------------------------------------------------------- construction
    def build_memory(self, n_neurons: int | None = None, seed: int | None = None, **overrides) -> nn.Module:
        """A network with this module's settings, at another size or seed if given (for sweeps);
        `overrides` replace settings (e.g. dynamics="majority"), `kind` included: kind="hopfield" with
        n_patterns=K is the Hebbian baseline of an expander module (RecallCurve asks for it so)."""
        hp = self.hparams
        kind = overrides.pop("kind", hp.kind)
        args = {"n_patterns": hp.n_patterns} if kind == "hopfield" else {
            "hamming_r": hp.hamming_r, "degree": hp.degree, "self_coupling": hp.self_coupling,
            "decoder": hp.decoder, "wiring": hp.wiring, "dynamics": hp.dynamics}
        args.update(overrides)
        return build_memory(kind, n_neurons or hp.n_neurons, seed=hp.graph_seed if seed is None else seed, **args)

    def configure_model(self) -> None:
        if self.memory is None:
            self.memory = self.build_memory()

    def setup(self, stage: str) -> None:
        datamodule = getattr(self.trainer, "datamodule", None) if self._trainer is not None else None
        n_data = getattr(datamodule, "n_neurons", None)
        if n_data is not None and n_data != self.hparams.n_neurons:
            raise ValueError(
                f"data.n_neurons={n_data} does not match model.n_neurons={self.hparams.n_neurons}"
            )

    def configure_optimizers(self):
        return None

    def on_fit_start(self) -> None:
        if self.hparams.kind == "expander":
            self.memory.check_structure()

    # --------------------------------------------------------------------------------- fit
    def training_step(self, batch, batch_idx: int) -> None:
        messages, _ = batch
        states = self.memory.stored_states(messages)
        fixed = (self.memory.step(states) == states).all(dim=1)
        self.fixed_points.update(fixed.float())

    def on_train_epoch_end(self) -> None:
        memory = self.memory
        self.log("fit/fixed_point_fraction", self.fixed_points.compute(), sync_dist=True)
        self.fixed_points.reset()
        # properties of the network, which every rank builds alike: the mean over ranks is the value
        self.log("fit/log2_stored_states", float(memory.log2_stored_states), sync_dist=True)
        self.log("fit/rate", float(memory.rate), sync_dist=True)
        if self.hparams.kind == "expander":
            self.log("fit/rate_bound", float(memory.rate_bound), sync_dist=True)

    # ----------------------------------------------------------------------------- recall
    def recall(self, messages: torch.Tensor, flips: torch.Tensor) -> dict[str, torch.Tensor]:
        """Per-cue outcomes of recalling the stored states of `messages` from cues with `flips`."""
        targets = self.memory.stored_states(messages)
        result = run_to_fixed_point(self.memory, corrupt(targets, flips), self.hparams.max_steps)
        return recall_scores(self.memory, targets, result)

    def _recall_step(self, batch, stage: str) -> None:
        scores = self.recall(*batch)
        for key, metric in self.outcomes[stage].items():
            metric.update(scores[key])

    def _log_recall(self, stage: str) -> None:
        for key, metric in self.outcomes[stage].items():
            self.log(f"{stage}/{key}", metric.compute(), sync_dist=True)
            metric.reset()

    def validation_step(self, batch, batch_idx: int) -> None:
        self._recall_step(batch, "val")

    def on_validation_epoch_end(self) -> None:
        self._log_recall("val")

    def test_step(self, batch, batch_idx: int) -> None:
        self._recall_step(batch, "test")

    def on_test_epoch_end(self) -> None:
        self._log_recall("test")

    # --------------------------------------------------------------------------- prediction
    def predict_step(self, batch, batch_idx: int, dataloader_idx: int = 0) -> dict[str, torch.Tensor]:
        """Recall from new cues (`predict.py`; batches of `CuesDataModule`: cues (B, N) of 0/1). Runs the
        network's own dynamics for at most `max_steps` parallel steps and returns, per cue: `cues`,
        `recalled` (the final state), `steps` (steps that changed the state), `converged` (the final state
        is a fixed point), `stored` (it is a stored state: a global codeword of the expander, one of the
        patterns of the Hopfield baseline) and `bits_changed` (Hamming distance from the cue)."""
        (cues,) = batch
        result = run_to_fixed_point(self.memory, cues, self.hparams.max_steps)
        stored = self.memory.is_stored(result.final)
        return {"cues": cues.cpu(), "recalled": result.final.cpu(), "steps": result.steps.cpu(),
                "converged": result.converged.cpu(), "stored": stored.cpu(),
                "bits_changed": (result.final != cues).sum(dim=1).cpu()}

    def log_predictions(self, trainer, predictions: dict[str, torch.Tensor]) -> dict[str, float]:
        """Log what a prediction run recalled (rank zero; called by the pipeline's prediction writer):
        one record per cue (steps, converged, stored, bits changed) as `predictions/recall.json`, the
        cues and recalled states as `predictions/recall.png`; returns the summary metrics
        `predict/converged`, `predict/stored` (fractions of cues), `predict/spurious` (converged to a
        state that is not stored) and `predict/steps` (mean)."""
        converged, stored = predictions["converged"], predictions["stored"]
        records = [{"cue": i, "converged": bool(converged[i]), "stored": bool(stored[i]),
                    "steps": int(predictions["steps"][i]), "bits_changed": int(predictions["bits_changed"][i])}
                   for i in range(len(converged))]
        log_table(trainer, records, "predictions/recall.json")
        figure = recall_figure(predictions["cues"], predictions["recalled"], stored)
        log_figure(trainer, figure, "predictions/recall.png")
        for record in records[:20]:
            log.info("cue %d: %s after %d steps, %d bits changed", record["cue"],
                     "stored state" if record["stored"] else
                     "fixed point that is no stored state" if record["converged"] else "not converged",
                     record["steps"], record["bits_changed"])
        if len(records) > 20:
            log.info("... %d more cues in predictions/recall.json", len(records) - 20)
        return {"predict/converged": float(converged.float().mean()), "predict/stored": float(stored.float().mean()),
                "predict/spurious": float((converged & ~stored).float().mean()),
                "predict/steps": float(predictions["steps"].float().mean())}
