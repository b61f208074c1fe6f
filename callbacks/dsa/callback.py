"""DynamicalSimilarity: DSA (`callbacks/dsa/similarity.py` core) between snapshots of a recurrent model during training.

Before training (the baseline snapshot 0) and every `every_n_epochs` training epochs (snapshot = number
of completed epochs) it runs a fixed probe through the model in eval mode under no_grad, records the
hidden-state trajectories (batch, time, units) of one module (forward hook, registered around the
probe forward only) or of a user function, fits their delay-DMD operator and logs

- `<prefix>/to_previous`: DSA between this snapshot and the previous one;
- `<prefix>/to_reference`: DSA to a reference model (another module, or a checkpoint path loaded into
  a copy of the trained module), if one is given;
- `<prefix>/rank`: the DMD rank used.

At fit end it logs the snapshot-by-snapshot distance matrix (`figures/<prefix>/distances.csv`) and a
figure with the matrix and its 2D classical MDS embedding (`figures/<prefix>/distances.png`,
drawn by `callbacks/dsa/figures.py`).

Distributed: the probe is the same tensor on every rank and the weights are identical, so global rank
zero alone computes the snapshots (the other ranks would only repeat the work); at each snapshot
epoch its metrics are broadcast (the one collective, reached by every rank) and every rank logs them
with `sync_dist=True` (the mean of equal values is the value), so they can be monitored; files are
written on global rank zero only. The state (snapshot numbers, the
small DMD operators, the logged values) is tensors and lists, so checkpoints resume with
`weights_only=True`.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from lightning.pytorch import Callback

from neurobolts.callbacks.common.isolated_rng import isolated_rng
from neurobolts.callbacks.common.probe import capture, resolve_module
from neurobolts.callbacks.dsa.delay_dmd import check_rank_options, fit_dmd
from neurobolts.callbacks.dsa.figures import distances_figure
from neurobolts.callbacks.dsa.operator_similarity import check_score_method, pairwise_operator_distances
from neurobolts.plugins.checks import check_positive_int
from neurobolts.plugins.figures import log_figure, log_text

log = logging.getLogger(__name__)


class DynamicalSimilarity(Callback):
    """Track how a recurrent model's dynamics change during training with DSA.

    Args:
        layer: dotted path of the recurrent module (e.g. "net.rnn"); its output (first element of a
            tuple output, as for nn.RNN/GRU/LSTM) holds the hidden states.
        state_fn: alternatively, `state_fn(module, probe) -> (batch, time, units)` hidden states.
        probe: fixed input for the forward pass (a tensor, a tuple unpacked into forward, or a dict of
            keywords); default: the first element of the datamodule's `probe_batch()`.
        reference: another nn.Module (same layer path / state_fn) or a checkpoint path whose
            `state_dict` is loaded into a copy of the trained module.
        every_n_epochs: snapshot cadence in training epochs.
        batch_first: the layer's output is (batch, time, units); False for (time, batch, units).
        n_delays, delay_interval, rank, rank_thresh, rank_explained_variance, lamb: the DMD fit.
        score_method: "angular", "euclidean" or "wasserstein" (no silent default change: angular).
        seed, n_random_starts: the O(n) optimisation (deterministic for a seed).
        log_prefix: metric and figure prefix (several instances need different prefixes).
    """

    def __init__(
        self,
        layer: str | None = None,
        state_fn: Callable[[torch.nn.Module, Any], torch.Tensor] | None = None,
        probe: Any = None,
        reference: torch.nn.Module | str | Path | None = None,
        every_n_epochs: int = 1,
        batch_first: bool = True,
        n_delays: int = 1,
        delay_interval: int = 1,
        rank: int | str | None = 10,
        rank_thresh: float | None = None,
        rank_explained_variance: float | None = None,
        lamb: float = 1e-8,
        score_method: str = "angular",
        seed: int = 0,
        n_random_starts: int = 4,
        log_prefix: str = "dsa",
    ) -> None:
        super().__init__()
        if (layer is None) == (state_fn is None):
            raise ValueError(f"give exactly one of layer or state_fn, got layer={layer!r}, state_fn={state_fn!r}")
        check_positive_int("every_n_epochs", every_n_epochs)
        if reference is not None and not isinstance(reference, (torch.nn.Module, str, Path)):
            raise ValueError(f"reference must be an nn.Module or a checkpoint path, got {type(reference).__name__}")
        check_score_method(score_method)
        check_rank_options(rank, rank_thresh, rank_explained_variance)
        self.layer, self.state_fn, self.probe = layer, state_fn, probe
        self.reference = reference
        self.every_n_epochs = every_n_epochs
        self.batch_first = batch_first
        self.fit_kwargs = dict(n_delays=n_delays, delay_interval=delay_interval, rank=rank, rank_thresh=rank_thresh,
                               rank_explained_variance=rank_explained_variance, lamb=lamb)
        self.compare_kwargs = dict(score_method=score_method, seed=seed, n_random_starts=n_random_starts,
                                   zero_pad=True)
        self.log_prefix = log_prefix
        # checkpointed state
        self.snapshots: list[int] = []
        self.operators: list[torch.Tensor] = []
        self.history: dict[str, list[float]] = {"snapshot": [], "to_previous": [], "to_reference": []}
        self.distance_matrix: torch.Tensor | None = None
        self._reference_operator: torch.Tensor | None = None

    @property
    def state_key(self) -> str:
        return self._generate_state_key(layer=self.layer, log_prefix=self.log_prefix)

    # ---------------------------------------------------------------------------- recording
    def _probe_inputs(self, trainer) -> Any:
        if self.probe is not None:
            return self.probe
        datamodule = trainer.datamodule
        if datamodule is None or not hasattr(datamodule, "probe_batch"):
            raise ValueError("DynamicalSimilarity needs probe=... or a datamodule with probe_batch()")
        batch = datamodule.probe_batch()
        return batch[0] if isinstance(batch, (tuple, list)) else batch

    def record_states(self, module: torch.nn.Module, inputs: Any) -> torch.Tensor:
        """Hidden states (batch, time, units) of `module` on `inputs`, float64 on the CPU."""
        if self.state_fn is not None:
            states = capture(module, inputs, fn=self.state_fn)
        else:
            states = capture(module, inputs, layer=self.layer)
            if isinstance(states, torch.Tensor) and states.ndim != 3:
                # a feed-forward layer's (batch, units) output is no time series: DSA of it is meaningless
                raise ValueError(
                    f"DynamicalSimilarity: layer {self.layer!r} returned a tensor of shape {tuple(states.shape)}, "
                    f"not a time series (batch, time, units): attach it to a recurrent layer (nn.RNN / GRU / LSTM, "
                    f"or a module returning (batch, time, units)) fed a probe of shape (trials, time, inputs), "
                    f"or pass state_fn=... returning (batch, time, units) or (time, units)")
            if not self.batch_first and isinstance(states, torch.Tensor):
                states = states.transpose(0, 1)
        if not isinstance(states, torch.Tensor) or states.ndim not in (2, 3):
            shape = tuple(states.shape) if isinstance(states, torch.Tensor) else type(states).__name__
            raise ValueError(f"hidden states must be a (batch, time, units) or (time, units) tensor, got {shape}")
        return states.detach().to("cpu", torch.float64)

    def _operator(self, module: torch.nn.Module, inputs: Any, name: str) -> torch.Tensor:
        return fit_dmd(self.record_states(module, inputs), name=name, **self.fit_kwargs).A

    def _distance(self, A: torch.Tensor, B: torch.Tensor) -> float:
        return float(pairwise_operator_distances([A], [B], **self.compare_kwargs)[0, 0])

    def _reference_module(self, pl_module) -> torch.nn.Module:
        if isinstance(self.reference, torch.nn.Module):
            return self.reference
        path = Path(self.reference)
        if not path.is_file():
            raise ValueError(f"reference checkpoint {str(path)!r} does not exist")
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
        if "state_dict" not in checkpoint:
            raise ValueError(f"reference checkpoint {str(path)!r} has no 'state_dict' entry")
        module = copy.deepcopy(pl_module).cpu()
        module.load_state_dict(checkpoint["state_dict"])
        return module

    # -------------------------------------------------------------------------------- hooks
    def setup(self, trainer, pl_module, stage: str) -> None:
        if self.layer is not None:
            resolve_module(pl_module, self.layer)  # fail at once on a bad layer name

    # The snapshots are computed on global rank zero only (the probe is the same fixed tensor everywhere,
    # so other ranks would only repeat the work) and without touching the RNGs.
    def on_train_start(self, trainer, pl_module) -> None:
        if not trainer.is_global_zero:
            return
        with isolated_rng():
            inputs = self._probe_inputs(trainer)
            if self.reference is not None and self._reference_operator is None:
                self._reference_operator = self._operator(self._reference_module(pl_module), inputs,
                                                          "reference states")
            if not self.snapshots:  # a fresh run: the untrained baseline (a resumed run keeps its own)
                self._snapshot(trainer, pl_module, 0)

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        completed = trainer.current_epoch + 1
        if completed % self.every_n_epochs:
            return
        metrics = None
        if trainer.is_global_zero and completed not in self.snapshots:
            with isolated_rng():
                metrics = self._snapshot(trainer, pl_module, completed)
        # every rank reaches this broadcast (the condition above it is the same on all ranks) and logs
        # rank zero's values: a metric logged on one rank only could not be monitored
        metrics = trainer.strategy.broadcast(metrics, src=0)
        for key, value in (metrics or {}).items():
            pl_module.log(f"{self.log_prefix}/{key}", value, on_step=False, on_epoch=True, sync_dist=True)

    def _snapshot(self, trainer, pl_module, number: int) -> dict[str, float]:
        """Record snapshot `number` (operator and history); returns its metrics."""
        A = self._operator(pl_module, self._probe_inputs(trainer), f"hidden states at snapshot {number}")
        metrics = {"rank": float(A.shape[0])}
        if self.operators:
            metrics["to_previous"] = self._distance(self.operators[-1], A)
        if self._reference_operator is not None:
            metrics["to_reference"] = self._distance(self._reference_operator, A)
        self.snapshots.append(number)
        self.operators.append(A)
        self.history["snapshot"].append(float(number))
        self.history["to_previous"].append(metrics.get("to_previous", float("nan")))
        self.history["to_reference"].append(metrics.get("to_reference", float("nan")))
        log.info("DSA snapshot %d: %s", number, metrics)
        return metrics

    def on_fit_end(self, trainer, pl_module) -> None:
        if len(self.operators) < 2 or not trainer.is_global_zero:
            return
        operators = list(self.operators)
        labels = [str(s) for s in self.snapshots]
        if self._reference_operator is not None:
            operators.append(self._reference_operator)
            labels.append("ref")
        distances = pairwise_operator_distances(operators, None, **self.compare_kwargs)
        self.distance_matrix = torch.from_numpy(distances)
        self._log_distances(trainer, distances, labels)

    # ------------------------------------------------------------------------------ output
    def _log_distances(self, trainer, distances: np.ndarray, labels: list[str]) -> None:
        header = "snapshot," + ",".join(labels)
        rows = [f"{label}," + ",".join(f"{v:.8g}" for v in row) for label, row in zip(labels, distances, strict=True)]
        log_text(trainer, "\n".join([header, *rows]) + "\n", f"figures/{self.log_prefix}/distances.csv")
        figure = distances_figure(distances, labels, self.snapshots, self.compare_kwargs["score_method"])
        log_figure(trainer, figure, f"figures/{self.log_prefix}/distances.png")

    # ------------------------------------------------------------------------------- state
    def state_dict(self) -> dict[str, Any]:
        return {
            "snapshots": list(self.snapshots),
            "operators": [A.clone() for A in self.operators],
            "history": {k: list(v) for k, v in self.history.items()},
            "reference_operator": self._reference_operator,
        }

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.snapshots = [int(s) for s in state_dict["snapshots"]]
        self.operators = [torch.as_tensor(A) for A in state_dict["operators"]]
        self.history = {k: list(v) for k, v in state_dict["history"].items()}
        self._reference_operator = state_dict.get("reference_operator")
