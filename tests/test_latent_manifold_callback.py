"""LatentManifoldOrdering on a user's own model (an autoencoder defined here), its errors and state."""

from __future__ import annotations

import lightning as L
import pytest
import torch
from lightning.pytorch.loggers import Logger
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from neurobolts.callbacks import LatentManifoldOrdering
from neurobolts.callbacks.manifold.phases import classify_phase


def two_factor_data(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Observations in 16-D from 2 uniform factors through a fixed random smooth map."""
    g = torch.Generator().manual_seed(seed)
    factors = torch.rand(n, 2, generator=g)
    w1 = torch.randn(2, 24, generator=torch.Generator().manual_seed(100)) * 2
    w2 = torch.randn(24, 16, generator=torch.Generator().manual_seed(101)) / 3
    return torch.tanh(torch.tanh(factors @ w1) @ w2), factors


class AutoEncoder(L.LightningModule):
    def __init__(self) -> None:
        super().__init__()
        self.encoder = nn.Sequential(nn.Linear(16, 64), nn.Tanh(), nn.Linear(64, 2))
        self.decoder = nn.Sequential(nn.Linear(2, 64), nn.Tanh(), nn.Linear(64, 16))

    def forward(self, x):
        return self.decoder(self.encoder(x))

    def training_step(self, batch, batch_idx):
        (x,) = batch
        return nn.functional.mse_loss(self(x), x)

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=1e-2)


class MemoryLogger(Logger):
    """Keeps every log_metrics call: what a user's MLflow/CSV logger would receive."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[tuple[int, dict]] = []

    name = "memory"
    version = "0"

    def log_metrics(self, metrics, step=None):
        self.rows.append((step, dict(metrics)))

    def log_hyperparams(self, params, *args, **kwargs):
        pass


def _trainer(tmp_path, callbacks, steps=300, logger=None, **kwargs):
    return L.Trainer(default_root_dir=tmp_path, max_steps=steps, accelerator="cpu", devices=1,
                     callbacks=callbacks, logger=logger if logger is not None else False,
                     enable_progress_bar=False, enable_model_summary=False, enable_checkpointing=False, **kwargs)


def test_attaches_to_a_user_model_and_logs_its_metrics(tmp_path):
    torch.manual_seed(0)
    x, _ = two_factor_data(512, seed=0)
    probe_x, probe_f = two_factor_data(150, seed=1)
    model = AutoEncoder()
    callback = LatentManifoldOrdering(layer="encoder", probe=(probe_x, probe_f), every_n_steps=100, k=5)
    logger = MemoryLogger()
    _trainer(tmp_path, [callback], logger=logger).fit(model, DataLoader(TensorDataset(x), batch_size=32, shuffle=True))
    h = callback.history
    assert h["step"] == [0, 100, 200, 300]
    logged = {step: m for step, m in logger.rows if "manifold/trustworthiness" in m}
    assert sorted(logged) == [0, 100, 200, 300]
    assert {"manifold/continuity", "manifold/participation_ratio", "manifold/phase"} <= set(logged[300])
    # the trained encoder's 2-D code becomes an ordered map of the two factors
    assert h["trustworthiness"][-1] >= 0.95 and h["trustworthiness"][-1] >= h["trustworthiness"][0] + 0.05
    assert (h["knn_r2_factor0"][-1] + h["knn_r2_factor1"][-1]) / 2 >= 0.85
    # the phase labels: each measured against the step-0 record (the baseline the callback kept), never
    # back to A, and B by the end (measured: A, A, B, B; order gain 0.38 / 0.55 / 0.69 of T0 = 0.875's
    # gap; C would need T >= 0.9975)
    assert callback.baseline == {key: h[key][0] for key in callback.baseline}
    assert h["phase"] == [float(classify_phase({key: h[key][i] for key in callback.baseline}, callback.baseline))
                          for i in range(len(h["step"]))]
    assert all(a <= b for a, b in zip(h["phase"], h["phase"][1:], strict=False)), h["phase"]
    assert h["phase"][-1] == 1.0, h["phase"]
    # the probe left no trace: train mode restored, no forward hook left on the layer
    assert model.training and not model.encoder._forward_hooks
    assert (tmp_path / "figures" / "manifold" / "embedding_step_000000.png").exists()


def test_feature_fn_instead_of_a_layer(tmp_path):
    x, f = two_factor_data(64, seed=2)
    callback = LatentManifoldOrdering(feature_fn=lambda m, inputs: m.encoder(inputs), probe=(x, f),
                                      every_n_steps=5, k=3, log_embedding=False)
    _trainer(tmp_path, [callback], steps=5).fit(AutoEncoder(), DataLoader(TensorDataset(x), batch_size=16))
    assert callback.history["step"] == [0, 5]


def test_unknown_layer_lists_the_available_module_paths(tmp_path):
    x, f = two_factor_data(64, seed=2)
    callback = LatentManifoldOrdering(layer="encodr", probe=(x, f))
    with pytest.raises(ValueError, match=r"layer='encodr' is not a submodule.*available: encoder, encoder\.0"):
        _trainer(tmp_path, [callback], steps=2).fit(AutoEncoder(), DataLoader(TensorDataset(x), batch_size=16))


@pytest.mark.parametrize(
    "probe, match",
    [
        (lambda x, f: (x, None), "ground-truth factors"),
        (lambda x, f: (x, f[:10]), "the probe gave 64 latents but 10 factor rows"),
        (lambda x, f: (x * float("nan"), f), "latents contains NaN"),
        (lambda x, f: (x[:8], f[:8]), "k=5 neighbours needs more than 10 probe points"),
    ],
)
def test_bad_probes_fail_clearly(tmp_path, probe, match):
    x, f = two_factor_data(64, seed=2)
    callback = LatentManifoldOrdering(layer="encoder", probe=probe(x, f), k=5, log_embedding=False)
    model = AutoEncoder()
    with pytest.raises(ValueError, match=match):
        _trainer(tmp_path, [callback], steps=2).fit(model, DataLoader(TensorDataset(x), batch_size=16))
    assert not model.encoder._forward_hooks


def test_needs_a_probe_source_and_exactly_one_feature_source(tmp_path):
    with pytest.raises(ValueError, match="exactly one of layer"):
        LatentManifoldOrdering()
    x, _ = two_factor_data(64, seed=2)
    callback = LatentManifoldOrdering(layer="encoder")
    with pytest.raises(ValueError, match=r"probe=\(inputs, factors\) or a datamodule with probe_batch"):
        _trainer(tmp_path, [callback], steps=2).fit(AutoEncoder(), DataLoader(TensorDataset(x), batch_size=16))


def test_state_resumes_from_a_weights_only_checkpoint(tmp_path):
    x, f = two_factor_data(128, seed=3)
    loader = DataLoader(TensorDataset(x), batch_size=16)
    first = LatentManifoldOrdering(layer="encoder", probe=(x, f), every_n_steps=4, log_embedding=False)
    trainer = _trainer(tmp_path, [first], steps=8)
    trainer.fit(AutoEncoder(), loader)
    ckpt = tmp_path / "a.ckpt"
    trainer.save_checkpoint(ckpt)
    state = torch.load(ckpt, weights_only=True)["callbacks"][first.state_key]
    assert state["history"]["step"] == [0.0, 4.0, 8.0]

    second = LatentManifoldOrdering(layer="encoder", probe=(x, f), every_n_steps=4, log_embedding=False)
    _trainer(tmp_path, [second], steps=12).fit(AutoEncoder(), loader, ckpt_path=ckpt, weights_only=True)
    assert second.baseline == first.baseline  # not re-measured on resume
    assert second.history["step"] == [0.0, 4.0, 8.0, 12.0]


def test_ddp_two_cpu_processes_do_not_deadlock(tmp_path):
    x, f = two_factor_data(128, seed=4)
    callback = LatentManifoldOrdering(layer="encoder", probe=(x, f), every_n_steps=4, log_embedding=False)
    trainer = L.Trainer(default_root_dir=tmp_path, max_steps=8, accelerator="cpu", devices=2,
                        strategy="ddp_fork", callbacks=[callback], logger=False, enable_progress_bar=False,
                        enable_model_summary=False, enable_checkpointing=False)
    trainer.fit(AutoEncoder(), DataLoader(TensorDataset(x), batch_size=16))
    assert trainer.state.finished
