"""Checkpoint file names carry the step of the metrics logged with them (LoggedStepCheckpoint,
callbacks/reliability/logged_step_checkpoint.py): Lightning's loggers put a validation's metrics at the
batch counter (global step - 1) while Lightning's ModelCheckpoint names the file with the global step."""

from __future__ import annotations

import csv
from pathlib import Path

import lightning as L
import torch
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.loggers import CSVLogger
from torch.utils.data import DataLoader, TensorDataset

from neurobolts.callbacks.reliability.logged_step_checkpoint import (
    LoggedStepCheckpoint,
    checkpoint_logged_step,
    weights_logged_step,
)

PEAK = 6  # the validation score is highest at global step 6


class Scored(L.LightningModule):
    """Validation score -(global_step - 6)^2: the best checkpoint is the one of global step 6.
    `log_step`: also log `step` = global step in validation, as diffusion_bumps and align do."""

    def __init__(self, log_step: bool = False):
        super().__init__()
        self.layer = torch.nn.Linear(1, 1)
        self.log_step = log_step

    def training_step(self, batch, batch_idx):
        loss = self.layer(batch[0]).pow(2).mean()
        self.log("train/loss", loss)
        return loss

    def validation_step(self, batch, batch_idx):
        self.log("val/score", -float((self.global_step - PEAK) ** 2))
        self.log("val/score_copy", -float((self.global_step - PEAK) ** 2))  # monitored by Lightning's own
        if self.log_step:
            self.log("step", float(self.global_step))

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.01)

    def train_dataloader(self):
        return DataLoader(TensorDataset(torch.ones(24, 1)), batch_size=1)

    def val_dataloader(self):
        return DataLoader(TensorDataset(torch.ones(1, 1)), batch_size=1)


def checkpointers(folder: Path) -> list[ModelCheckpoint]:
    """The project's two checkpointers (configs/callbacks/model_checkpoint.yaml) and Lightning's own (on a
    copy of the score: two checkpointers with the same settings would share a state key)."""
    common = {"dirpath": folder, "auto_insert_metric_name": False, "save_on_train_epoch_end": False}
    return [LoggedStepCheckpoint(filename="best_step{step:06d}", monitor="val/score", mode="max", save_top_k=1,
                                 **common),
            LoggedStepCheckpoint(filename="latest_step{step:06d}", save_top_k=1, save_last=True, **common),
            ModelCheckpoint(filename="lightning_step{step:06d}", monitor="val/score_copy", mode="max", save_top_k=1,
                            **common)]


def fit(tmp_path: Path, module: Scored, max_steps: int, ckpt_path: str | None = None) -> L.Trainer:
    trainer = L.Trainer(max_steps=max_steps, val_check_interval=3, accelerator="cpu", num_sanity_val_steps=0,
                        logger=CSVLogger(tmp_path, name="csv", version=0), log_every_n_steps=1,
                        callbacks=checkpointers(tmp_path / "checkpoints"), enable_progress_bar=False,
                        enable_model_summary=False)
    trainer.fit(module, ckpt_path=ckpt_path)
    return trainer


def logged(tmp_path: Path, key: str) -> dict[int, float]:
    rows = csv.DictReader(open(tmp_path / "csv" / "version_0" / "metrics.csv"))
    return {int(r["step"]): float(r[key]) for r in rows if r.get(key)}


def best_score(path: Path) -> float:
    states = torch.load(path, map_location="cpu", weights_only=True)["callbacks"]
    (state,) = [s for k, s in states.items() if "'monitor': 'val/score'" in k]
    return float(state["best_model_score"])


def names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.glob("*.ckpt"))


def test_the_best_checkpoint_is_named_with_the_step_its_validation_was_logged_at(tmp_path):
    trainer = fit(tmp_path, Scored(), max_steps=9)
    scores = logged(tmp_path, "val/score")
    assert sorted(scores) == [2, 5, 8]  # validations after global steps 3, 6, 9
    folder = tmp_path / "checkpoints"
    # Lightning's own names the validation logged at step 5 "step 6"; the project's names it 5
    assert names(folder) == ["best_step000005.ckpt", "last.ckpt", "latest_step000008.ckpt",
                             "lightning_step000006.ckpt"]
    best = folder / "best_step000005.ckpt"
    assert best_score(best) == scores[5] == max(scores.values())
    stored = torch.load(best, map_location="cpu", weights_only=True)
    assert stored["global_step"] == PEAK and stored["logged_step"] == 5
    assert checkpoint_logged_step(best) == 5
    assert checkpoint_logged_step(folder / "lightning_step000006.ckpt") == 5  # written while ours was attached
    assert checkpoint_logged_step(folder / "last.ckpt") == 8 and weights_logged_step(trainer) == 8


def test_a_step_the_module_logs_itself_names_the_checkpoint(tmp_path):
    fit(tmp_path, Scored(log_step=True), max_steps=9)
    scores = logged(tmp_path, "val/score")
    assert sorted(scores) == [3, 6, 9]  # the loggers use the logged step
    folder = tmp_path / "checkpoints"
    assert "best_step000006.ckpt" in names(folder) and "latest_step000009.ckpt" in names(folder)
    assert best_score(folder / "best_step000006.ckpt") == scores[6]


def test_checkpoints_written_after_training_batches_carry_the_training_metrics_step(tmp_path):
    checkpoint = LoggedStepCheckpoint(dirpath=tmp_path / "checkpoints", filename="every_step{step:06d}",
                                      every_n_train_steps=4, save_top_k=-1, auto_insert_metric_name=False)
    trainer = L.Trainer(max_steps=8, accelerator="cpu", limit_val_batches=0, logger=CSVLogger(tmp_path, name="csv",
                        version=0), log_every_n_steps=1, callbacks=[checkpoint], enable_progress_bar=False,
                        enable_model_summary=False)
    trainer.fit(Scored())
    assert sorted(logged(tmp_path, "train/loss")) == list(range(8))
    # saved after global steps 4 and 8, whose training losses were logged at steps 3 and 7
    assert names(tmp_path / "checkpoints") == ["every_step000003.ckpt", "every_step000007.ckpt"]


def test_resuming_keeps_the_best_checkpoint_and_the_state_key_of_model_checkpoint(tmp_path):
    fit(tmp_path, Scored(), max_steps=9)
    resumed = fit(tmp_path, Scored(), max_steps=15, ckpt_path=str(tmp_path / "checkpoints" / "last.ckpt"))
    assert sorted(logged(tmp_path, "val/score")) == [11, 14]  # the resumed run's validations (its CSV file)
    folder = tmp_path / "checkpoints"
    # the restored best score (0 at step 5) still wins over the resumed run's validations (-36, -81)
    assert Path(resumed.checkpoint_callback.best_model_path).name == "best_step000005.ckpt"
    assert [n for n in names(folder) if n.startswith(("best", "latest"))] == ["best_step000005.ckpt",
                                                                             "latest_step000014.ckpt"]
    ours, plain = checkpointers(folder)[0], ModelCheckpoint(dirpath=folder, monitor="val/score", mode="max")
    assert ours.state_key == plain.state_key  # checkpoints resume across the two classes


def test_the_pipeline_tests_the_best_checkpoint_and_reports_its_logged_step(make_cfg, tmp_path):
    from neurobolts.plugins.pipeline import train

    cfg = make_cfg(["experiment=ibc_tasks", "trainer.max_steps=20", "trainer.val_check_interval=10", "logger=csv",
                    "callbacks.inductive_bias_complexity=null", "callbacks.rich_progress_bar=null",
                    "trainer.enable_progress_bar=false", "test_ckpt=best"])
    metrics, objects = train(cfg)
    checkpoint = objects["trainer"].checkpoint_callback
    assert isinstance(checkpoint, LoggedStepCheckpoint) and checkpoint.mode == "max"
    best = Path(checkpoint.best_model_path)
    step = int(best.stem.removeprefix("best_step"))
    assert metrics["test/checkpoint_step"] == step
    rows = list(csv.DictReader(open(tmp_path / "output" / "csv" / "version_0" / "metrics.csv")))
    monitored = {int(r["step"]): float(r[checkpoint.monitor]) for r in rows if r.get(checkpoint.monitor)}
    assert len(monitored) == 2 and step in monitored and monitored[step] == max(monitored.values())
    states = torch.load(best, map_location="cpu", weights_only=True)["callbacks"]
    (state,) = [s for k, s in states.items() if f"'monitor': '{checkpoint.monitor}'" in k]
    assert float(state["best_model_score"]) == monitored[step]
