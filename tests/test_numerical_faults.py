"""Numerical faults: a NaN/inf loss stops training with a clear message, the MLflow run is marked
FAILED, and the last good checkpoint is never overwritten with broken weights (NonFiniteGuard)."""

from __future__ import annotations

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
    with pytest.raises(FloatingPointError, match=r"non-finite training loss (nan|inf) at step 15"):
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


class TinyRegression(LightningModule):
    def __init__(self, lr: float = 0.1) -> None:
        super().__init__()
        self.layer = torch.nn.Linear(4, 1)
        self.lr = lr

    def training_step(self, batch, batch_idx):
        x, y = batch
        return torch.nn.functional.mse_loss(self.layer(x), y)

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=self.lr)


def tiny_loader(scale: float = 1.0) -> DataLoader:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(32, 4, generator=g) * scale
    return DataLoader(TensorDataset(x, x.sum(1, keepdim=True)), batch_size=8)


def test_inf_gradient_is_refused_before_the_update(tmp_path):
    """Finite loss, infinite gradient (a huge input): the guard stops before the optimizer step."""
    module = TinyRegression()
    before = {k: v.clone() for k, v in module.state_dict().items()}
    trainer = Trainer(default_root_dir=tmp_path, max_steps=3, accelerator="cpu", logger=False,
                      enable_progress_bar=False, enable_model_summary=False, callbacks=[NonFiniteGuard()],
                      enable_checkpointing=False)
    with pytest.raises(FloatingPointError, match=r"non-finite gradient of `layer\.weight` at step 0; the update was not applied"):
        trainer.fit(module, tiny_loader(scale=1e30))
    for key, value in module.state_dict().items():
        assert torch.equal(value, before[key]), key


def test_checkpoint_with_non_finite_weights_is_not_written(tmp_path):
    module = TinyRegression()
    checkpoint = ModelCheckpoint(dirpath=tmp_path, save_last=True, every_n_train_steps=2)
    trainer = Trainer(default_root_dir=tmp_path, max_steps=6, accelerator="cpu", logger=False,
                      enable_progress_bar=False, enable_model_summary=False,
                      callbacks=[NonFiniteGuard(), PoisonWeightsAfterStep(at_step=4), checkpoint])
    with pytest.raises(FloatingPointError, match=r"weight `layer\.weight` is non-finite at step 4: checkpoint not written"):
        trainer.fit(module, tiny_loader())
    assert torch.load(tmp_path / "last.ckpt", map_location="cpu", weights_only=True)["global_step"] == 2
    assert all(finite_weights(p) for p in tmp_path.glob("*.ckpt"))
