"""The one probe-capture helper of the analysis callbacks: hook, eval mode, no_grad, restore."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from neurobolts.callbacks.common.probe import capture


class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.rnn = nn.RNN(2, 4, batch_first=True)
        self.drop = nn.Dropout(0.5)
        self.head = nn.Linear(4, 1)

    def forward(self, x):
        return self.head(self.drop(self.rnn(x)[0]))


def test_captures_the_layer_in_eval_mode_without_grad_and_restores_everything():
    net = Net().train()
    x = torch.randn(3, 5, 2)
    states = capture(net, x, layer="rnn")
    assert states.shape == (3, 5, 4) and not states.requires_grad  # first element of the RNN's tuple
    assert torch.equal(capture(net, x, layer="drop"), capture(net, x, layer="drop"))  # dropout off: eval
    assert net.training and not net.rnn._forward_hooks
    assert torch.equal(capture(net, x, fn=lambda m, inputs: m.rnn(inputs)[0]), states)


def test_a_failing_forward_still_restores_mode_and_hooks():
    net = Net().train()
    with pytest.raises(ValueError, match=r"the probe tensor\(3, 5, 7\) float32 does not fit Net.forward"):
        capture(net, torch.randn(3, 5, 7), layer="rnn")
    assert net.training and not net.rnn._forward_hooks
    with pytest.raises(ValueError, match="layer='lstm' is not a submodule of Net"):
        capture(net, torch.randn(3, 5, 2), layer="lstm")
    with pytest.raises(ValueError, match="exactly one of layer"):
        capture(net, torch.randn(3, 5, 2))
