"""Recurrent networks on the flip-flop task (DSA case 1): vanilla tanh / ReLU RNN, GRU or LSTM.

The network is `cell` (torch nn.RNN / nn.GRU / nn.LSTM, batch first) followed by a linear readout;
trained with the mean squared error to the held bits. Metrics: `train/loss`, `val/loss`, `val/accuracy`
(fraction of time steps and bits whose output has the target's sign). `hidden_states(x)` gives the
(batch, time, hidden) trajectories that the DSA analysis compares; the recurrent module is `rnn`, so
`DynamicalSimilarity(layer="rnn")` attaches to it. `load_flip_flop_rnn(path)` rebuilds a trained network
from its Lightning checkpoint (e.g. every job of a multirun over cells and seeds, for the comparison in
benchmarks/dsa_flipflop.py).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path

import torch
from lightning.pytorch import LightningModule
from torch import nn
from torch.nn import functional as F

from neurobolts.lightning_modules.common.optim import build_optimizers
from neurobolts.plugins.checks import check_choice, check_positive_int

CELLS = ("rnn_tanh", "rnn_relu", "gru", "lstm")


def recurrent_layer(cell: str, input_size: int, hidden_size: int) -> nn.Module:
    check_choice("cell", cell, CELLS)
    if cell.startswith("rnn_"):
        return nn.RNN(input_size, hidden_size, nonlinearity=cell[4:], batch_first=True)
    return (nn.GRU if cell == "gru" else nn.LSTM)(input_size, hidden_size, batch_first=True)


class FlipFlopRNN(LightningModule):
    """A recurrent network trained on the n-bit flip-flop task (readout of its hidden states).

    Args:
        cell: the recurrent cell, one of CELLS.
        hidden_size: hidden units.
        n_bits: input channels = output bits.
        optimizer: partial taking the parameters (default Adam 1e-3).
        scheduler: optional partial taking the optimizer, stepped every step.
    """

    def __init__(self, cell: str = "gru", hidden_size: int = 64, n_bits: int = 3,
                 optimizer: Callable | None = None, scheduler: Callable | None = None) -> None:
        super().__init__()
        check_positive_int("hidden_size", hidden_size)
        self.save_hyperparameters(ignore=["optimizer", "scheduler"], logger=False)
        self.rnn = recurrent_layer(cell, n_bits, hidden_size)
        self.readout = nn.Linear(hidden_size, n_bits)
        self.optimizer_factory = optimizer
        self.scheduler_factory = scheduler

    def hidden_states(self, x: torch.Tensor) -> torch.Tensor:
        return self.rnn(x)[0]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.readout(self.hidden_states(x))

    def training_step(self, batch, batch_idx: int) -> torch.Tensor:
        x, y = batch
        loss = F.mse_loss(self(x), y)
        if not torch.isfinite(loss):
            raise FloatingPointError(f"non-finite training loss {loss.item()} at step {self.global_step}")
        self.log("train/loss", loss, on_step=True, on_epoch=False, prog_bar=True, sync_dist=self.trainer.world_size > 1)
        return loss

    def validation_step(self, batch, batch_idx: int) -> None:
        x, y = batch
        out = self(x)
        self.log("val/loss", F.mse_loss(out, y), sync_dist=True, batch_size=x.shape[0])
        self.log("val/accuracy", (torch.sign(out) == y).float().mean(), sync_dist=True, batch_size=x.shape[0])

    def test_step(self, batch, batch_idx: int) -> None:
        x, y = batch
        out = self(x)
        self.log("test/loss", F.mse_loss(out, y), sync_dist=True, batch_size=x.shape[0])
        self.log("test/accuracy", (torch.sign(out) == y).float().mean(), sync_dist=True, batch_size=x.shape[0])

    def configure_optimizers(self):
        return build_optimizers(self.parameters(), self.optimizer_factory, self.scheduler_factory,
                                default=functools.partial(torch.optim.Adam, lr=1e-3))


def load_flip_flop_rnn(checkpoint_path) -> FlipFlopRNN:
    """A FlipFlopRNN in eval mode on CPU, rebuilt from a Lightning checkpoint's hyper-parameters (cell,
    hidden_size, n_bits) and weights (loaded with weights_only=True)."""
    path = Path(checkpoint_path)
    if not path.is_file():
        raise ValueError(f"checkpoint_path={str(path)!r} is not a file")
    checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    hparams = checkpoint.get("hyper_parameters")
    if not hparams or "cell" not in hparams:
        raise ValueError(f"{str(path)!r} holds no FlipFlopRNN hyper-parameters (cell, hidden_size, n_bits); "
                         f"got {sorted(hparams or {})}")
    model = FlipFlopRNN(cell=hparams["cell"], hidden_size=int(hparams.get("hidden_size", 64)),
                        n_bits=int(hparams.get("n_bits", 3)))
    model.load_state_dict(checkpoint["state_dict"])
    return model.eval()
