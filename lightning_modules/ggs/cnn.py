"""The GGS fitness model (docs/papers/ggs.md section 2.3): `BaseCNN`, its LightningModule
`FitnessRegressor` and `predict_fitness` for batched inference.

`BaseCNN`: one-hot (L x 20) -> Conv1d(20 -> 256, kernel 5, no padding, no activation) -> per-position
Linear(256 -> 512) + ReLU -> max-pool over the length -> Linear(512 -> 1). 157,953 parameters at every
length L >= 5 (the paper's "157,000"; spec section 7 item 3). It accepts integer tokens (n, L) or a
float one-hot (n, L, 20), the second so that the Gibbs-with-gradients sampler can differentiate the
prediction with respect to the one-hot (spec 2.5). The same network is the predictor, the smoothed
predictor (retrained on the smoothed labels of smoothing.py) and the oracle.

`FitnessRegressor` trains it with the mean squared error and Adam (lr 1e-4, weight_decay 1e-4 as an L2
term, not AdamW; betas (0.9, 0.999)) unless the config gives another optimiser. Batches are
`(tokens (B, L) long, targets (B,) float)`. Logged: `train/loss` (epoch mean, synced over ranks);
`val/loss`, `val/mae`, `val/spearman` (torchmetrics objects, so DDP gathers the whole validation set
before Spearman's rank correlation is taken). `predict_step` returns the predictions (B,).
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import torch
from lightning.pytorch import LightningModule
from torch import nn
from torch.nn import functional as F
from torchmetrics import MeanAbsoluteError, SpearmanCorrCoef

from neurobolts.lightning_modules.common.optim import build_optimizers
from neurobolts.plugins.checks import check_int, check_positive_int


class BaseCNN(nn.Module):
    """The GGS CNN (spec 2.3). `forward(x)` takes integer tokens (n, L) in [0, num_states) or a float
    one-hot (n, L, num_states) and returns the predictions (n,); L must be >= kernel_size."""

    def __init__(self, num_states: int = 20, channels: int = 256, kernel_size: int = 5,
                 hidden: int = 512) -> None:
        super().__init__()
        self.num_states = check_int("num_states", num_states, 2)
        self.kernel_size = check_positive_int("kernel_size", kernel_size)
        check_positive_int("channels", channels)
        check_positive_int("hidden", hidden)
        self.conv = nn.Conv1d(num_states, channels, kernel_size, padding=0)
        self.dense = nn.Linear(channels, hidden)
        self.readout = nn.Linear(hidden, 1)

    def one_hot(self, tokens: torch.Tensor) -> torch.Tensor:
        """Float one-hot (n, L, num_states) of integer tokens (n, L), checking the token range."""
        if tokens.numel() and (int(tokens.min()) < 0 or int(tokens.max()) >= self.num_states):
            raise ValueError(f"tokens must lie in [0, {self.num_states - 1}] (num_states={self.num_states}), "
                             f"got values in [{int(tokens.min())}, {int(tokens.max())}]")
        return F.one_hot(tokens.long(), self.num_states).to(self.conv.weight.dtype)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.is_floating_point():
            if x.dim() != 3 or x.shape[-1] != self.num_states:
                raise ValueError(f"a float input must be a one-hot (n, L, {self.num_states}), got shape "
                                 f"{tuple(x.shape)}")
            features = x
        else:
            if x.dim() != 2:
                raise ValueError(f"integer tokens must have shape (n, L), got shape {tuple(x.shape)}")
            features = self.one_hot(x)
        length = features.shape[1]
        if length < self.kernel_size:
            raise ValueError(f"sequence length must be >= kernel_size={self.kernel_size} (the convolution "
                             f"has no padding), got length {length}")
        h = self.conv(features.transpose(1, 2)).transpose(1, 2)  # (n, L - k + 1, channels), no activation
        h = torch.relu(self.dense(h))  # per position
        return self.readout(h.amax(dim=1)).squeeze(-1)


class FitnessRegressor(LightningModule):
    """MSE regression of fitness with a BaseCNN (spec 2.3).

    Args:
        num_states: alphabet size (the BaseCNN's).
        channels: convolution channels (the BaseCNN's).
        kernel_size: convolution width (the BaseCNN's).
        hidden: hidden units of the dense head (the BaseCNN's).
        optimizer: a partial taking the parameters (default Adam lr 1e-4, weight_decay 1e-4,
            betas (0.9, 0.999)).
        scheduler: optional partial taking the optimiser, stepped every step.
    """

    def __init__(self, num_states: int = 20, channels: int = 256, kernel_size: int = 5, hidden: int = 512,
                 optimizer: Callable | None = None, scheduler: Callable | None = None) -> None:
        super().__init__()
        self.save_hyperparameters(ignore=["optimizer", "scheduler"], logger=False)
        self.net = BaseCNN(num_states, channels, kernel_size, hidden)
        self.optimizer_factory = optimizer
        self.scheduler_factory = scheduler
        self.val_mae = MeanAbsoluteError()
        self.val_spearman = SpearmanCorrCoef()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def training_step(self, batch, batch_idx: int) -> torch.Tensor:
        tokens, targets = batch
        loss = F.mse_loss(self(tokens), targets.float())
        if not torch.isfinite(loss):
            raise FloatingPointError(f"non-finite training loss {loss.item()} at step {self.global_step}")
        self.log("train/loss", loss, on_step=False, on_epoch=True, prog_bar=True, sync_dist=True,
                 batch_size=len(targets))
        return loss

    def validation_step(self, batch, batch_idx: int) -> None:
        tokens, targets = batch
        targets = targets.float()
        predictions = self(tokens)
        self.val_mae(predictions, targets)
        self.val_spearman(predictions, targets)
        kwargs = {"on_step": False, "on_epoch": True, "batch_size": len(targets)}
        self.log("val/loss", F.mse_loss(predictions, targets), sync_dist=True, prog_bar=True, **kwargs)
        self.log("val/mae", self.val_mae, **kwargs)
        self.log("val/spearman", self.val_spearman, **kwargs)

    def predict_step(self, batch, batch_idx: int, dataloader_idx: int = 0) -> torch.Tensor:
        tokens = batch[0] if isinstance(batch, (tuple, list)) else batch
        return self(tokens)

    def configure_optimizers(self):
        return build_optimizers(self.parameters(), self.optimizer_factory, self.scheduler_factory,
                                default=functools.partial(torch.optim.Adam, lr=1e-4, weight_decay=1e-4,
                                                          betas=(0.9, 0.999)))


@torch.no_grad()
def predict_fitness(model: nn.Module, tokens: torch.Tensor, batch_size: int = 4096) -> torch.Tensor:
    """Predictions (n,) of `model` (a BaseCNN or FitnessRegressor) for integer tokens (n, L): in eval
    mode, without gradients, in batches on the model's device; returned as a float32 CPU tensor. The
    model's train/eval mode is restored afterwards."""
    check_positive_int("batch_size", batch_size)
    if tokens.dim() != 2:
        raise ValueError(f"tokens must have shape (n, L), got shape {tuple(tokens.shape)}")
    parameter = next(model.parameters(), None)
    device = parameter.device if parameter is not None else torch.device("cpu")
    was_training = model.training
    model.eval()
    try:
        out = [model(tokens[start:start + batch_size].to(device)).float().cpu()
               for start in range(0, len(tokens), batch_size)]
    finally:
        model.train(was_training)
    return torch.cat(out) if out else torch.empty(0)
