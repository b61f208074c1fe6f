"""The AlignModule under a Trainer and the align_wide / align_add experiments (short CPU runs)."""

from __future__ import annotations

import copy
from functools import partial

import pytest
import torch
from lightning.pytorch import Trainer
from torch.utils.data import DataLoader, TensorDataset

from neurobolts.datamodules.align.synthetic import teacher_classification
from neurobolts.lightning_modules import AlignModule
from neurobolts.lightning_modules.align.rules import align_update, backprop_gradient
from neurobolts.plugins.instantiate import ConfigError
from neurobolts.plugins.pipeline import build, train

QUIET = ["logger=none", "callbacks.rich_progress_bar=null", "callbacks.model_summary=null",
         "trainer.enable_progress_bar=false", "trainer.enable_model_summary=false"]


# many small sequential ops (the RNN over time) run fastest single-threaded on a busy 2-core box
pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _module(rule: str, lr: float = 0.5, cosine_every_n_steps: int = 0, width: int = 16) -> AlignModule:
    torch.manual_seed(0)
    return AlignModule(partial(torch.optim.SGD, lr=lr), input_dim=16, output_dim=4, rule=rule, width=width,
                       depth=2, cosine_every_n_steps=cosine_every_n_steps)


def _loader(n: int = 64) -> DataLoader:
    return DataLoader(TensorDataset(*teacher_classification(n, 16, 4)), batch_size=n, shuffle=False)


def _fit(module: AlignModule, steps: int) -> Trainer:
    trainer = Trainer(max_steps=steps, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                      enable_model_summary=False, limit_val_batches=0, accelerator="cpu")
    trainer.fit(module, train_dataloaders=_loader())
    return trainer


@pytest.mark.parametrize("rule", ["backprop", "align_zero", "align_ada"])
def test_a_training_step_is_sgd_on_the_rule_update(rule):
    module = _module(rule)
    # move the network off its initialisation so the rules differ
    with torch.no_grad():
        for p in module.net.parameters():
            p.add_(0.3 * torch.randn_like(p))
    before = copy.deepcopy(module.net)
    x, labels = _loader().dataset.tensors
    if rule == "backprop":
        expected = backprop_gradient(before, x, labels, module.loss)[2]
    else:
        expected = align_update(rule, before, module.frozen_net, x, labels, module.loss)[2]
    _fit(module, steps=1)
    for name, p in module.net.named_parameters():
        torch.testing.assert_close(p.detach(), dict(before.named_parameters())[name] - 0.5 * expected[name])


@pytest.mark.parametrize("rule", ["align_zero", "align_ada"])
def test_training_never_backpropagates_through_the_current_network(rule):
    module = _module(rule, cosine_every_n_steps=0)
    frozen_before = copy.deepcopy(module.frozen_net.state_dict())
    net_before = copy.deepcopy(module.net.state_dict())
    calls = []
    for name, p in module.net.named_parameters():
        p.register_hook(lambda grad, name=name: calls.append(name))
    _fit(module, steps=5)
    assert calls == []  # no autograd gradient ever reached a current parameter
    # the network learned, the frozen initial network is bit-identical (oracle 8)
    assert any(not torch.equal(net_before[k], v) for k, v in module.net.state_dict().items())
    assert all(torch.equal(frozen_before[k], v) for k, v in module.frozen_net.state_dict().items())

    bp = _module("backprop")
    bp_calls = []
    for name, p in bp.net.named_parameters():
        p.register_hook(lambda grad, name=name: bp_calls.append(name))
    _fit(bp, steps=1)
    assert len(bp_calls) == 6  # the hooks do fire when backprop is used


def test_align_wide_logs_per_layer_cosines_and_tests_the_best_checkpoint(make_cfg, tmp_path):
    cfg = make_cfg(["experiment=align_wide", "model.width=64", "trainer.max_steps=20", "trainer.val_check_interval=10",
                    "model.cosine_every_n_steps=5", *QUIET])
    metrics, objects = train(cfg)
    for key in ("val/acc", "test/acc", "test/loss", "align/cos_layer1", "align/cos_layer2", "align/cos_layer3",
                "align/weight_change_layer2"):
        assert key in metrics, sorted(metrics)
    assert metrics["align/cos_layer3"] == pytest.approx(1.0, abs=1e-5)  # Align-ada's last layer is backprop
    assert 0.0 < metrics["align/cos_layer2"] < 1.0
    history = objects["model"].alignment_history
    assert history["step"] == [0, 5, 10, 15]
    assert history["cos"][0] == pytest.approx([1.0, 1.0, 1.0], abs=1e-5)  # at initialisation all rules agree
    assert (tmp_path / "output" / "figures" / "alignment.png").is_file()

    last = torch.load(tmp_path / "output" / "checkpoints" / "last.ckpt", weights_only=True)
    assert last["alignment_history"]["step"] == [0, 5, 10, 15]
    model = objects["model"]
    restored = AlignModule(partial(torch.optim.SGD, lr=1.0), **{k: v for k, v in last["hyper_parameters"].items()})
    restored.load_state_dict(last["state_dict"])
    for (name, p), q in zip(model.frozen_net.named_parameters(), restored.frozen_net.parameters(), strict=True):
        assert torch.equal(p, q), name


def test_align_add_trains_the_recurrent_network(make_cfg):
    cfg = make_cfg(["experiment=align_add", "model.width=32", "data.steps=20", "data.n_train=50", "data.batch_size=25",
                    "trainer.max_steps=4", "trainer.val_check_interval=2", "model.cosine_every_n_steps=2", *QUIET])
    metrics, objects = train(cfg)
    for key in ("val/loss", "val/loss_over_chance", "test/loss_over_chance", "align/cos_layer1", "align/cos_layer4"):
        assert key in metrics, sorted(metrics)
    assert metrics["test/chance_loss"] == pytest.approx(3 * 0.0625 + 15 * 0.078125)
    assert metrics["align/cos_layer3"] == pytest.approx(1.0, abs=1e-5)  # readout: the delta rule


@pytest.mark.parametrize("override, match", [
    ("model.rule=feedback_alignment", r"`model`.*rule must be one of \('backprop', 'align_zero', 'align_ada'\)"),
    ("model.network=cnn", r"`model`.*network must be one of \('mlp', 'rnn'\), got 'cnn'"),
    ("model.width=0", r"`model`.*width must be an integer >= 1, got 0"),
    ("model.cosine_every_n_steps=-1", r"`model`.*cosine_every_n_steps must be an integer >= 0"),
    ("data.num_classes=1", r"`data`.*num_classes must be an integer >= 2"),
])
def test_bad_values_fail_before_training_naming_the_field(make_cfg, override, match):
    cfg = make_cfg(["experiment=align_wide", *QUIET, override])
    with pytest.raises(ConfigError, match=match):
        build(cfg)
