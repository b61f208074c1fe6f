"""Numerical faults: a NaN/inf loss stops training with a clear message, the MLflow run is marked
FAILED, and the last good checkpoint is never overwritten with broken weights (NonFiniteGuard)."""

from __future__ import annotations

import math

import pytest
import torch
from lightning.pytorch import Callback, LightningModule, Trainer
from lightning.pytorch.callbacks import ModelCheckpoint
from torch.utils.data import DataLoader, TensorDataset

from neurobolts.callbacks import NonFiniteGuard
from neurobolts.plugins.pipeline import train


class PoisonWeights(Callback):
    """Sets one weight to `value` before the training step `at_step` (a diverging update, simulated)."""

    def __init__(self, at_step: int, value: float = float("nan")) -> None:
        self.at_step, self.value = at_step, value

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx: int) -> None:
        if trainer.global_step == self.at_step:
            with torch.no_grad():
                next(pl_module.parameters()).view(-1)[0] = self.value


class PoisonWeightsAfterStep(PoisonWeights):
    """The same, right after the training step `at_step` (before that step's checkpoint is saved)."""

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx: int) -> None:
        pass

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx: int) -> None:
        if trainer.global_step == self.at_step:
            with torch.no_grad():
                next(pl_module.parameters()).view(-1)[0] = self.value


def finite_weights(path) -> bool:
    checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    return all(torch.isfinite(t).all() for t in checkpoint["state_dict"].values() if t.is_floating_point())


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_non_finite_loss_stops_the_run_marks_mlflow_failed_and_keeps_the_good_checkpoint(make_cfg, tmp_path, value):
    from mlflow.tracking import MlflowClient

    uri = f"sqlite:///{tmp_path}/mlflow.db"
    cfg = make_cfg(["experiment=diffusion_bumps", f"logger.mlflow.tracking_uri={uri}",
                    "trainer.enable_progress_bar=false", "trainer.max_steps=20", "trainer.val_check_interval=10",
                    "model.sampling_steps=2", "data.eval_margin=6", "callbacks.latent_manifold=null"])
    # the diffusion module's own check raises first (the guard is tested on a module without one
    # below); an inf weight gives a NaN loss too (inf - inf in the normalisation)
    with pytest.raises(FloatingPointError, match=r"^non-finite training loss nan at step 15$"):
        train(cfg, extra_callbacks=[PoisonWeights(at_step=15, value=value)])
    checkpoints = tmp_path / "output" / "checkpoints" if (tmp_path / "output").exists() else None
    checkpoints = checkpoints or next(p.parent for p in tmp_path.rglob("last.ckpt"))
    last = checkpoints / "last.ckpt"
    assert torch.load(last, map_location="cpu", weights_only=True)["global_step"] == 10
    assert all(finite_weights(p) for p in checkpoints.glob("*.ckpt"))
    client = MlflowClient(uri)
    (run,) = client.search_runs([client.get_experiment_by_name("diffusion_bumps").experiment_id])
    assert run.info.status == "FAILED"
    # the metrics logged before the failure reached MLflow
    assert [m.step for m in client.get_metric_history(run.info.run_id, "gen/frac_C")] == [10]


class FaultyRegression(LightningModule):
    """A linear regression with no numerical check of its own (only the guard can stop it), and
    optional faults: a NaN loss at step `nan_loss_at`, or a finite loss whose gradient of
    `layer.weight` is infinite at step `inf_grad_at`."""

    def __init__(self, nan_loss_at: int | None = None, inf_grad_at: int | None = None) -> None:
        super().__init__()
        self.layer = torch.nn.Linear(4, 1)
        self.nan_loss_at, self.inf_grad_at = nan_loss_at, inf_grad_at
        self.losses: list[float] = []

    def training_step(self, batch, batch_idx):
        x, y = batch
        weight = self.layer.weight
        if self.global_step == self.inf_grad_at:
            weight = InfiniteGradient.apply(weight)
        if self.global_step == self.nan_loss_at:
            x = x * float("nan")
        loss = torch.nn.functional.mse_loss(torch.nn.functional.linear(x, weight, self.layer.bias), y)
        self.losses.append(loss.item())
        return loss

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)


class InfiniteGradient(torch.autograd.Function):
    """Identity forward, infinite gradient backward: a finite loss with a non-finite gradient."""

    @staticmethod
    def forward(ctx, tensor):
        return tensor.view_as(tensor)

    @staticmethod
    def backward(ctx, grad):
        return torch.full_like(grad, float("inf"))


class StepRecorder(Callback):
    """Records the steps whose training batch started and the weights at the start of each."""

    def __init__(self) -> None:
        self.started: list[int] = []
        self.weights: dict[int, dict[str, torch.Tensor]] = {}

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx: int) -> None:
        self.started.append(trainer.global_step)
        self.weights[trainer.global_step] = {k: v.clone() for k, v in pl_module.state_dict().items()}


def tiny_loader() -> DataLoader:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(32, 4, generator=g)
    return DataLoader(TensorDataset(x, x.sum(1, keepdim=True)), batch_size=8)


def fit_until_fault(module, tmp_path, *callbacks, max_steps: int = 8):
    """Fit with the guard, a recorder and a checkpoint every 2 steps; returns (error, trainer, recorder)."""
    recorder = StepRecorder()
    checkpoint = ModelCheckpoint(dirpath=tmp_path, save_last=True, every_n_train_steps=2)
    trainer = Trainer(default_root_dir=tmp_path, max_steps=max_steps, accelerator="cpu", logger=False,
                      enable_progress_bar=False, enable_model_summary=False,
                      callbacks=[NonFiniteGuard(), recorder, *callbacks, checkpoint])
    with pytest.raises(FloatingPointError) as error:
        trainer.fit(module, tiny_loader())
    return str(error.value), trainer, recorder


def test_guard_stops_at_a_non_finite_loss(tmp_path):
    module = FaultyRegression(nan_loss_at=3)
    message, trainer, recorder = fit_until_fault(module, tmp_path)
    assert message == ("non-finite training loss nan at step 3 (batch 3); training stopped before the backward "
                       "pass, the last good checkpoint is kept")
    assert recorder.started == [0, 1, 2, 3] and trainer.global_step == 3  # no update from the NaN loss
    for key, value in module.state_dict().items():
        assert torch.equal(value, recorder.weights[3][key]), key
    assert torch.load(tmp_path / "last.ckpt", map_location="cpu", weights_only=True)["global_step"] == 2


def test_guard_refuses_a_non_finite_gradient_of_a_finite_loss_before_the_update(tmp_path):
    module = FaultyRegression(inf_grad_at=3)
    message, trainer, recorder = fit_until_fault(module, tmp_path)
    assert message == ("non-finite gradient of `layer.weight` at step 3; the update was not applied, "
                       "training stopped, the last good checkpoint is kept")
    assert all(math.isfinite(loss) for loss in module.losses) and len(module.losses) == 4
    assert recorder.started == [0, 1, 2, 3] and trainer.global_step == 3
    for key, value in module.state_dict().items():
        assert torch.equal(value, recorder.weights[3][key]), key
    assert torch.load(tmp_path / "last.ckpt", map_location="cpu", weights_only=True)["global_step"] == 2


def test_guard_refuses_a_checkpoint_of_non_finite_weights(tmp_path):
    """The weight turns NaN after the 4th update (the loss of that step was finite): the checkpoint
    of step 4 is not written, last.ckpt stays at step 2 with finite weights."""
    module = FaultyRegression()
    message, trainer, recorder = fit_until_fault(module, tmp_path, PoisonWeightsAfterStep(at_step=4))
    assert message == ("weight `layer.weight` is non-finite at step 4: checkpoint not written, "
                       "the last good checkpoint is kept")
    assert all(math.isfinite(loss) for loss in module.losses) and len(module.losses) == 4
    assert recorder.started == [0, 1, 2, 3] and trainer.global_step == 4
    assert torch.load(tmp_path / "last.ckpt", map_location="cpu", weights_only=True)["global_step"] == 2
    assert all(finite_weights(p) for p in tmp_path.glob("*.ckpt"))
