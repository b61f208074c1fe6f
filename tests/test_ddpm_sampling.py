"""Closed forms of the noise schedule and behaviour of the samplers (independent of the network)."""

import math

import pytest
import torch

from neurobolts.lightning_modules.diffusion_bumps.sampling import (
    NoiseSchedule,
    ddim_sample,
    ddim_timesteps,
    ddpm_sample,
)


def test_schedule_closed_forms():
    s = NoiseSchedule(200, 1e-4, 0.1)
    assert s.betas[0].item() == pytest.approx(1e-4) and s.betas[-1].item() == pytest.approx(0.1)
    manual = 1.0
    for t in range(200):
        manual *= 1.0 - s.betas[t].item()
        assert s.alphas_cumprod[t].item() == pytest.approx(manual, rel=1e-10)
    # posterior variance beta_tilde_t = (1 - abar_{t-1}) / (1 - abar_t) * beta_t, and 0 at t = 0
    t = 57
    expected = (1 - s.alphas_cumprod[t - 1]) / (1 - s.alphas_cumprod[t]) * s.betas[t]
    assert s.posterior_variance[t].item() == pytest.approx(expected.item(), rel=1e-10)
    assert s.posterior_variance[0].item() == 0.0


def test_add_noise_moments_and_inversion():
    s = NoiseSchedule(200, 1e-4, 0.1)
    x0 = torch.full((20000, 1), 0.7, dtype=torch.float64)
    t = torch.full((20000,), 30)
    noise = torch.randn(20000, 1, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    xt = s.add_noise(x0, noise, t)
    abar = s.alphas_cumprod[30].item()
    assert xt.mean().item() == pytest.approx(math.sqrt(abar) * 0.7, abs=0.02)
    assert xt.var().item() == pytest.approx(1 - abar, rel=0.05)
    assert torch.allclose(s.predict_x0(xt, noise, t), x0, atol=1e-10)


def test_posterior_mean_is_consistent_with_the_forward_process():
    # With x_{t-1} = sqrt(abar_{t-1}) x0 and x_t = sqrt(alpha_t) x_{t-1} (no noise), the posterior
    # mean must return x_{t-1} exactly.
    s = NoiseSchedule(100, 1e-4, 0.05)
    x0 = torch.randn(4, 1, 3, 3, dtype=torch.float64)
    t = torch.full((4,), 40)
    x_prev = s.alphas_cumprod[39].sqrt() * x0
    x_t = s.alphas[40].sqrt() * x_prev
    assert torch.allclose(s.posterior_mean(x0, x_t, t), x_prev, atol=1e-10)


def _oracle(schedule, x0):
    """The exact epsilon for data concentrated on one image x0."""

    def eps_fn(x, t, cond):
        abar = schedule.gather(schedule.alphas_cumprod, t, x)
        return (x - abar.sqrt() * x0) / (1 - abar).sqrt()

    return eps_fn


def test_samplers_recover_the_data_point_with_an_oracle_denoiser():
    s = NoiseSchedule(200, 1e-4, 0.1)
    x0 = torch.rand(3, 1, 8, 8) * 2 - 1
    x_T = torch.randn(3, 1, 8, 8, generator=torch.Generator().manual_seed(1))
    cond = torch.zeros(3, 2)
    out = ddim_sample(_oracle(s, x0), s, x_T, cond, num_steps=25)
    assert torch.allclose(out, x0, atol=1e-5)
    out = ddpm_sample(_oracle(s, x0), s, x_T, cond, generator=torch.Generator().manual_seed(2))
    assert torch.allclose(out, x0, atol=1e-3)  # float32 round-off through 1/sqrt(1 - abar_0)


def test_sampler_shapes_and_determinism_under_a_seed():
    s = NoiseSchedule(50, 1e-4, 0.2)
    net = torch.nn.Conv2d(1, 1, 3, padding=1)

    def eps_fn(x, t, cond):
        return net(x) * 0.1

    x_T = torch.randn(5, 1, 16, 16, generator=torch.Generator().manual_seed(0))
    cond = torch.zeros(5, 2)
    a = ddpm_sample(eps_fn, s, x_T, cond, torch.Generator().manual_seed(7))
    b = ddpm_sample(eps_fn, s, x_T, cond, torch.Generator().manual_seed(7))
    c = ddpm_sample(eps_fn, s, x_T, cond, torch.Generator().manual_seed(8))
    assert a.shape == (5, 1, 16, 16) and torch.equal(a, b) and not torch.equal(a, c)
    d = ddim_sample(eps_fn, s, x_T, cond, num_steps=10)
    e = ddim_sample(eps_fn, s, x_T, cond, num_steps=10)
    assert d.shape == (5, 1, 16, 16) and torch.equal(d, e)
    f = ddim_sample(eps_fn, s, x_T, cond, num_steps=10, eta=1.0, generator=torch.Generator().manual_seed(3))
    assert not torch.equal(d, f)


def test_ddim_timesteps_and_bad_arguments():
    assert ddim_timesteps(200, 25)[0] == 199 and ddim_timesteps(200, 25)[-1] == 0
    assert len(ddim_timesteps(200, 25)) == 25
    with pytest.raises(ValueError, match=r"sampling_steps must be an integer in \[1, num_timesteps=200\], got 500"):
        ddim_timesteps(200, 500)
    with pytest.raises(ValueError, match=r"beta_end must be a finite number in \(beta_start=0.2, 1\), got 0.1"):
        NoiseSchedule(100, 0.2, 0.1)
    with pytest.raises(ValueError, match="num_timesteps"):
        NoiseSchedule(1)
