"""Backprop-free training of wide networks: Align-zero and Align-ada (Boopathy & Fiete, ICML 2022;
spec: docs/papers/align.md). The rules themselves are in rules.py, the networks in networks.py, the
figure in figures.py.

Manual optimisation: each step computes the chosen rule's update for every parameter of `net`,
places it in `.grad` and takes an optimiser step (plain SGD in the paper). `frozen_net`, a copy of
`net` at initialisation, supplies the Align rules' feedback path; it is saved in checkpoints and
never changes. Every `cosine_every_n_steps` steps the backprop gradient of the same batch is also
computed (for measurement only; it never enters the update) and its per-layer cosine with the
applied update is recorded; at each validation the mean since the previous one is logged as
`align/cos_layer<i>` (i from 1), with the relative weight change `align/weight_change_layer<i>`.

Networks: "mlp" (NTKMLP, classification: outputs (B, classes), labels; MSE against one-hot - 0.1;
`*/acc`) and "rnn" (NTKRNN, the Add task: outputs (B, T, 1), targets (B, T); squared error summed
over time; `*/loss_over_chance`, the loss over the input-blind predictor's sum_t Var(y_t)).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable

import torch
from lightning.pytorch import LightningModule

from neurobolts.datamodules.align.synthetic import add_task_chance_loss
from neurobolts.lightning_modules.align.figures import alignment_figure
from neurobolts.lightning_modules.align.networks import NTKMLP, NTKRNN
from neurobolts.lightning_modules.align.rules import (
    align_update,
    backprop_gradient,
    check_rule,
    layer_cosines,
    onehot_mse,
    relative_weight_change,
    sequence_sse,
)
from neurobolts.lightning_modules.common.optim import build_optimizers
from neurobolts.plugins.checks import check_choice, check_int, check_positive_int
from neurobolts.plugins.figures import log_figure

NETWORKS = ("mlp", "rnn")


class AlignModule(LightningModule):
    """Train an NTK network with rule = backprop | align_zero | align_ada.

    Args:
        optimizer: a partial optimizer taking the parameters (Hydra `_partial_: true`), e.g. SGD.
        input_dim, output_dim: the data's feature and output sizes (classes, or 1 for the Add task).
        rule: the learning rule.
        network: "mlp" (classification) or "rnn" (the Add task).
        width: hidden units (per hidden layer of the MLP; of the RNN's state).
        depth: hidden layers of the MLP (ignored by the RNN).
        activation: MLP nonlinearity, "relu" (the paper) or "tanh".
        target_offset: classification targets are one-hot minus this (the paper: 0.1).
        cosine_every_n_steps: how often to measure the update/backprop cosine (0: never).
    """

    def __init__(
        self, optimizer: Callable, input_dim: int, output_dim: int, rule: str = "align_ada", network: str = "mlp",
        width: int = 512, depth: int = 2, activation: str = "relu", target_offset: float = 0.1,
        cosine_every_n_steps: int = 10,
    ) -> None:
        super().__init__()
        check_rule(rule)
        check_choice("network", network, NETWORKS)
        check_int("cosine_every_n_steps", cosine_every_n_steps, 0)
        check_positive_int("width", width)  # checked here: the RNN calls it `hidden`
        self.save_hyperparameters(ignore=["optimizer"], logger=False)
        self.automatic_optimization = False
        if network == "mlp":
            self.net = NTKMLP(input_dim, output_dim, width, depth, activation)
        else:
            self.net = NTKRNN(input_dim, width, output_dim)
        self.frozen_net = copy.deepcopy(self.net).requires_grad_(False)
        self.optimizer_factory = optimizer
        self.layer_groups = self.net.layer_groups
        # per-layer cosines measured during training: plain lists (weights_only-safe checkpoints)
        self.alignment_history: dict[str, list] = {"step": [], "cos": []}
        self._cos_since_validation: list[list[float]] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def loss(self, out: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if self.hparams.network == "mlp":
            return onehot_mse(out, target, self.hparams.target_offset)
        return sequence_sse(out, target)

    # ---------------------------------------------------------------------------- training
    def training_step(self, batch, batch_idx: int) -> torch.Tensor:
        x, target = batch
        optimizer = self.optimizers()
        optimizer.zero_grad(set_to_none=True)
        rule = self.hparams.rule
        if rule == "backprop":
            out = self.net(x)
            loss = self.loss(out, target)
            self.manual_backward(loss)
            update = {n: p.grad for n, p in self.net.named_parameters()}
        else:
            loss, out, update = align_update(rule, self.net, self.frozen_net, x, target, self.loss)
            if self.trainer.world_size > 1:
                # under DDP, the backward of sum(p * update) (no path through the network) writes
                # `update` into p.grad and lets DDP's all-reduce average the ranks' updates into the
                # update of the global batch
                surrogate = sum((p * update[name]).sum() for name, p in self.net.named_parameters())
                self.manual_backward(surrogate)
                update = {n: p.grad for n, p in self.net.named_parameters()}
            else:
                for name, p in self.net.named_parameters():
                    p.grad = update[name]
        if not torch.isfinite(loss):
            raise FloatingPointError(f"non-finite training loss {loss.item()} at step {self.global_step} "
                                     f"(rule {rule}); lower the learning rate")
        every = self.hparams.cosine_every_n_steps
        if every and self.global_step % every == 0:
            if rule == "backprop":
                reference = update
            else:  # the backprop gradient of the global batch (a mean over ranks under DDP)
                local = backprop_gradient(self.net, x, target, self.loss)[2]
                reference = {n: self.trainer.strategy.reduce(g, reduce_op="mean") for n, g in local.items()}
            cosines = layer_cosines(update, reference, self.layer_groups)
            self._cos_since_validation.append(cosines)
            self.alignment_history["step"].append(int(self.global_step))
            self.alignment_history["cos"].append(cosines)
        optimizer.step()
        synced = self.trainer.world_size > 1
        self.log("train/loss", loss.detach(), on_step=True, on_epoch=False, prog_bar=True, sync_dist=synced)
        if self.hparams.network == "mlp":
            self.log("train/acc", (out.argmax(1) == target).float().mean(), on_step=True, on_epoch=False,
                     sync_dist=synced)
        return loss.detach()

    # -------------------------------------------------------------------------- evaluation
    def _evaluation_step(self, batch, prefix: str) -> None:
        x, target = batch
        out = self.net(x)
        n = x.shape[0]
        loss = self.loss(out, target)
        self.log(f"{prefix}/loss", loss, on_epoch=True, sync_dist=True, batch_size=n)
        if self.hparams.network == "mlp":
            self.log(f"{prefix}/acc", (out.argmax(1) == target).float().mean(), on_epoch=True,
                     sync_dist=True, batch_size=n, prog_bar=prefix == "val")
        else:
            chance = add_task_chance_loss(x.shape[1])
            self.log(f"{prefix}/loss_over_chance", loss / chance, on_epoch=True, sync_dist=True, batch_size=n)
            self.log(f"{prefix}/chance_loss", chance, on_epoch=True, sync_dist=True, batch_size=n)

    def validation_step(self, batch, batch_idx: int) -> None:
        self._evaluation_step(batch, "val")

    def test_step(self, batch, batch_idx: int) -> None:
        self._evaluation_step(batch, "test")

    def on_validation_epoch_end(self) -> None:
        if self.trainer.sanity_checking:
            return
        # identical on every rank (the weights and the cosines' reference are synchronised): sync_dist
        # takes the mean over ranks, which returns the value itself and tells Lightning it is global
        changes = relative_weight_change(self.net, self.frozen_net, self.layer_groups)
        for i, value in enumerate(changes, start=1):
            if not math.isnan(value):
                self.log(f"align/weight_change_layer{i}", value, sync_dist=True)
        if self._cos_since_validation:
            means = torch.tensor(self._cos_since_validation, dtype=torch.float64).nanmean(dim=0)
            for i, value in enumerate(means.tolist(), start=1):
                if not math.isnan(value):
                    self.log(f"align/cos_layer{i}", value, sync_dist=True)
            self._cos_since_validation = []
        self.log("step", float(self.global_step), sync_dist=True)

    def on_train_end(self) -> None:
        if self.trainer.is_global_zero and self.alignment_history["step"]:
            self._log_alignment_figure()

    def _log_alignment_figure(self) -> None:
        figure = alignment_figure(self.alignment_history, self.hparams.rule)
        log_figure(self.trainer, figure, "figures/alignment.png")

    # ---------------------------------------------------------------------- optimisation
    def configure_optimizers(self):
        return build_optimizers(self.net.parameters(), self.optimizer_factory)  # manual optimisation: no scheduler

    # ------------------------------------------------------------------------ checkpoints
    def on_save_checkpoint(self, checkpoint: dict) -> None:
        checkpoint["alignment_history"] = {"step": list(self.alignment_history["step"]),
                                           "cos": [list(c) for c in self.alignment_history["cos"]]}

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        if "alignment_history" in checkpoint:
            saved = checkpoint["alignment_history"]
            self.alignment_history = {"step": list(saved["step"]), "cos": [list(c) for c in saved["cos"]]}
