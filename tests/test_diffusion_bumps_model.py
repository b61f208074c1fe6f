"""The conditional UNet and the DDPM LightningModule, outside any Trainer."""

import pytest
import torch

from neurobolts.datamodules import DiffusionBumpsDataModule
from neurobolts.lightning_modules import ConditionalUNet, DiffusionBumpsModule
from neurobolts.lightning_modules.diffusion_bumps.unet import sinusoidal_encoding


def _module(**kwargs):
    torch.manual_seed(0)
    return DiffusionBumpsModule(ConditionalUNet(16), optimizer=lambda params: torch.optim.Adam(params, 1e-3), **kwargs)


def test_unet_shapes_size_and_conditioning():
    net = ConditionalUNet(16)
    n_params = sum(p.numel() for p in net.parameters())
    assert 150_000 <= n_params <= 220_000  # the CPU setup: a ~200k-parameter UNet
    x = torch.randn(4, 1, 16, 16)
    t = torch.tensor([0, 10, 100, 199])
    out = net(x, t, torch.rand(4, 2) * 16)
    assert out.shape == x.shape
    # the output depends on the condition (x, y) ...
    c1, c2 = torch.tensor([[3.0, 4.0]] * 4), torch.tensor([[9.0, 4.0]] * 4)
    assert not torch.allclose(net(x, t, c1), net(x, t, c2))
    # ... and on the timestep
    assert not torch.allclose(net(x, t, c1), net(x, t.flip(0), c1))


def test_every_block_receives_the_condition():
    net = ConditionalUNet(16, channels=(16, 32, 32))
    blocks = [m for m in net.modules() if hasattr(m, "emb") and isinstance(m.emb, torch.nn.Linear)]
    assert len(blocks) == 3 + 2 + 3  # down stages, middle (two res-blocks), up stages


def test_sinusoidal_encoding_separates_adjacent_positions():
    enc = sinusoidal_encoding(torch.tensor([4.0, 8.0, 4.0]), 32)
    assert enc.shape == (3, 32) and torch.allclose(enc[0], enc[2])
    assert (enc[0] - enc[1]).norm() > 0.5


@pytest.mark.parametrize("size, channels", [(18, (16, 32, 32)), (20, (16, 32, 32, 64))])
def test_unet_rejects_sizes_it_cannot_downsample(size, channels):
    with pytest.raises(ValueError, match=rf"image_size must be a positive multiple of {2 ** (len(channels) - 1)} "
                                         rf"\(the UNet downsamples it .*got {size}"):
        ConditionalUNet(size, channels=channels)


def test_untrained_model_generates_phase_A():
    """Spec oracle 6: A fraction ~ 100 % at step 0."""
    dm = DiffusionBumpsDataModule()
    dm.setup()
    module = _module()
    module.eval()
    for i, loader in enumerate(dm.val_dataloader()):  # the evaluation grid, then the held-out conditions
        module._evaluation_step(next(iter(loader)), module.val_scores[i], module.val_losses[i],
                                module.hparams.eval_seed)
        assert module.val_scores[i].compute()["frac_A"].item() >= 0.95, dm.eval_set_names[i]
        assert module.val_losses[i].compute().item() > 0.5  # an untrained net barely predicts the noise


def test_evaluation_noise_is_fixed_per_condition_not_per_batch():
    module = _module()
    cond = torch.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    full, _, t_full = module._evaluation_noise(cond, (1, 16, 16), module.hparams.eval_seed)
    part, _, t_part = module._evaluation_noise(cond[1:], (1, 16, 16), module.hparams.eval_seed)
    assert torch.equal(full[1:], part) and torch.equal(t_full[1:], t_part)
    assert not torch.equal(full[0], full[1])


def test_training_step_reduces_the_loss_on_one_batch():
    dm = DiffusionBumpsDataModule(batch_size=32)
    dm.setup()
    module = _module()
    module.log = lambda *a, **k: None
    batch = next(iter(dm.train_dataloader()))
    opt = torch.optim.Adam(module.parameters(), lr=2e-3)
    torch.manual_seed(1)
    t = torch.randint(0, 200, (32,))
    noise = torch.randn_like(batch[0])
    first = module.diffusion_loss(batch[0], batch[1], t, noise).item()
    for _ in range(60):
        opt.zero_grad()
        module.training_step(batch, 0).backward()
        opt.step()
    last = module.diffusion_loss(batch[0], batch[1], t, noise).item()
    assert last < 0.5 * first


def test_ema_tracks_the_weights_and_is_not_trained():
    module = _module(ema_decay=0.9)
    assert all(not p.requires_grad for p in module.ema_net.parameters())
    assert module.sampling_net is module.ema_net.module
    with torch.no_grad():
        for p in module.net.parameters():
            p.add_(1.0)
    before = next(module.ema_net.module.parameters()).clone()
    module.on_train_batch_end(None, None, 0)
    module.on_train_batch_end(None, None, 0)
    after = next(module.ema_net.module.parameters())
    assert not torch.equal(before, after)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"sampler": "euler"}, "sampler must be one of"),
        ({"ema_decay": 1.5}, "ema_decay"),
        ({"sampling_steps": 1000}, r"sampling_steps must be an integer in \[1, num_timesteps=\d+\], got 1000"),
        ({"beta_end": 2.0}, "beta"),
    ],
)
def test_bad_module_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        _module(**kwargs)

