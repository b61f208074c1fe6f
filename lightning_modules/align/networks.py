"""NTK-parameterised networks for the Align rules (docs/papers/align.md, section 2.2).

Weights ~ N(0, 1), biases 0, every pre-activation z = W h / sqrt(fan_in) + b. Each network's
`forward(x, weight_inputs=None, return_inputs=False)`:
- with `return_inputs=True` also returns the input of every weight layer (what `weight_inputs`
  accepts back);
- with `weight_inputs` given, every layer computes its usual value from its own input, but the
  gradient w.r.t. its weight uses the given input instead (`ntk_linear`). Running the frozen initial
  network with the current network's layer inputs is Align-ada: error transported through the
  initial weights and activation derivatives, presynaptic activity from the current network.
`layer_groups` lists the parameter names of each layer (the per-layer cosine metric's unit).
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from neurobolts.plugins.checks import check_choice, check_positive_int

ACTIVATIONS = {"relu": F.relu, "tanh": torch.tanh}


def ntk_linear(
    h: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None, h_weight: torch.Tensor | None = None
) -> torch.Tensor:
    """z = weight @ h / sqrt(fan_in) + bias over the last axis of h.

    If `h_weight` is given, z keeps exactly this value and its gradient w.r.t. h (weight^T delta),
    but its gradient w.r.t. `weight` is delta h_weight^T / sqrt(fan_in) instead of delta h^T / sqrt(fan_in).
    """
    scale = 1.0 / math.sqrt(weight.shape[1])
    if h_weight is None:
        z = F.linear(h, weight) * scale
    else:
        z_weight = F.linear(h_weight.detach(), weight) * scale
        z = F.linear(h, weight.detach()) * scale + (z_weight - z_weight.detach())
    return z if bias is None else z + bias



class NTKLinear(nn.Module):
    """A weight layer in NTK parameterisation (weight ~ N(0, 1), bias = 0)."""

    def __init__(self, in_features: int, out_features: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_features, in_features))
        self.bias = nn.Parameter(torch.zeros(out_features))

    def forward(self, h: torch.Tensor, h_weight: torch.Tensor | None = None) -> torch.Tensor:
        return ntk_linear(h, self.weight, self.bias, h_weight)


class NTKMLP(nn.Module):
    """MLP input_dim -> width x depth hidden layers -> output_dim (depth + 1 weight layers).

    Args:
        input_dim, output_dim: sizes of the (flattened) input and of the output.
        width: hidden units per hidden layer.
        depth: number of hidden layers (>= 1).
        activation: "relu" (the paper) or "tanh".
    """

    def __init__(self, input_dim: int, output_dim: int, width: int = 512, depth: int = 2,
                 activation: str = "relu") -> None:
        super().__init__()
        for name, value in (("input_dim", input_dim), ("output_dim", output_dim), ("width", width), ("depth", depth)):
            check_positive_int(name, value)
        check_choice("activation", activation, tuple(ACTIVATIONS))
        sizes = [input_dim] + [width] * depth + [output_dim]
        self.layers = nn.ModuleList(NTKLinear(a, b) for a, b in zip(sizes[:-1], sizes[1:], strict=True))
        self.activation = ACTIVATIONS[activation]
        self.input_dim = input_dim

    @property
    def layer_groups(self) -> list[list[str]]:
        return [[f"layers.{i}.weight", f"layers.{i}.bias"] for i in range(len(self.layers))]

    def forward(self, x: torch.Tensor, weight_inputs: list[torch.Tensor] | None = None, return_inputs: bool = False):
        h = x.reshape(x.shape[0], -1)
        if h.shape[1] != self.input_dim:
            raise ValueError(f"NTKMLP expects inputs with {self.input_dim} features, got shape {tuple(x.shape)}")
        inputs = []
        last = len(self.layers) - 1
        for i, layer in enumerate(self.layers):
            inputs.append(h)
            z = layer(h, None if weight_inputs is None else weight_inputs[i])
            h = z if i == last else self.activation(z)
        return (h, inputs) if return_inputs else h


class NTKRNN(nn.Module):
    """Elman ReLU RNN of the Add task: h_t = ReLU(W_ih x_t + W_hh h_{t-1} / sqrt(n) + b),
    out_t = W_ho h_t / sqrt(n) + b_o, from a trained initial state h_0 (zeros at initialisation).

    Input (B, T, input_dim), output (B, T, output_dim). Layers (for the per-layer metrics):
    1 input (W_ih, b), 2 recurrent (W_hh), 3 readout (W_ho, b_o), 4 initial state (h_0).
    """

    def __init__(self, input_dim: int = 1, hidden: int = 256, output_dim: int = 1) -> None:
        super().__init__()
        for name, value in (("input_dim", input_dim), ("hidden", hidden), ("output_dim", output_dim)):
            check_positive_int(name, value)
        self.w_ih = nn.Parameter(torch.randn(hidden, input_dim))
        self.w_hh = nn.Parameter(torch.randn(hidden, hidden))
        self.bias = nn.Parameter(torch.zeros(hidden))
        self.w_ho = nn.Parameter(torch.randn(output_dim, hidden))
        self.b_o = nn.Parameter(torch.zeros(output_dim))
        self.h0 = nn.Parameter(torch.zeros(hidden))
        self.input_dim = input_dim

    @property
    def layer_groups(self) -> list[list[str]]:
        return [["w_ih", "bias"], ["w_hh"], ["w_ho", "b_o"], ["h0"]]

    def forward(self, x: torch.Tensor, weight_inputs: dict[str, torch.Tensor] | None = None,
                return_inputs: bool = False):
        if x.dim() != 3 or x.shape[-1] != self.input_dim:
            raise ValueError(f"NTKRNN expects inputs (batch, time, {self.input_dim}), got shape {tuple(x.shape)}")
        h = self.h0.expand(x.shape[0], -1)
        previous, states = [], []
        for t in range(x.shape[1]):
            previous.append(h)
            h_weight = None if weight_inputs is None else weight_inputs["hh"][:, t]
            h = F.relu(ntk_linear(x[:, t], self.w_ih, self.bias) + ntk_linear(h, self.w_hh, None, h_weight))
            states.append(h)
        states = torch.stack(states, dim=1)
        out = ntk_linear(states, self.w_ho, self.b_o, None if weight_inputs is None else weight_inputs["ho"])
        return (out, {"hh": torch.stack(previous, dim=1), "ho": states}) if return_inputs else out
