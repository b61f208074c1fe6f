"""The project's progress bar (callbacks/reliability/step_progress_bar.py): "step 1200/3000" for a run
bounded by max_steps, Lightning's "Epoch 3/19" for one bounded by epochs."""

from __future__ import annotations

from types import SimpleNamespace

import lightning as L
import torch
from lightning.pytorch.callbacks import RichProgressBar
from torch.utils.data import DataLoader, TensorDataset

from neurobolts.callbacks.reliability.step_progress_bar import StepProgressBar


def described(bar, **trainer) -> str:
    """The training bar's label for a trainer with these settings (no terminal, no run)."""
    bar._trainer = SimpleNamespace(**trainer)
    return bar._get_train_description(trainer["current_epoch"]).rstrip()


def test_a_run_bounded_by_steps_counts_steps_and_one_bounded_by_epochs_counts_epochs():
    by_steps = {"max_steps": 3000, "max_epochs": -1, "global_step": 1200, "current_epoch": 187}
    assert described(RichProgressBar(), **by_steps) == "Epoch 187/-2"  # Lightning's label
    bar = StepProgressBar()
    assert described(bar, **by_steps) == "step 1200/3000"
    assert bar.total_train_batches == 3000  # one bar over the run
    assert described(bar, max_steps=-1, max_epochs=20, global_step=1200, current_epoch=3) == "Epoch 3/19"
    # both bounds: the epochs are meaningful, Lightning's label stays
    assert described(bar, max_steps=3000, max_epochs=20, global_step=1200, current_epoch=3) == "Epoch 3/19"
    assert described(bar, max_steps=-1, max_epochs=-1, global_step=1200, current_epoch=3) == "Epoch 3"


class Recording(StepProgressBar):
    """Records the training bar's (label, completed, total) after every training batch."""

    def __init__(self):
        super().__init__()
        self.seen: list[tuple[str, float, float]] = []

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        super().on_train_batch_end(trainer, pl_module, outputs, batch, batch_idx)
        task = self.progress.tasks[self.train_progress_bar_id]
        self.seen.append((str(task.description).rstrip(), task.completed, task.total))


class Tiny(L.LightningModule):
    def __init__(self):
        super().__init__()
        self.layer = torch.nn.Linear(1, 1)

    def training_step(self, batch, batch_idx):
        return self.layer(batch[0]).pow(2).mean()

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.01)

    def train_dataloader(self):
        return DataLoader(TensorDataset(torch.ones(4, 1)), batch_size=2)  # 2 batches an epoch


def run(**limits) -> list[tuple[str, float, float]]:
    bar = Recording()
    L.Trainer(accelerator="cpu", logger=False, enable_checkpointing=False, enable_model_summary=False,
              callbacks=[bar], **limits).fit(Tiny())
    return bar.seen


def test_the_bar_of_a_max_steps_run_fills_over_the_whole_run():
    seen = run(max_steps=5, max_epochs=-1)  # 3 epochs of 2 batches, stopped after 5 steps
    assert seen == [(f"step {k}/5", k, 5) for k in range(1, 6)]


def test_the_bar_of_an_epoch_run_is_lightnings():
    seen = run(max_epochs=2)
    assert seen == [("Epoch 0/1", 1, 2), ("Epoch 0/1", 2, 2), ("Epoch 1/1", 1, 2), ("Epoch 1/1", 2, 2)]


def test_a_fast_dev_run_of_an_experiment_runs_with_the_projects_bar(make_cfg):
    from neurobolts.plugins.pipeline import train

    cfg = make_cfg(["experiment=ibc_tasks", "debug=fdr", "logger=none",
                    "callbacks.inductive_bias_complexity=null"])
    assert cfg.callbacks.rich_progress_bar._target_.endswith("step_progress_bar.StepProgressBar")
    metrics, objects = train(cfg)
    (bar,) = [cb for cb in objects["trainer"].callbacks if isinstance(cb, RichProgressBar)]
    assert type(bar) is StepProgressBar and objects["trainer"].global_step == 1
    assert "val/acc" in metrics
