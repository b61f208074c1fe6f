"""Conditional DDPM on Gaussian bumps (Liang, Liu, Fiete 2024; spec: docs/papers/diffusion_bumps.md).

Training: epsilon-prediction MSE at a uniform random timestep. Validation/test: one sample per
condition of the evaluation grid, from a fixed noise image seeded by the condition itself (so the
result does not depend on batching or on the number of DDP ranks), scored into the phase classes
A / B / C (`gen/frac_A`, `gen/frac_B`, `gen/frac_C`, `gen/loc_error`). A sample-grid figure is logged
at every validation and a phase-curve figure with the milestones at the end of training (both drawn
by `lightning_modules/diffusion_bumps/figures.py`). Prediction (`predict.py experiment=diffusion_bumps`):
`predict_step` generates samples for new conditions and reads their bump positions with the same
scorer (`log_predictions` draws them against the requested positions).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable

import torch
from lightning.pytorch import LightningModule
from torch import nn
from torch.nn import functional as F
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
from torchmetrics import MeanMetric

from neurobolts.datamodules.common.global_batch_order import global_batch_share
from neurobolts.datamodules.diffusion_bumps.bumps import from_model_range
from neurobolts.lightning_modules.common.optim import build_optimizers
from neurobolts.lightning_modules.diffusion_bumps.figures import (
    phase_figure,
    prediction_figure,
    sample_figure,
)
from neurobolts.lightning_modules.diffusion_bumps.sampling import (
    NoiseSchedule,
    ddim_sample,
    ddim_timesteps,
    ddpm_sample,
)
from neurobolts.lightning_modules.diffusion_bumps.scoring import (
    MAX_AREA,
    PHASE_A,
    GenerationScores,
    phase_milestones,
    score_bumps,
)
from neurobolts.plugins.checks import check_choice, check_fraction, check_number
from neurobolts.plugins.figures import log_figure, log_table

log = logging.getLogger(__name__)

SAMPLERS = ("ddim", "ddpm")
# evaluation set of the DataModule -> (prefix of its validation loss, prefix of its test metrics);
# its validation generation metrics are logged under the set's own name (gen/..., gen_heldout/...)
EVAL_SET_PREFIXES = {"gen": ("val", "test"), "gen_heldout": ("val_heldout", "test_heldout"),
                     "gen_heldout_block": ("val_heldout_block", "test_heldout_block")}


def condition_seed(base_seed: int, cond: torch.Tensor) -> list[int]:
    """One seed per condition (mu_x, mu_y), fixed to 1/16 pixel: independent of batching and ranks."""
    q = torch.round(cond.detach().cpu().double() * 16).long()
    return [int(base_seed * 1_000_003 + 65_537 * int(x) + int(y)) & 0x7FFFFFFF for x, y in q.tolist()]


class DiffusionBumpsModule(LightningModule):
    """Conditional DDPM with epsilon-prediction.

    Args:
        net: the epsilon network `net(x_t, t, cond)` (e.g. ConditionalUNet).
        optimizer: a partial optimizer taking the parameters (Hydra `_partial_: true`).
        scheduler: optional partial LR scheduler taking the optimizer (stepped every step).
        num_timesteps, beta_start, beta_end: the linear noise schedule.
        sampler: "ddim" (deterministic, eta) or "ddpm" (ancestral) for evaluation samples.
        sampling_steps: DDIM steps (ignored by DDPM, which uses all timesteps).
        eta: DDIM noise level (0 = deterministic).
        clip_x0: clip the predicted x0 to [-1, 1] while sampling.
        ema_decay: if set, keep an exponential moving average of the weights and sample with it.
        peak_threshold, tolerance: bump scoring (peaks above threshold on [0, 1]; C within tolerance px).
        sigma, sigma_y: the data's bump width (the config passes `${data.sigma}`, `${data.sigma_y}`):
            a sample is one bump (B or C) only if its blob is no wider than that (`half_max_area`
            <= max_area; sigma=None skips the check).
        max_area: bound of that shape check (see `diffusion_bumps/scoring.py`).
        periodic: the data wrap around (scores distances on the torus).
        eval_seed: base seed of the fixed validation noise.
        test_seed: base seed of the test noise (the test step draws its own, so a test number is not
            a validation number again).
        figure_max_samples: how many evaluation samples the sample-grid figure shows.
    """

    def __init__(
        self,
        net: nn.Module,
        optimizer: Callable,
        scheduler: Callable | None = None,
        num_timesteps: int = 200,
        beta_start: float = 1e-4,
        beta_end: float = 0.1,
        sampler: str = "ddim",
        sampling_steps: int = 25,
        eta: float = 0.0,
        clip_x0: bool = True,
        ema_decay: float | None = None,
        peak_threshold: float = 0.3,
        tolerance: float = 1.0,
        periodic: bool = False,
        sigma: float | None = 1.0,
        sigma_y: float | None = None,
        max_area: float = MAX_AREA,
        eval_seed: int = 1234,
        figure_max_samples: int = 196,
        test_seed: int = 4321,
    ) -> None:
        super().__init__()
        check_choice("sampler", sampler, SAMPLERS)
        check_fraction("ema_decay", ema_decay, low_open=True, high_open=True, allow_none=True)
        check_fraction("peak_threshold", peak_threshold, low_open=True, high_open=True)
        check_number("tolerance", tolerance, 0, low_open=True, finite=False)
        check_number("sigma", sigma, 0, low_open=True, allow_none=True)
        check_number("sigma_y", sigma_y, 0, low_open=True, allow_none=True)
        check_number("max_area", max_area, 0, low_open=True, finite=False)
        check_number("eta", eta, 0, finite=False)
        self.save_hyperparameters(ignore=["net", "optimizer", "scheduler"], logger=False)
        self.net = net
        self.optimizer_factory = optimizer
        self.scheduler_factory = scheduler
        self.schedule = NoiseSchedule(num_timesteps, beta_start, beta_end)
        if sampler == "ddim":
            ddim_timesteps(num_timesteps, sampling_steps)  # fail now rather than at the first validation
        self.ema_net = None
        if ema_decay is not None:
            self.ema_net = AveragedModel(net, multi_avg_fn=get_ema_multi_avg_fn(ema_decay), use_buffers=True)
            self.ema_net.requires_grad_(False)
        # one score per evaluation set of the DataModule (`eval_set_names`: the grid, the held-out
        # conditions, a held-out block); at most three
        self.val_scores = nn.ModuleList([GenerationScores() for _ in EVAL_SET_PREFIXES])
        self.test_scores = nn.ModuleList([GenerationScores() for _ in EVAL_SET_PREFIXES])
        # the evaluation loss of each set as a sum and a count reduced over ranks: exact under DDP,
        # where ranks may hold different numbers of conditions (unpadded evaluation shares)
        self.val_losses = nn.ModuleList([MeanMetric() for _ in EVAL_SET_PREFIXES])
        self.test_losses = nn.ModuleList([MeanMetric() for _ in EVAL_SET_PREFIXES])
        # Phase curve over training: plain lists, saved in checkpoints (weights_only-safe); the grid's
        # values under their own names, the other evaluation sets' as "<set>/<key>" ("gen_heldout/acc_y")
        self.generation_history: dict[str, list[float]] = {
            key: [] for key in ("step", "frac_A", "frac_B", "frac_C", "acc_x", "acc_y")
        }
        self._figure_batch: tuple[torch.Tensor, torch.Tensor] | None = None

    # ----------------------------------------------------------------------------- network
    def forward(self, x_t: torch.Tensor, t: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        return self.net(x_t, t, cond)

    @property
    def sampling_net(self) -> nn.Module:
        return self.ema_net.module if self.ema_net is not None else self.net

    def sample(self, cond: torch.Tensor, x_T: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Generate images in [-1, 1] for conditions (B, 2) from initial noise x_T (B, 1, N, N)."""
        net = self.sampling_net
        was_training = net.training
        net.eval()
        try:
            hp = self.hparams
            if hp.sampler == "ddim":
                return ddim_sample(net, self.schedule, x_T, cond, hp.sampling_steps, hp.eta, generator, hp.clip_x0)
            return ddpm_sample(net, self.schedule, x_T, cond, generator, hp.clip_x0)
        finally:
            net.train(was_training)

    # ---------------------------------------------------------------------------- training
    def diffusion_loss(
        self, x0: torch.Tensor, cond: torch.Tensor, t: torch.Tensor, noise: torch.Tensor
    ) -> torch.Tensor:
        x_t = self.schedule.add_noise(x0, noise, t)
        return F.mse_loss(self.net(x_t, t, cond), noise)

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> torch.Tensor:
        x0, cond = batch
        # t and the noise are drawn for the whole global batch on every rank, each rank keeping its
        # share: a step draws the same values whatever the number of processes (DDP parity)
        world = global_batch_share(self._trainer)
        n = x0.shape[0] * world.size
        t = torch.randint(0, self.schedule.num_timesteps, (n,), device=x0.device)[world.share]
        noise = torch.randn((n, *x0.shape[1:]), dtype=x0.dtype, device=x0.device)[world.share]
        loss = self.diffusion_loss(x0, cond, t, noise)
        if not torch.isfinite(loss):
            raise FloatingPointError(f"non-finite training loss {loss.item()} at step {self.global_step}")
        self.log("train/loss", loss, on_step=True, on_epoch=False, prog_bar=True, sync_dist=world.size > 1)
        return loss

    def on_train_batch_end(self, outputs, batch, batch_idx: int) -> None:
        if self.ema_net is not None:
            self.ema_net.update_parameters(self.net)

    # -------------------------------------------------------------------------- evaluation
    def _eval_set_names(self) -> list[str]:
        """The evaluation sets of the DataModule (`eval_set_names`), or the grid alone."""
        datamodule = getattr(self._trainer, "datamodule", None) if self._trainer is not None else None
        names = list(getattr(datamodule, "eval_set_names", None) or ["gen"])
        unknown = [n for n in names if n not in EVAL_SET_PREFIXES]
        if unknown:
            raise ValueError(f"eval_set_names must be among {tuple(EVAL_SET_PREFIXES)}, got {names!r}")
        return names

    def _evaluation_noise(self, cond: torch.Tensor, shape: tuple[int, ...], base_seed: int):
        """Fixed per-condition x_T, loss noise and loss timestep."""
        x_T, noise, t = [], [], []
        for seed in condition_seed(base_seed, cond):
            g = torch.Generator().manual_seed(seed)
            x_T.append(torch.randn(shape, generator=g))
            noise.append(torch.randn(shape, generator=g))
            t.append(torch.randint(0, self.schedule.num_timesteps, (1,), generator=g))
        dev = cond.device
        return torch.stack(x_T).to(dev), torch.stack(noise).to(dev), torch.cat(t).to(dev)

    def _evaluation_step(self, batch, metric: GenerationScores, loss_metric: MeanMetric, base_seed: int,
                         keep_figure: bool = True) -> torch.Tensor:
        x0, cond = batch
        x_T, noise, t = self._evaluation_noise(cond, tuple(x0.shape[1:]), base_seed)
        loss = self.diffusion_loss(x0, cond, t, noise)
        loss_metric.update(loss.detach(), weight=x0.shape[0])
        generator = torch.Generator().manual_seed(condition_seed(base_seed + 1, cond[:1])[0])
        samples = from_model_range(self.sample(cond, x_T, generator))
        hp = self.hparams
        scores = score_bumps(samples, cond, hp.peak_threshold, hp.tolerance, hp.periodic, hp.sigma, hp.sigma_y,
                             hp.max_area)
        metric.update(scores)
        if keep_figure and self._figure_batch is None:
            self._figure_batch = (samples.detach().cpu(), cond.detach().cpu())
        return loss

    def _log_loss(self, loss_metric: MeanMetric, prefix: str) -> None:
        if loss_metric.update_called:  # skipped when the loop ran no batch of this set
            # compute() is a collective that returns the mean over all ranks, the same on each: sync_dist's
            # mean over ranks returns it unchanged and marks it as the global value
            self.log(f"{prefix}/loss", loss_metric.compute(), sync_dist=True, add_dataloader_idx=False)
        loss_metric.reset()

    def _log_generation(self, metric: GenerationScores, prefix: str) -> dict[str, float]:
        values = metric.compute()  # collective: runs on every rank
        metric.reset()
        for key, value in values.items():
            self.log(f"{prefix}/{key}", value, sync_dist=True, add_dataloader_idx=False)
        return {k: float(v) for k, v in values.items()}

    def validation_step(self, batch, batch_idx: int, dataloader_idx: int = 0) -> torch.Tensor:
        return self._evaluation_step(batch, self.val_scores[dataloader_idx], self.val_losses[dataloader_idx],
                                     self.hparams.eval_seed, keep_figure=dataloader_idx == 0)

    def on_validation_epoch_start(self) -> None:
        self._figure_batch = None

    def on_validation_epoch_end(self) -> None:
        names = self._eval_set_names()
        for i, name in enumerate(names):
            self._log_loss(self.val_losses[i], EVAL_SET_PREFIXES[name][0])
        values = self._log_generation(self.val_scores[0], names[0])
        other_sets = {name: self._log_generation(self.val_scores[i], name) for i, name in enumerate(names[1:], start=1)}
        # Lightning takes a logged "step" as the x-axis: log evaluation metrics at the global step
        # (optimizer steps taken), not at the batch counter, which lags one behind during training.
        self.log("step", float(self.global_step), sync_dist=True)
        if self.trainer.sanity_checking:
            return
        history = self.generation_history
        history["step"].append(int(self.global_step))
        for key in ("frac_A", "frac_B", "frac_C", "acc_x", "acc_y"):
            history.setdefault(key, []).append(values[key])
            for name, set_values in other_sets.items():  # e.g. "gen_heldout/acc_y"
                history.setdefault(f"{name}/{key}", []).append(set_values[key])
        if self.trainer.is_global_zero and self._figure_batch is not None:
            self._log_sample_figure(values)

    def test_step(self, batch, batch_idx: int, dataloader_idx: int = 0) -> torch.Tensor:
        return self._evaluation_step(batch, self.test_scores[dataloader_idx], self.test_losses[dataloader_idx],
                                     self.hparams.test_seed, keep_figure=False)

    def on_test_epoch_start(self) -> None:
        self._figure_batch = None

    def on_test_epoch_end(self) -> None:
        for i, name in enumerate(self._eval_set_names()):
            self._log_loss(self.test_losses[i], EVAL_SET_PREFIXES[name][1])
            self._log_generation(self.test_scores[i], EVAL_SET_PREFIXES[name][1])

    # --------------------------------------------------------------------------- prediction
    def predict_step(self, batch, batch_idx: int, dataloader_idx: int = 0) -> dict[str, torch.Tensor]:
        """Samples for new conditions (`predict.py`; batches of `ConditionsDataModule`: conditions (B, 2)
        and their initial noise x_T (B, 1, N, N)). Returns, per sample: `samples` (B, 1, N, N) in
        [0, 1], the requested `conditions`, and what the bump scorer reads from each sample:
        `num_peaks`, `location` (x, y) of the strongest peak (NaN without a peak), `location_error` (its
        distance to the condition), `phase` (0, 1, 2 = A, B, C: not one bump, one bump elsewhere, one
        bump within `tolerance` of the condition)."""
        cond, x_T = batch
        generator = torch.Generator().manual_seed(condition_seed(self.hparams.test_seed + 2, cond[:1])[0] + batch_idx)
        samples = from_model_range(self.sample(cond, x_T, generator))
        hp = self.hparams
        scores = score_bumps(samples, cond, hp.peak_threshold, hp.tolerance, hp.periodic, hp.sigma, hp.sigma_y,
                             hp.max_area)
        return {"samples": samples.detach().cpu(), "conditions": cond.detach().cpu(), "num_peaks": scores.num_peaks,
                "location": scores.location, "location_error": scores.location_error, "phase": scores.phase}

    def log_predictions(self, trainer, predictions: dict[str, torch.Tensor]) -> dict[str, float]:
        """Log what a prediction run generated (rank zero; called by the pipeline's prediction writer):
        the samples with the requested (red +) and the found (x) bump centres as `predictions/samples.png`,
        one record per sample (requested and found position, peaks, phase, error) as
        `predictions/positions.json`; returns the summary metrics `predict/frac_A`, `predict/frac_B`,
        `predict/frac_C` and `predict/loc_error` (mean error of the one-bump samples)."""
        cond, found, phase = predictions["conditions"], predictions["location"], predictions["phase"]
        records = []
        for i in range(len(cond)):
            has_peak = not math.isnan(float(found[i, 0]))  # found = the strongest peak's centre
            records.append({
                "x": float(cond[i, 0]), "y": float(cond[i, 1]),
                "found_x": float(found[i, 0]) if has_peak else None, "found_y": float(found[i, 1]) if has_peak else None,
                "num_peaks": int(predictions["num_peaks"][i]), "phase": "ABC"[int(phase[i])],
                "error": float(predictions["location_error"][i]) if has_peak else None,
            })
        log_table(trainer, records, "predictions/positions.json")
        counts = torch.bincount(phase, minlength=3).double() / max(len(phase), 1)
        summary = {"predict/frac_A": float(counts[0]), "predict/frac_B": float(counts[1]),
                   "predict/frac_C": float(counts[2])}
        one_bump = phase != PHASE_A
        if bool(one_bump.any()):
            summary["predict/loc_error"] = float(predictions["location_error"][one_bump].double().mean())
        figure = prediction_figure(predictions["samples"], cond, found, phase, summary, self.hparams.figure_max_samples)
        log_figure(trainer, figure, "predictions/samples.png")
        for record in records[:20]:
            log.info("condition (%g, %g): phase %s, %d peak(s), strongest at %s", record["x"], record["y"],
                     record["phase"], record["num_peaks"],
                     "none" if record["found_x"] is None else f"({record['found_x']:.2f}, {record['found_y']:.2f})")
        if len(records) > 20:
            log.info("... %d more samples in predictions/positions.json", len(records) - 20)
        return summary

    def on_train_end(self) -> None:
        history = self.generation_history
        if not history["step"]:
            return
        milestones = phase_milestones(history["step"], history["frac_B"], history["frac_C"])
        if self.trainer.is_global_zero:
            metrics = {f"gen/{k}": v for k, v in milestones.items() if not math.isnan(v)}
            for logger in self.trainer.loggers:
                logger.log_metrics(metrics, step=int(self.global_step))
            self._log_phase_figure(milestones)

    # ----------------------------------------------------------------------------- figures
    def _log_sample_figure(self, values: dict[str, float]) -> None:
        samples, cond = self._figure_batch
        figure = sample_figure(samples, cond, values, self.global_step, self.hparams.figure_max_samples)
        log_figure(self.trainer, figure, f"figures/samples/step_{self.global_step:06d}.png")

    def _log_phase_figure(self, milestones: dict[str, float]) -> None:
        log_figure(self.trainer, phase_figure(self.generation_history, milestones), "figures/phases.png")

    # ---------------------------------------------------------------------- optimisation
    def configure_optimizers(self):
        return build_optimizers(self.net.parameters(), self.optimizer_factory, self.scheduler_factory)

    # ------------------------------------------------------------------------ checkpoints
    def on_save_checkpoint(self, checkpoint: dict) -> None:
        checkpoint["generation_history"] = {k: list(v) for k, v in self.generation_history.items()}

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        if "generation_history" in checkpoint:
            self.generation_history = {k: list(v) for k, v in checkpoint["generation_history"].items()}
