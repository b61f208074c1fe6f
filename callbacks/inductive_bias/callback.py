"""`InductiveBiasComplexity`: the inductive-bias complexity of the task a run trains on, and the
"architecture information" of the model (the bound at the model's achieved validation error),
for any classification run (spec: docs/papers/inductive_bias_complexity.md, section 6).

- At train start (global rank zero; broadcast to the other ranks) the task's statistics are read
  from the arguments, else from the DataModule when it declares them (attributes `intrinsic_dim`,
  `resolution`, `radius`, `num_classes`), else estimated from the training set (n = its length;
  MLE intrinsic dimension with TwoNN as cross-check; sample or EVT resolution; radius). They are
  kept in the callback's state, so a resumed run does not recompute them.
- At train start the task's bits at `target_error` are logged (`ibc/task_bits`,
  `ibc/task_log10_bits`) with the statistics (`ibc/n`, `ibc/num_classes`, `ibc/radius`,
  `ibc/resolution`, `ibc/intrinsic_dim`, and the estimates `ibc/intrinsic_dim_mle`,
  `ibc/intrinsic_dim_twonn`, `ibc/resolution_estimate` when computed).
- Cross-check: a declared (given) statistic is compared with its estimate when both exist
  (`cross_check=True`, or see `cross_check_mismatches`): the intrinsic dimension against the raw MLE
  (relative gap |MLE - m| / m), the resolution against the sample / EVT estimate (one-sided: a
  finite sample can only over-estimate the minimum class distance, so only an estimate below the
  declared delta, gap (delta - estimate) / delta, contradicts it). Logged: `ibc/<stat>_rel_gap` and
  `ibc/<stat>_mismatch` (1 when the gap exceeds `cross_check_tolerance`, else 0); a mismatch also
  raises a `UserWarning` naming the statistic, both values and the tolerance.
- At every `every_n_epochs`-th validation epoch the model's error is read from
  `trainer.callback_metrics[error_metric]` (or 1 - `accuracy_metric`); it must be logged in
  `validation_step` (on_epoch) so that it is reduced before this hook runs. Logged:
  `ibc/model_error`, `ibc/model_bits`, `ibc/model_log10_bits`, `ibc/model_bits_fraction` (model
  bits / task bits) and again `ibc/task_bits`, `ibc/task_log10_bits`.
- At train end a figure of the scaling around the task (bits vs m, vs delta, model bits over
  training) is logged as `figures/ibc/scaling.png` (global rank zero).

A bound clamped to 0 bits (spec 5.1) logs bits 0, `ibc/task_clamped` = 1 and no log10 value.
"""

from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Callable

import torch
from lightning.pytorch import Callback
from lightning.pytorch.utilities import rank_zero_warn
from torch.utils.data import DataLoader, Subset

from neurobolts.callbacks.common.isolated_rng import isolated_rng
from neurobolts.callbacks.inductive_bias.difficulty import Difficulty, classification_difficulty
from neurobolts.callbacks.inductive_bias.task_statistics import RESOLUTION_METHODS, estimate_task_statistics
from neurobolts.plugins.checks import check_choice, check_fraction, check_int, check_number, check_positive

log = logging.getLogger(__name__)

DECLARED_STATISTICS = ("intrinsic_dim", "resolution", "radius", "num_classes")


class InductiveBiasComplexity(Callback):
    """Log the inductive-bias complexity of a classification task and of the model's error.

    Args:
        target_error: epsilon in (0, 1), the error the task's bits are computed for.
        intrinsic_dim, resolution, radius, num_classes: known statistics (take precedence over the
            DataModule's declarations and over estimation).
        neighbours: k of the MLE intrinsic dimension (default 5, as in the paper's script).
        num_queries: query points of the MLE / TwoNN (None: all samples).
        round_intrinsic_dim: round the MLE to an integer for the bound (as in the paper).
        cross_check: also run the estimators (MLE, TwoNN, resolution) for statistics that are known,
            log their values beside the known ones, and warn when they disagree (see below).
        cross_check_tolerance: relative gap (> 0) above which a declared statistic and its
            estimate disagree (default 0.25: the sphere tasks' MLE is within 11 % of the declared m
            for m = 2, 4, 8 at n = 1000 - 4000, and their sample delta never falls below 2 margin).
        resolution_method: "sample" (minimum different-class distance on `resolution_subset`
            points) or "evt" (extreme-value extrapolation from `evt_pairs` pairs, top `evt_k`).
        duplicate_distance: the duplicate guard, pairs closer than this are ignored for delta.
        max_samples: estimate from a random subset of this many training samples (n stays the
            full training-set size); None reads the whole training set.
        input_key, target_key: where inputs and labels sit in a batch (tuple index or dict key).
        feature_fn: optional map from an input batch to features (default: flattened inputs).
        error_metric: metric holding the validation error; `accuracy_metric` is the fallback
            (error = 1 - accuracy).
        error_floor: model errors are clipped to [error_floor, 1 - error_floor] (0 error = infinite bits).
        every_n_epochs: log the model's bits every n-th validation epoch.
        plot: log the scaling figure at train end.
        seed: seed of the subsampling inside the estimators.
    """

    def __init__(
        self,
        target_error: float,
        intrinsic_dim: float | None = None,
        resolution: float | None = None,
        radius: float | None = None,
        num_classes: int | None = None,
        neighbours: int = 5,
        num_queries: int | None = 10_000,
        round_intrinsic_dim: bool = True,
        cross_check: bool = False,
        cross_check_tolerance: float = 0.25,
        resolution_method: str = "sample",
        resolution_subset: int | None = 30_000,
        evt_pairs: int = 4_000_000,
        evt_k: int = 2000,
        duplicate_distance: float = 0.0,
        max_samples: int | None = None,
        input_key: int | str = 0,
        target_key: int | str = 1,
        feature_fn: Callable[[torch.Tensor], torch.Tensor] | None = None,
        error_metric: str = "val/error",
        accuracy_metric: str | None = "val/acc",
        error_floor: float = 1e-4,
        every_n_epochs: int = 1,
        plot: bool = True,
        seed: int = 0,
    ) -> None:
        super().__init__()
        self.target_error = check_fraction("target_error", target_error, low_open=True, high_open=True)
        for name, value in (("intrinsic_dim", intrinsic_dim), ("resolution", resolution), ("radius", radius)):
            check_positive(name, value, allow_none=True)
        check_int("num_classes", num_classes, 2, allow_none=True)
        check_int("neighbours", neighbours, 2)
        check_choice("resolution_method", resolution_method, RESOLUTION_METHODS)
        check_int("max_samples", max_samples, 2, allow_none=True)
        check_number("error_floor", error_floor, 0, 0.5, low_open=True, high_open=True)
        check_int("every_n_epochs", every_n_epochs, 1)
        self.cross_check_tolerance = check_number("cross_check_tolerance", cross_check_tolerance, 0,
                                                  low_open=True)
        self.given = {"intrinsic_dim": intrinsic_dim, "resolution": resolution, "radius": radius,
                      "num_classes": num_classes}
        self.estimator_options = {
            "neighbours": neighbours, "num_queries": num_queries, "round_intrinsic_dim": round_intrinsic_dim,
            "cross_check": cross_check, "resolution_method": resolution_method,
            "resolution_subset": resolution_subset, "evt_pairs": evt_pairs, "evt_k": evt_k,
            "duplicate_distance": duplicate_distance, "seed": seed,
        }
        self.max_samples = max_samples
        self.input_key, self.target_key = input_key, target_key
        self.feature_fn = feature_fn
        self.error_metric, self.accuracy_metric = error_metric, accuracy_metric
        self.error_floor = float(error_floor)
        self.every_n_epochs = every_n_epochs
        self.plot = plot
        self.seed = seed
        # checkpointed state (plain values only)
        self.statistics: dict | None = None
        self.history: dict[str, list[float]] = {"step": [], "error": [], "log10_bits": []}
        self.validation_epochs = 0
        # not checkpointed: whether this process estimated the statistics (tests and logs use it)
        self.estimated_here = False
        self._warned_missing_metric = False

    @property
    def state_key(self) -> str:
        return self._generate_state_key(target_error=self.target_error, error_metric=self.error_metric)

    # ------------------------------------------------------------------------------ state
    def state_dict(self) -> dict:
        return {
            "statistics": dict(self.statistics) if self.statistics is not None else None,
            "history": {k: list(v) for k, v in self.history.items()},
            "validation_epochs": self.validation_epochs,
        }

    def load_state_dict(self, state_dict: dict) -> None:
        self.statistics = dict(state_dict["statistics"]) if state_dict.get("statistics") is not None else None
        self.history = {k: list(v) for k, v in state_dict.get("history", self.history).items()}
        self.validation_epochs = int(state_dict.get("validation_epochs", 0))

    # ------------------------------------------------------------------------- the bound
    def difficulty(self, error: float) -> Difficulty:
        """The bound for the stored statistics at `error`."""
        if self.statistics is None:
            raise RuntimeError("InductiveBiasComplexity has no task statistics yet (they are set at train start)")
        s = self.statistics
        return classification_difficulty(
            n=s["n"], intrinsic_dim=s["intrinsic_dim"], radius=s["radius"], resolution=s["resolution"],
            target_error=error, num_classes=s["num_classes"],
        )

    # -------------------------------------------------------------------- data collection
    def _declared(self, trainer) -> dict:
        values = dict(self.given)
        datamodule = getattr(trainer, "datamodule", None)
        for name in DECLARED_STATISTICS:
            if values[name] is None and datamodule is not None:
                values[name] = getattr(datamodule, name, None)
        return values

    def _train_dataset(self, trainer):
        loader = trainer.train_dataloader
        if loader is None and getattr(trainer, "datamodule", None) is not None:
            loader = trainer.datamodule.train_dataloader()
        if not isinstance(loader, DataLoader):
            raise TypeError(
                f"InductiveBiasComplexity needs a single train DataLoader, got {type(loader).__name__}"
            )
        return loader.dataset

    def _pick(self, batch, key, what: str) -> torch.Tensor:
        try:
            return batch[key]
        except (KeyError, IndexError, TypeError):
            raise ValueError(
                f"InductiveBiasComplexity: {what}={key!r} does not select an element of the train batch "
                f"(a {type(batch).__name__}); set {what} to the index or key of the {what.split('_')[0]}s"
            ) from None

    def collect(self, dataset) -> tuple[torch.Tensor, torch.Tensor, int]:
        """(features, labels, n) from a map-style classification dataset."""
        n = len(dataset)
        if n < 2:
            raise ValueError(f"the training set must hold at least 2 samples, got n={n}")
        if self.max_samples is not None and self.max_samples < n:
            g = torch.Generator().manual_seed(self.seed)
            dataset = Subset(dataset, torch.randperm(n, generator=g)[: self.max_samples].tolist())
        features, labels = [], []
        for batch in DataLoader(dataset, batch_size=1024, shuffle=False, num_workers=0):
            x = self._pick(batch, self.input_key, "input_key")
            y = self._pick(batch, self.target_key, "target_key")
            if self.feature_fn is not None:
                x = self.feature_fn(x)
            features.append(torch.as_tensor(x).detach().cpu().reshape(len(x), -1).double())
            labels.append(torch.as_tensor(y).detach().cpu().reshape(-1))
        y = torch.cat(labels)
        if y.is_floating_point() or y.dtype == torch.bool:
            raise ValueError(f"labels must be integer class indices, got dtype {y.dtype}")
        return torch.cat(features), y, n

    def estimate(self, trainer) -> dict:
        """The task's statistics (on one process; no collectives)."""
        declared = self._declared(trainer)
        x, y, n = self.collect(self._train_dataset(trainer))
        return estimate_task_statistics(x, y, num_train=n, **declared, **self.estimator_options)

    # -------------------------------------------------------------------------- hooks
    def on_train_start(self, trainer, pl_module) -> None:
        if self.statistics is None:
            result, local_error = None, None
            if trainer.is_global_zero:
                try:
                    with isolated_rng():
                        result = {"ok": self.estimate(trainer)}
                except Exception as err:  # noqa: BLE001 - re-raised on every rank after the broadcast
                    result = {"error": f"{type(err).__name__}: {err}"}
                    local_error = err
            result = trainer.strategy.broadcast(result, src=0)
            if "error" in result:
                if trainer.is_global_zero:
                    raise local_error
                raise RuntimeError(f"InductiveBiasComplexity failed on rank zero: {result['error']}")
            self.statistics = result["ok"]
            self.estimated_here = trainer.is_global_zero
            if trainer.is_global_zero:  # the other ranks received them
                log.info("Inductive-bias complexity statistics: %s", self.statistics)
        if trainer.is_global_zero:
            task = self.difficulty(self.target_error)
            metrics = {f"ibc/{k}": float(v) for k, v in self.statistics.items()
                       if isinstance(v, (int, float)) and math.isfinite(v)}
            metrics.update(self._task_metrics(task))
            for name, (declared, estimated, gap, mismatch) in self.cross_check_mismatches().items():
                metrics[f"ibc/{name}_rel_gap"] = gap
                metrics[f"ibc/{name}_mismatch"] = float(mismatch)
                if mismatch:
                    warnings.warn(
                        f"InductiveBiasComplexity cross-check: declared {name}={declared:g} disagrees with "
                        f"the estimate {estimated:g} (relative gap {gap:.3g} > tolerance "
                        f"{self.cross_check_tolerance:g})", UserWarning, stacklevel=2)
            for logger in trainer.loggers:
                logger.log_metrics(metrics, step=trainer.global_step)

    def cross_check_mismatches(self) -> dict[str, tuple[float, float, float, bool]]:
        """{statistic: (declared, estimated, relative gap, gap > cross_check_tolerance)} for each
        declared statistic that was also estimated: `intrinsic_dim` against the raw MLE (two-sided),
        `resolution` against its estimate (one-sided: only an estimate below the declared value)."""
        s, out = self.statistics or {}, {}
        pairs = (("intrinsic_dim", "intrinsic_dim_mle", False), ("resolution", "resolution_estimate", True))
        for name, estimate_key, one_sided in pairs:
            declared, estimated = s.get(name), s.get(estimate_key)
            if s.get(f"{name}_source") != "given" or estimated is None or not math.isfinite(estimated):
                continue
            gap = (declared - estimated) / declared if one_sided else abs(estimated - declared) / declared
            gap = max(gap, 0.0)
            out[name] = (float(declared), float(estimated), float(gap), gap > self.cross_check_tolerance)
        return out

    @staticmethod
    def _task_metrics(task: Difficulty) -> dict[str, float]:
        out = {"ibc/task_bits": task.bits, "ibc/task_clamped": float(task.clamped)}
        if not task.clamped:
            out["ibc/task_log10_bits"] = task.log10_bits
        return out

    def model_error(self, trainer) -> float | None:
        metrics = trainer.callback_metrics
        if self.error_metric in metrics:
            return float(metrics[self.error_metric])
        if self.accuracy_metric is not None and self.accuracy_metric in metrics:
            return 1.0 - float(metrics[self.accuracy_metric])
        if not self._warned_missing_metric:
            rank_zero_warn(
                f"InductiveBiasComplexity: neither {self.error_metric!r} nor {self.accuracy_metric!r} is in "
                f"trainer.callback_metrics (have: {sorted(metrics)}); log one of them in validation_step"
            )
            self._warned_missing_metric = True
        return None

    def on_validation_epoch_end(self, trainer, pl_module) -> None:
        if trainer.sanity_checking or self.statistics is None:
            return
        self.validation_epochs += 1
        if self.validation_epochs % self.every_n_epochs:
            return
        error = self.model_error(trainer)
        if error is None:
            return
        clipped = min(max(error, self.error_floor), 1.0 - self.error_floor)
        model = self.difficulty(clipped)
        task = self.difficulty(self.target_error)
        values = {"ibc/model_error": clipped, "ibc/model_bits": model.bits, **self._task_metrics(task)}
        if not model.clamped:
            values["ibc/model_log10_bits"] = model.log10_bits
        if not task.clamped:
            values["ibc/model_bits_fraction"] = model.bits / task.bits if math.isfinite(task.bits) else math.exp(
                model.ln_bits - task.ln_bits)
        for name, value in values.items():
            # float64 tensors: bits can exceed the float32 range (ImageNet-scale tasks ~1e41). The same on
            # every rank (the broadcast statistics, the synchronised validation metric): the mean over ranks
            # is the value
            pl_module.log(name, torch.tensor(value, dtype=torch.float64), on_step=False, on_epoch=True, batch_size=1,
                          sync_dist=True)
        self.history["step"].append(float(trainer.global_step))
        self.history["error"].append(clipped)
        self.history["log10_bits"].append(model.log10_bits if not model.clamped else math.nan)

    def on_train_end(self, trainer, pl_module) -> None:
        if not (self.plot and trainer.is_global_zero and self.statistics is not None):
            return
        from neurobolts.callbacks.inductive_bias.figures import scaling_figure
        from neurobolts.plugins.figures import log_figure

        log_figure(trainer, scaling_figure(self.statistics, self.target_error, self.history), "figures/ibc/scaling.png")
