"""The learning rules of Boopathy & Fiete (ICML 2022; docs/papers/align.md, section 2.1) as pure functions.

With f_t the current network, f_0 a frozen copy of it at initialisation and g = dL/df evaluated at
the current output f_t(x) (for MSE, the error e_t up to a constant), the update of a weight layer
W_l (SGD subtracts lr * update) is

- backprop:   delta^t_l (x) h^t_{l-1}(x)  with delta^t_l = J of the CURRENT network applied to g;
- align_zero: delta^0_l (x) h^0_{l-1}(x) = J_l(x; theta_0)^T g: a forward/backward pass of the FROZEN
  initial network on the same input; only g comes from the current network;
- align_ada:  delta^0_l (x) h^t_{l-1}(x): error transported through the frozen initial network
  (its W_0^T and activation derivatives phi'(z_0(x))), presynaptic activity from the CURRENT network.

The Align rules run the current network forward only (under `torch.no_grad`), then differentiate a
surrogate <f_0(x), g> with respect to detached copies of the frozen parameters (`functional_call`):
no autograd graph ever contains a current parameter, and the frozen network's own parameters
never change. Updates come back as {parameter name: tensor}, named as in the current network.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn
from torch.func import functional_call

from neurobolts.plugins.checks import check_choice

RULES = ("backprop", "align_zero", "align_ada")

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def check_rule(rule: str) -> str:
    return check_choice("rule", rule, RULES)


def backprop_gradient(
    net: nn.Module, x: torch.Tensor, target: torch.Tensor, loss_fn: LossFn
) -> tuple[torch.Tensor, torch.Tensor, dict[str, torch.Tensor]]:
    """(loss, output, dL/dparam) of the current network by backpropagation (`autograd.grad`, so
    no `.grad` field is written)."""
    names, params = zip(*net.named_parameters(), strict=True)
    with torch.enable_grad():
        out = net(x)
        loss = loss_fn(out, target)
        grads = torch.autograd.grad(loss, params)
    return loss.detach(), out.detach(), dict(zip(names, grads, strict=True))


def align_update(
    rule: str, net: nn.Module, frozen_net: nn.Module, x: torch.Tensor, target: torch.Tensor, loss_fn: LossFn
) -> tuple[torch.Tensor, torch.Tensor, dict[str, torch.Tensor]]:
    """(loss, output, update) of an Align rule; `frozen_net` is the network at initialisation
    (same architecture and parameter names as `net`)."""
    if check_rule(rule) == "backprop":
        raise ValueError("align_update computes the Align rules; use backprop_gradient for rule='backprop'")
    with torch.no_grad():
        out, layer_inputs = net(x, return_inputs=True)
    with torch.enable_grad():
        out_leaf = out.detach().requires_grad_(True)
        loss = loss_fn(out_leaf, target)
        (output_grad,) = torch.autograd.grad(loss, out_leaf)
        frozen = {n: p.detach().requires_grad_(True) for n, p in frozen_net.named_parameters()}
        weight_inputs = layer_inputs if rule == "align_ada" else None
        out_0 = functional_call(frozen_net, frozen, (x,), {"weight_inputs": weight_inputs})
        updates = torch.autograd.grad((out_0 * output_grad).sum(), list(frozen.values()))
    return loss.detach(), out, dict(zip(frozen, updates, strict=True))


def layer_cosines(
    update: dict[str, torch.Tensor], reference: dict[str, torch.Tensor], groups: list[list[str]]
) -> list[float]:
    """Cosine similarity between `update` and `reference` (e.g. the backprop gradient) per layer,
    each layer being the concatenation of the parameters named in its group; NaN where either is 0."""
    out = []
    for names in groups:
        a = torch.cat([update[n].reshape(-1) for n in names]).double()
        b = torch.cat([reference[n].reshape(-1) for n in names]).double()
        denominator = a.norm() * b.norm()
        out.append(float(a @ b / denominator) if denominator > 0 else float("nan"))
    return out


def relative_weight_change(net: nn.Module, frozen_net: nn.Module, groups: list[list[str]]) -> list[float]:
    """||theta_t - theta_0|| / ||theta_0|| per layer (NaN for a layer whose initial norm is 0)."""
    now, start = dict(net.named_parameters()), dict(frozen_net.named_parameters())
    out = []
    for names in groups:
        diff = torch.cat([(now[n] - start[n]).detach().reshape(-1) for n in names]).double()
        base = torch.cat([start[n].detach().reshape(-1) for n in names]).double()
        out.append(float(diff.norm() / base.norm()) if base.norm() > 0 else float("nan"))
    return out


def onehot_mse(out: torch.Tensor, labels: torch.Tensor, offset: float = 0.1) -> torch.Tensor:
    """Mean squared error against one-hot targets minus `offset` (the paper's loss), averaged over
    the batch and the classes."""
    if out.dim() != 2 or labels.shape != out.shape[:1]:
        raise ValueError(f"expected outputs (batch, classes) and labels (batch,), got {tuple(out.shape)} "
                         f"and {tuple(labels.shape)}")
    target = nn.functional.one_hot(labels, out.shape[1]).to(out.dtype) - offset
    return ((out - target) ** 2).mean()


def sequence_sse(out: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Squared error summed over time, averaged over sequences (the Add task's loss): outputs
    (batch, time, 1), targets (batch, time)."""
    if out.dim() != 3 or out.shape[-1] != 1 or target.shape != out.shape[:2]:
        raise ValueError(f"expected outputs (batch, time, 1) and targets (batch, time), got {tuple(out.shape)} "
                         f"and {tuple(target.shape)}")
    return ((out[..., 0] - target) ** 2).sum(dim=1).mean()
