"""The learning rules of docs/papers/align.md section 2.1 against hand computations (NumPy, float64),
the spec's oracles 1-2, and proof that the Align rules never backpropagate through the current
network (its parameters get no autograd gradient and may even have requires_grad=False)."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from neurobolts.lightning_modules.align.networks import NTKMLP, NTKRNN, ntk_linear
from neurobolts.lightning_modules.align.rules import (
    align_update,
    backprop_gradient,
    layer_cosines,
    onehot_mse,
    relative_weight_change,
    sequence_sse,
)

RULES = ("backprop", "align_zero", "align_ada")


def _update(rule, net, frozen, x, target, loss_fn):
    if rule == "backprop":
        return backprop_gradient(net, x, target, loss_fn)[2]
    return align_update(rule, net, frozen, x, target, loss_fn)[2]


def _perturbed_pair(net: torch.nn.Module, scale: float = 0.5, seed: int = 1):
    """(current, initial): the current network moved away from the initial one (zero biases and
    the RNN's zero initial state included), so that every rule gives a different update."""
    frozen = copy.deepcopy(net).requires_grad_(False)
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in net.parameters():
            p.add_(scale * torch.randn(p.shape, generator=g, dtype=p.dtype))
    return net, frozen


# ------------------------------------------------------------------------------------ MLP, by hand
def _np_params(net):
    return [p.detach().numpy().copy() for p in net.parameters()]


def _np_mlp_forward(params, x):
    """Returns output, the input of each layer, the pre-activation of each layer."""
    weights, biases = params[0::2], params[1::2]
    h, inputs, pre = x, [], []
    for i, (w, b) in enumerate(zip(weights, biases, strict=True)):
        inputs.append(h)
        z = h @ w.T / np.sqrt(w.shape[1]) + b
        pre.append(z)
        h = z if i == len(weights) - 1 else np.maximum(z, 0.0)
    return h, inputs, pre


def _np_mlp_update(transport_params, transport_pre, layer_inputs, output_grad):
    """delta_L = dL/df; delta_l = (W_{l+1}^T delta_{l+1} / sqrt(n_l)) * relu'(z_l) with the transport
    network's W and z; dW_l = delta_l^T h_{l-1} / sqrt(n_{l-1}), db_l = sum delta_l."""
    weights = transport_params[0::2]
    delta, out = output_grad, [None] * (2 * len(weights))
    for i in reversed(range(len(weights))):
        out[2 * i] = delta.T @ layer_inputs[i] / np.sqrt(weights[i].shape[1])
        out[2 * i + 1] = delta.sum(axis=0)
        if i > 0:
            delta = (delta @ weights[i] / np.sqrt(weights[i].shape[1])) * (transport_pre[i - 1] > 0)
    return out


def _mlp_case():
    torch.manual_seed(0)
    net = NTKMLP(input_dim=3, output_dim=2, width=5, depth=2).double()
    net, frozen = _perturbed_pair(net)
    x = torch.randn(7, 3, dtype=torch.float64)
    labels = torch.tensor([0, 1, 1, 0, 1, 0, 0])
    return net, frozen, x, labels


@pytest.mark.parametrize("rule", RULES)
def test_mlp_updates_match_a_hand_computation(rule):
    net, frozen, x, labels = _mlp_case()
    live_p, init_p = _np_params(net), _np_params(frozen)
    xn = x.numpy()
    out_t, inputs_t, pre_t = _np_mlp_forward(live_p, xn)
    _, inputs_0, pre_0 = _np_mlp_forward(init_p, xn)
    target = np.eye(2)[labels.numpy()] - 0.1
    output_grad = 2.0 * (out_t - target) / out_t.size  # d mean((f - y)^2) / df at the CURRENT output
    transport = {"backprop": (live_p, pre_t, inputs_t), "align_zero": (init_p, pre_0, inputs_0),
                 "align_ada": (init_p, pre_0, inputs_t)}[rule]
    expected = _np_mlp_update(*transport, output_grad)

    got = _update(rule, net, frozen, x, labels, onehot_mse)
    names = [n for n, _ in net.named_parameters()]
    assert list(got) == names
    for name, e in zip(names, expected, strict=True):
        np.testing.assert_allclose(got[name].numpy(), e, rtol=1e-10, atol=1e-12, err_msg=f"{rule} {name}")


def test_mlp_rules_differ_away_from_initialisation():
    """The case above is not degenerate: the three rules give three different updates."""
    net, frozen, x, labels = _mlp_case()
    u = {rule: _update(rule, net, frozen, x, labels, onehot_mse) for rule in RULES}
    hidden = "layers.1.weight"
    assert not torch.allclose(u["backprop"][hidden], u["align_zero"][hidden])
    assert not torch.allclose(u["backprop"][hidden], u["align_ada"][hidden])
    assert not torch.allclose(u["align_zero"][hidden], u["align_ada"][hidden])


def test_align_ada_last_layer_is_backprop_and_first_layer_is_align_zero():
    """Oracle 2: the last layer is the plain delta rule; the first layer's input is the raw x."""
    net, frozen, x, labels = _mlp_case()
    u = {rule: _update(rule, net, frozen, x, labels, onehot_mse) for rule in RULES}
    for name in ("layers.2.weight", "layers.2.bias"):
        torch.testing.assert_close(u["align_ada"][name], u["backprop"][name], rtol=1e-12, atol=1e-14)
    for name in ("layers.0.weight", "layers.0.bias"):
        torch.testing.assert_close(u["align_ada"][name], u["align_zero"][name], rtol=1e-12, atol=1e-14)
    cos = layer_cosines(u["align_ada"], u["backprop"], net.layer_groups)
    assert cos[2] == pytest.approx(1.0, abs=1e-12) and cos[0] < 0.999


@pytest.mark.parametrize("make_net", [
    lambda: NTKMLP(4, 3, width=16, depth=3),
    lambda: NTKRNN(1, hidden=6, output_dim=1),
])
def test_at_initialisation_align_updates_equal_the_backprop_gradient(make_net):
    """Oracle 1: with the current network still at its initial weights every rule is backprop."""
    torch.manual_seed(3)
    net = make_net().double()
    frozen = copy.deepcopy(net).requires_grad_(False)
    if isinstance(net, NTKRNN):
        x, target, loss_fn = torch.bernoulli(torch.full((4, 9, 1), 0.5)).double(), torch.rand(4, 9).double(), sequence_sse
    else:
        x, target, loss_fn = torch.randn(6, 4).double(), torch.tensor([0, 1, 2, 0, 1, 2]), onehot_mse
    bp = _update("backprop", net, frozen, x, target, loss_fn)
    for rule in ("align_zero", "align_ada"):
        got = _update(rule, net, frozen, x, target, loss_fn)
        for name in bp:
            assert (got[name] - bp[name]).abs().max() < 1e-12, (rule, name)


# ------------------------------------------------------------------------------------ RNN, by hand
def _np_rnn_forward(p, x):
    w_ih, w_hh, bias, w_ho, b_o, h0 = p
    n = w_hh.shape[0]
    h = np.broadcast_to(h0, (x.shape[0], n))
    previous, states, pre = [], [], []
    for t in range(x.shape[1]):
        previous.append(h)
        z = x[:, t] @ w_ih.T + bias + h @ w_hh.T / np.sqrt(n)
        pre.append(z)
        h = np.maximum(z, 0.0)
        states.append(h)
    out = np.stack(states, 1) @ w_ho.T / np.sqrt(n) + b_o
    return out, previous, states, pre


def _np_rnn_update(transport_p, transport_pre, previous, states, x, output_grad):
    """BPTT of output_grad (B, T) through the transport network; weight gradients formed with the
    given presynaptic activity (previous states for W_hh, states for W_ho)."""
    w_ih, w_hh, bias, w_ho, b_o, h0 = transport_p
    n = w_hh.shape[0]
    grads = {k: 0.0 for k in ("w_ih", "w_hh", "bias", "w_ho", "b_o")}
    carry = np.zeros((x.shape[0], n))
    for t in reversed(range(x.shape[1])):
        g = output_grad[:, t : t + 1]
        grads["w_ho"] = grads["w_ho"] + g.T @ states[t] / np.sqrt(n)
        grads["b_o"] = grads["b_o"] + g.sum(0)
        dz = (g @ w_ho / np.sqrt(n) + carry) * (transport_pre[t] > 0)
        grads["w_hh"] = grads["w_hh"] + dz.T @ previous[t] / np.sqrt(n)
        grads["w_ih"] = grads["w_ih"] + dz.T @ x[:, t]
        grads["bias"] = grads["bias"] + dz.sum(0)
        carry = dz @ w_hh / np.sqrt(n)
    grads["h0"] = carry.sum(0)
    return grads


@pytest.mark.parametrize("rule", RULES)
def test_rnn_updates_match_a_hand_computation(rule):
    torch.manual_seed(0)
    net, frozen = _perturbed_pair(NTKRNN(1, hidden=5, output_dim=1).double(), scale=0.4)
    x = torch.bernoulli(torch.full((3, 8, 1), 0.5)).double()
    y = torch.rand(3, 8, dtype=torch.float64)
    live_p, init_p = _np_params(net), _np_params(frozen)
    xn = x.numpy()
    out_t, prev_t, states_t, pre_t = _np_rnn_forward(live_p, xn)
    _, prev_0, states_0, pre_0 = _np_rnn_forward(init_p, xn)
    output_grad = 2.0 * (out_t[..., 0] - y.numpy()) / x.shape[0]  # d (sum_t, mean_b) / d out
    args = {"backprop": (live_p, pre_t, prev_t, states_t), "align_zero": (init_p, pre_0, prev_0, states_0),
            "align_ada": (init_p, pre_0, prev_t, states_t)}[rule]
    expected = _np_rnn_update(*args, xn, output_grad)

    got = _update(rule, net, frozen, x, y, sequence_sse)
    assert set(got) == set(expected)
    for name, e in expected.items():
        np.testing.assert_allclose(got[name].numpy(), e, rtol=1e-10, atol=1e-12, err_msg=f"{rule} {name}")


# ------------------------------------------------------------- no backward through the current net
def _hooked(net):
    calls = []
    handles = [p.register_hook(lambda grad, name=name: calls.append(name)) for name, p in net.named_parameters()]
    return calls, handles


@pytest.mark.parametrize("rule", ["align_zero", "align_ada"])
@pytest.mark.parametrize("network", ["mlp", "rnn"])
def test_align_rules_never_backpropagate_through_the_current_network(rule, network):
    torch.manual_seed(0)
    if network == "mlp":
        net, frozen = _perturbed_pair(NTKMLP(3, 2, width=8, depth=2))
        x, target, loss_fn = torch.randn(5, 3), torch.tensor([0, 1, 0, 1, 1]), onehot_mse
    else:
        net, frozen = _perturbed_pair(NTKRNN(1, hidden=8))
        x, target, loss_fn = torch.bernoulli(torch.full((2, 6, 1), 0.5)), torch.rand(2, 6), sequence_sse
    frozen_before = {n: p.clone() for n, p in frozen.named_parameters()}

    calls, handles = _hooked(net)
    update = _update(rule, net, frozen, x, target, loss_fn)
    assert calls == [], f"autograd reached current parameters {calls}"
    assert all(p.grad is None for p in net.parameters())
    # the frozen network neither accumulates gradients nor changes
    assert all(p.grad is None and not p.requires_grad for p in frozen.parameters())
    assert all(torch.equal(frozen_before[n], p) for n, p in frozen.named_parameters())

    # the same update with the current parameters cut out of autograd altogether
    net.requires_grad_(False)
    again = _update(rule, net, frozen, x, target, loss_fn)
    for name in update:
        assert torch.equal(update[name], again[name])
    # ... whereas backprop needs them: the check above can fail
    with pytest.raises(RuntimeError):
        _update("backprop", net, frozen, x, target, loss_fn)
    net.requires_grad_(True)
    _update("backprop", net, frozen, x, target, loss_fn)
    assert sorted(set(calls)) == sorted(n for n, _ in net.named_parameters())
    for h in handles:
        h.remove()


# ---------------------------------------------------------------------------------- building blocks
def test_ntk_linear_swaps_only_the_weight_gradient_input():
    torch.manual_seed(0)
    w = torch.randn(3, 4, dtype=torch.float64, requires_grad=True)
    h = torch.randn(5, 4, dtype=torch.float64, requires_grad=True)
    h_other = torch.randn(5, 4, dtype=torch.float64)
    z = ntk_linear(h, w, None, h_other)
    torch.testing.assert_close(z, h @ w.T / 2.0)  # the value is unchanged
    upstream = torch.randn(5, 3, dtype=torch.float64)
    gw, gh = torch.autograd.grad((z * upstream).sum(), (w, h))
    torch.testing.assert_close(gw, upstream.T @ h_other / 2.0)
    torch.testing.assert_close(gh, upstream @ w.detach() / 2.0)


def test_ntk_parameterisation():
    torch.manual_seed(0)
    net = NTKMLP(16, 4, width=2048, depth=2)
    w = net.layers[1].weight.detach()
    assert abs(float(w.mean())) < 0.01 and abs(float(w.std()) - 1.0) < 0.01
    assert all(float(layer.bias.detach().abs().max()) == 0.0 for layer in net.layers)
    # pre-activations stay O(1) whatever the width
    out = net(torch.randn(256, 16)).detach()
    assert 0.2 < float(out.std()) < 3.0
    assert len(net.layer_groups) == 3 and net.layer_groups[0] == ["layers.0.weight", "layers.0.bias"]


def test_layer_cosines_and_weight_change():
    a = {"w": torch.tensor([1.0, 0.0]), "b": torch.tensor([0.0]), "v": torch.tensor([1.0, 1.0])}
    b = {"w": torch.tensor([1.0, 1.0]), "b": torch.tensor([0.0]), "v": torch.tensor([-2.0, -2.0])}
    cos = layer_cosines(a, b, [["w", "b"], ["v"]])
    assert cos == pytest.approx([2**-0.5, -1.0])
    assert np.isnan(layer_cosines({"w": torch.zeros(2)}, {"w": torch.ones(2)}, [["w"]])[0])

    torch.manual_seed(0)
    net = NTKMLP(2, 2, width=4, depth=1)
    frozen = copy.deepcopy(net)
    with torch.no_grad():
        net.layers[0].weight.mul_(1.5)
    change = relative_weight_change(net, frozen, net.layer_groups)
    assert change[0] == pytest.approx(0.5) and change[1] == 0.0


def test_losses_check_shapes():
    with pytest.raises(ValueError, match=r"outputs \(batch, classes\) and labels \(batch,\)"):
        onehot_mse(torch.zeros(4, 3), torch.zeros(5, dtype=torch.long))
    with pytest.raises(ValueError, match=r"outputs \(batch, time, 1\)"):
        sequence_sse(torch.zeros(2, 5), torch.zeros(2, 5))
    assert float(onehot_mse(torch.tensor([[0.9, -0.1]]), torch.tensor([0]))) == pytest.approx(0.0)
    assert float(sequence_sse(torch.ones(2, 3, 1), torch.zeros(2, 3))) == pytest.approx(3.0)


def test_unknown_rule_is_named():
    net = NTKMLP(2, 2, width=3, depth=1)
    with pytest.raises(ValueError, match=r"rule must be one of \('backprop', 'align_zero', 'align_ada'\), got 'fa'"):
        align_update("fa", net, copy.deepcopy(net), torch.zeros(1, 2), torch.zeros(1, dtype=torch.long), onehot_mse)
