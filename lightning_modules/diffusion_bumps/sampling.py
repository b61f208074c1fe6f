"""DDPM noise schedule and samplers, kept apart from the network (diffusers-style naming).

`NoiseSchedule` holds the closed forms of the forward process; `ddpm_sample` (ancestral) and
`ddim_sample` (deterministic for eta = 0) run the reverse process with any epsilon-predictor
`eps_fn(x_t, t, cond) -> eps`. No Lightning here.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from neurobolts.plugins.checks import check_int, check_number

EpsFn = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


class NoiseSchedule:
    """Linear beta schedule beta_t = linspace(beta_start, beta_end, T), t = 0 .. T-1.

    alpha_t = 1 - beta_t, alpha_bar_t = prod_{s<=t} alpha_s, and
    q(x_t | x_0) = N(sqrt(alpha_bar_t) x_0, (1 - alpha_bar_t) I).
    """

    def __init__(self, num_timesteps: int = 1000, beta_start: float = 1e-4, beta_end: float = 0.02) -> None:
        check_int("num_timesteps", num_timesteps, 2)
        check_number("beta_start", beta_start, 0, 1, low_open=True, high_open=True)
        check_number("beta_end", beta_end, beta_start, 1, low_open=True, high_open=True,
                     expected=f"a finite number in (beta_start={beta_start}, 1)")
        self.num_timesteps = num_timesteps
        self.betas = torch.linspace(beta_start, beta_end, num_timesteps, dtype=torch.float64)
        self.alphas = 1.0 - self.betas
        self.alphas_cumprod = torch.cumprod(self.alphas, dim=0)
        self.alphas_cumprod_prev = torch.cat([torch.ones(1, dtype=torch.float64), self.alphas_cumprod[:-1]])
        # Variance of q(x_{t-1} | x_t, x_0): beta_tilde_t = (1 - abar_{t-1}) / (1 - abar_t) beta_t.
        self.posterior_variance = self.betas * (1.0 - self.alphas_cumprod_prev) / (1.0 - self.alphas_cumprod)

    def gather(self, values: torch.Tensor, t: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        """values[t] reshaped to broadcast against `like` (batch first)."""
        out = values.to(like.device)[t.to(like.device).long()].to(like.dtype)
        return out.reshape(-1, *([1] * (like.ndim - 1)))

    def add_noise(self, x0: torch.Tensor, noise: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """Sample x_t ~ q(x_t | x_0) with the given noise: sqrt(abar_t) x0 + sqrt(1 - abar_t) noise."""
        abar = self.gather(self.alphas_cumprod, t, x0)
        return abar.sqrt() * x0 + (1.0 - abar).sqrt() * noise

    def predict_x0(self, x_t: torch.Tensor, eps: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """Invert add_noise for x0 given the noise: (x_t - sqrt(1 - abar_t) eps) / sqrt(abar_t)."""
        abar = self.gather(self.alphas_cumprod, t, x_t)
        return (x_t - (1.0 - abar).sqrt() * eps) / abar.sqrt()

    def posterior_mean(self, x0: torch.Tensor, x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """Mean of q(x_{t-1} | x_t, x_0)."""
        beta = self.gather(self.betas, t, x_t)
        alpha = self.gather(self.alphas, t, x_t)
        abar = self.gather(self.alphas_cumprod, t, x_t)
        abar_prev = self.gather(self.alphas_cumprod_prev, t, x_t)
        coef_x0 = beta * abar_prev.sqrt() / (1.0 - abar)
        coef_xt = (1.0 - abar_prev) * alpha.sqrt() / (1.0 - abar)
        return coef_x0 * x0 + coef_xt * x_t


def _timesteps(t: int, batch: int, device: torch.device) -> torch.Tensor:
    return torch.full((batch,), t, dtype=torch.long, device=device)


@torch.no_grad()
def ddpm_sample(
    eps_fn: EpsFn,
    schedule: NoiseSchedule,
    x_T: torch.Tensor,
    cond: torch.Tensor,
    generator: torch.Generator | None = None,
    clip_x0: bool = True,
) -> torch.Tensor:
    """Ancestral DDPM sampling from x_T over t = T-1 .. 0 with the posterior variance beta_tilde.

    Deterministic given x_T and the generator's state. With clip_x0 the predicted x0 is clipped to
    [-1, 1] before the posterior mean is formed.
    """
    x = x_T
    for step in reversed(range(schedule.num_timesteps)):
        t = _timesteps(step, x.shape[0], x.device)
        x0 = schedule.predict_x0(x, eps_fn(x, t, cond), t)
        if clip_x0:
            x0 = x0.clamp(-1.0, 1.0)
        mean = schedule.posterior_mean(x0, x, t)
        if step > 0:
            noise = torch.randn(x.shape, generator=generator, dtype=x.dtype, device="cpu").to(x.device)
            x = mean + schedule.gather(schedule.posterior_variance, t, x).sqrt() * noise
        else:
            x = mean
    return x


def ddim_timesteps(num_timesteps: int, num_steps: int) -> list[int]:
    """Evenly spaced decreasing timesteps from T-1 down to 0 (num_steps of them)."""
    check_int("sampling_steps", num_steps, 1, num_timesteps, expected=f"an integer in [1, num_timesteps={num_timesteps}]")
    steps = torch.linspace(num_timesteps - 1, 0, num_steps).round().long().tolist()
    return list(dict.fromkeys(steps))  # drop repeats, keep order


@torch.no_grad()
def ddim_sample(
    eps_fn: EpsFn,
    schedule: NoiseSchedule,
    x_T: torch.Tensor,
    cond: torch.Tensor,
    num_steps: int = 50,
    eta: float = 0.0,
    generator: torch.Generator | None = None,
    clip_x0: bool = True,
) -> torch.Tensor:
    """DDIM sampling (Song et al. 2021) on a sub-sequence of num_steps timesteps.

    eta = 0 is deterministic given x_T; eta = 1 matches DDPM's variance on the sub-sequence.
    The last step returns the predicted x0 at t = 0.
    """
    steps = ddim_timesteps(schedule.num_timesteps, num_steps)
    x = x_T
    for i, step in enumerate(steps):
        t = _timesteps(step, x.shape[0], x.device)
        eps = eps_fn(x, t, cond)
        x0 = schedule.predict_x0(x, eps, t)
        if clip_x0:
            x0 = x0.clamp(-1.0, 1.0)
            # Keep eps consistent with the clipped x0 so the update stays on the DDIM path.
            abar = schedule.gather(schedule.alphas_cumprod, t, x)
            eps = (x - abar.sqrt() * x0) / (1.0 - abar).sqrt()
        if i == len(steps) - 1:
            return x0
        t_prev = _timesteps(steps[i + 1], x.shape[0], x.device)
        abar = schedule.gather(schedule.alphas_cumprod, t, x)
        abar_prev = schedule.gather(schedule.alphas_cumprod, t_prev, x)
        sigma = eta * ((1 - abar_prev) / (1 - abar) * (1 - abar / abar_prev)).sqrt()
        direction = (1.0 - abar_prev - sigma**2).clamp(min=0.0).sqrt() * eps
        x = abar_prev.sqrt() * x0 + direction
        if eta > 0:
            noise = torch.randn(x.shape, generator=generator, dtype=x.dtype, device="cpu").to(x.device)
            x = x + sigma * noise
    return x
