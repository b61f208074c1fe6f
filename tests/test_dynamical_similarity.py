"""DynamicalSimilarity callback on an external RNN defined here (no neurobolts module involved)."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from lightning.pytorch import LightningModule, Trainer
from lightning.pytorch.callbacks import ModelCheckpoint
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from neurobolts.callbacks import DynamicalSimilarity
from neurobolts.callbacks.dsa.embedding import classical_mds


class TinyRNN(LightningModule):
    """A user's model: a vanilla RNN integrating its input, trained to output the running sum."""

    def __init__(self, lr: float = 0.05) -> None:
        super().__init__()
        self.rnn = nn.RNN(2, 12, batch_first=True)
        self.readout = nn.Linear(12, 2)
        self.lr = lr

    def forward(self, x):
        return self.readout(self.rnn(x)[0])

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = nn.functional.mse_loss(self(x), y)
        self.log("train/loss", loss)
        return loss

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=self.lr)


def loader() -> DataLoader:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(32, 25, 2, generator=g) * 0.3
    return DataLoader(TensorDataset(x, x.cumsum(1) * 0.2), batch_size=16)


PROBE = torch.randn(6, 40, 2, generator=torch.Generator().manual_seed(1)) * 0.3


def trainer(tmp_path, epochs: int, callbacks: list) -> Trainer:
    return Trainer(default_root_dir=tmp_path, max_epochs=epochs, accelerator="cpu", logger=False,
                   enable_progress_bar=False, enable_model_summary=False, callbacks=callbacks)


def make_callback(**kwargs) -> DynamicalSimilarity:
    return DynamicalSimilarity(**{"layer": "rnn", "probe": PROBE, "n_delays": 2, "rank": 8, **kwargs})


def test_logs_distances_and_writes_the_matrix_and_figure(tmp_path):
    torch.manual_seed(0)
    model = TinyRNN()
    callback = make_callback(reference=copy.deepcopy(model))
    trainer(tmp_path, 3, [callback]).fit(model, loader())
    assert callback.snapshots == [0, 1, 2, 3]
    metrics = callback.history
    assert all(v > 0 for v in metrics["to_previous"][1:])
    # snapshot 0 is the reference itself: identical operators, where the identity start of the alignment
    # has residual 0 and the residual (not the flat objective) picks the result. 1e-12 admits rounding
    # in the operators (~1e-15), not the optimiser's ~1e-8 error in C that a sqrt(2 - 2 cos) would show
    assert metrics["to_reference"][0] < 1e-12
    D = callback.distance_matrix.numpy()
    assert D.shape == (5, 5) and np.allclose(D, D.T) and np.all(np.diag(D) == 0)
    assert abs(D[3, 4] - metrics["to_reference"][3]) < 1e-9  # matrix agrees with the logged value
    assert (tmp_path / "figures" / "dsa" / "distances.png").is_file()
    csv = (tmp_path / "figures" / "dsa" / "distances.csv").read_text().splitlines()
    assert csv[0] == "snapshot,0,1,2,3,ref" and len(csv) == 6


def test_unchanged_weights_give_zero_and_metrics_are_logged(tmp_path):
    torch.manual_seed(0)
    model = TinyRNN(lr=0.0)
    callback = make_callback(reference=copy.deepcopy(model), every_n_epochs=2)
    fit = trainer(tmp_path, 2, [callback])
    fit.fit(model, loader())
    assert callback.snapshots == [0, 2]
    # identical systems: exactly the identity start's residual (see the test above for the bound)
    assert float(fit.callback_metrics["dsa/to_previous"]) < 1e-12
    assert float(fit.callback_metrics["dsa/to_reference"]) < 1e-12
    assert float(fit.callback_metrics["dsa/rank"]) == 8.0


def test_state_fn_and_checkpoint_reference_and_resume(tmp_path):
    torch.manual_seed(0)
    model = TinyRNN()
    checkpoint = ModelCheckpoint(dirpath=tmp_path / "ckpt", save_last=True)
    first = make_callback(layer=None, state_fn=lambda module, x: module.rnn(x)[0], score_method="euclidean")
    trainer(tmp_path, 1, [first, checkpoint]).fit(model, loader())
    last = tmp_path / "ckpt" / "last.ckpt"
    state = torch.load(last, weights_only=True)["callbacks"][first.state_key]
    assert state["snapshots"] == [0, 1]

    resumed_cb = make_callback(layer=None, state_fn=lambda module, x: module.rnn(x)[0], score_method="euclidean",
                               reference=last)
    resumed = trainer(tmp_path, 2, [resumed_cb])
    resumed.fit(TinyRNN(), loader(), ckpt_path=last, weights_only=True)
    assert resumed_cb.snapshots == [0, 1, 2]  # restored, not re-measured
    assert resumed_cb.history["to_reference"][-1] > 0
    assert 0 < float(resumed.callback_metrics["dsa/to_previous"]) <= 2


def test_bad_arguments_raise(tmp_path):
    with pytest.raises(ValueError, match="exactly one of layer or state_fn"):
        DynamicalSimilarity(layer="rnn", state_fn=lambda m, x: x, probe=PROBE)
    with pytest.raises(ValueError, match="every_n_epochs must be an integer >= 1"):
        DynamicalSimilarity(layer="rnn", probe=PROBE, every_n_epochs=0)
    with pytest.raises(ValueError, match="score_method must be one of"):
        DynamicalSimilarity(layer="rnn", probe=PROBE, score_method="cka")
    with pytest.raises(ValueError, match="layer='lstm' is not a submodule"):
        trainer(tmp_path, 1, [make_callback(layer="lstm")]).fit(TinyRNN(), loader())


class TinyMLP(LightningModule):
    """A feed-forward model: its layers' outputs are (batch, units), no time series."""

    def __init__(self) -> None:
        super().__init__()
        self.hidden = nn.Linear(2, 12)
        self.readout = nn.Linear(12, 2)

    def forward(self, x):
        return self.readout(torch.tanh(self.hidden(x)))

    def training_step(self, batch, batch_idx):
        x, y = batch
        return nn.functional.mse_loss(self(x), y)

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.05)


def test_a_layer_whose_output_is_not_a_time_series_is_refused(tmp_path):
    """Issue 20 item 3: on a feed-forward layer DSA used to run and log a meaningless score."""
    x = torch.randn(32, 2, generator=torch.Generator().manual_seed(0))
    data = DataLoader(TensorDataset(x, x * 0.5), batch_size=16)
    callback = DynamicalSimilarity(layer="hidden", probe=x[:6], n_delays=2, rank=4)
    with pytest.raises(ValueError, match=r"layer 'hidden' returned a tensor of shape \(6, 12\), not a time series"):
        trainer(tmp_path, 1, [callback]).fit(TinyMLP(), data)


def test_classical_mds_recovers_planar_points():
    points = np.random.default_rng(0).standard_normal((7, 2))
    distances = np.linalg.norm(points[:, None] - points[None], axis=-1)
    coords = classical_mds(distances)
    assert np.allclose(np.linalg.norm(coords[:, None] - coords[None], axis=-1), distances, atol=1e-9)


@pytest.mark.slow
def test_two_process_ddp_run_records_the_same_snapshots(tmp_path):
    """ddp_fork on 2 CPU processes: no collective in the callback, so nothing hangs; the state saved by
    rank zero holds every snapshot (the parent's callback object is not updated under fork)."""
    torch.manual_seed(0)
    callback = make_callback()
    checkpoint = ModelCheckpoint(dirpath=tmp_path / "ckpt", save_last=True)
    ddp = Trainer(default_root_dir=tmp_path, max_epochs=2, accelerator="cpu", devices=2, strategy="ddp_fork",
                  logger=False, enable_progress_bar=False, enable_model_summary=False,
                  callbacks=[callback, checkpoint])
    ddp.fit(TinyRNN(), loader())
    state = torch.load(tmp_path / "ckpt" / "last.ckpt", weights_only=True)["callbacks"][callback.state_key]
    assert state["snapshots"] == [0, 1, 2]
    assert all(v > 0 for v in state["history"]["to_previous"][1:])
    assert (tmp_path / "figures" / "dsa" / "distances.png").is_file()
