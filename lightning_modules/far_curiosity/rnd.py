"""Random Network Distillation pieces of FARCuriosity (docs/papers/far_curiosity.md sections 2.1 and 2.6):
running statistics, observation whitening, the intrinsic-reward normalisation and the RND networks.
Pure torch: no Lightning.

- `RunningMeanStd`: the parallel-algorithm mean / variance update from batch moments, count started
  at epsilon = 1e-4 (as in RND). gymnasium ships the same algorithm
  (`gymnasium.wrappers.utils.RunningMeanStd`), but it keeps numpy float64 arrays in plain attributes:
  they follow neither the module's device nor its `state_dict`. This one holds float64 torch buffers
  (checkpointed, moved by `.to(device)`) and is tested against gymnasium's numbers.
- `ObservationNormaliser`: the RND input (flat observations as they are; for (C, 84, 84) images the
  last frame only, 1 x 84 x 84), whitened with a `RunningMeanStd` of observations and clipped to
  [-5, 5] (section 2.6). FARCuriosity shares one normaliser among all its modules.
- `RewardForwardFilter` / `normalise_intrinsic` / `IntrinsicRewardNormaliser`: intrinsic reward =
  raw error / sqrt(var of the forward-filtered discounted intrinsic return), gamma_int = 0.99, 0 on
  done steps (section 2.1, oracle 7.8). Exact convention: for each env the filter runs over the
  batch's time steps, R_t = gamma R_{t-1} + e_t on steps that are not done (a done step holds R:
  neither decayed nor incremented; R is not reset, the intrinsic return is non-episodic); the
  filtered values R_t of the not-done steps update a scalar `RunningMeanStd` of returns (count =
  number of not-done steps); then reward_t = e_t / sqrt(var), and 0 where done. (The reference also
  feeds the held values of done steps into the batch mean / variance; we leave them out.)
- `RND`: a fixed random target and a trainable predictor, orthogonal init with gain sqrt(2) and zero
  biases; the kind follows the observation shape (`rnd_kind`):
  "mlp" for flat (D,) observations: target Linear(D -> feature_dim), predictor
  D -> w -> w -> feature_dim with ReLU (defaults feature_dim 64, w 128: the prototype of section 6 A);
  "cnn" for (C, 84, 84) images (table of section 2.6): three convolutions
  Conv(32, 8, s4) - Conv(64, 4, s2) - Conv(64, 3, s1) with LeakyReLU, then the target's FC 3136 -> 512
  and the predictor's FC 3136 -> w -> ReLU -> w -> ReLU -> feature_dim (defaults 512, 512).
  `errors(x)` = mean over features of (predictor - target)^2, i.e. the MSE / feature_dim of section 2.1.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from neurobolts.plugins.checks import check_int, check_number, is_integer

KINDS = ("mlp", "cnn")
IMAGE_SIZE = 84
CNN_FEATURES = 64 * 7 * 7  # output of the three convolutions on an 84 x 84 frame
DEFAULT_FEATURE_DIM = {"mlp": 64, "cnn": 512}
DEFAULT_PREDICTOR_WIDTH = {"mlp": 128, "cnn": 512}
OBS_CLIP = 5.0


def _shape_tuple(name: str, shape: Sequence[int] | torch.Size) -> tuple[int, ...]:
    try:
        values = tuple(shape)
    except TypeError:
        raise ValueError(f"{name} must be a sequence of positive integers, got {shape!r}") from None
    if not values or not all(is_integer(v) and v >= 1 for v in values):
        raise ValueError(f"{name} must be a non-empty sequence of positive integers, got {shape!r}")
    return tuple(int(v) for v in values)


def rnd_kind(obs_shape: Sequence[int]) -> str:
    """"mlp" for a flat observation (D,), "cnn" for stacked frames (C, 84, 84); ValueError otherwise."""
    shape = _shape_tuple("obs_shape", obs_shape)
    if len(shape) == 1:
        return "mlp"
    if len(shape) == 3 and shape[1:] == (IMAGE_SIZE, IMAGE_SIZE):
        return "cnn"
    raise ValueError(f"obs_shape must be a flat observation (D,) (RND kind 'mlp') or stacked frames "
                     f"(C, {IMAGE_SIZE}, {IMAGE_SIZE}) (RND kind 'cnn'), got {tuple(obs_shape)!r}")


def rnd_input_shape(obs_shape: Sequence[int]) -> tuple[int, ...]:
    """Shape of the RND input: the observation itself (mlp) or its last frame (cnn: 1 x 84 x 84)."""
    return (1, IMAGE_SIZE, IMAGE_SIZE) if rnd_kind(obs_shape) == "cnn" else _shape_tuple("obs_shape", obs_shape)


class RunningMeanStd(nn.Module):
    """Mean and (population) variance of a stream of batches, updated from batch moments with the
    parallel algorithm (Chan et al.; as in RND and gymnasium). Buffers `mean`, `var` (shape `shape`)
    and `count` are float64 and part of the state dict."""

    def __init__(self, shape: Sequence[int] = (), epsilon: float = 1e-4):
        super().__init__()
        self.shape = tuple(int(s) for s in shape)
        check_number("epsilon", epsilon, 0, low_open=True)
        self.register_buffer("mean", torch.zeros(self.shape, dtype=torch.float64))
        self.register_buffer("var", torch.ones(self.shape, dtype=torch.float64))
        self.register_buffer("count", torch.tensor(float(epsilon), dtype=torch.float64))

    def update(self, x: torch.Tensor) -> None:
        """Add a batch x of shape (B, *shape)."""
        if x.dim() != len(self.shape) + 1 or tuple(x.shape[1:]) != self.shape:
            raise ValueError(f"x must have shape (B, *{self.shape}), got {tuple(x.shape)}")
        if x.shape[0] == 0:
            return
        x = x.detach().to(self.mean.device, torch.float64)
        self.update_from_moments(x.mean(0), x.var(0, unbiased=False), x.shape[0])

    @torch.no_grad()
    def update_from_moments(self, batch_mean: torch.Tensor, batch_var: torch.Tensor, batch_count: float) -> None:
        batch_mean = torch.as_tensor(batch_mean, dtype=torch.float64, device=self.mean.device)
        batch_var = torch.as_tensor(batch_var, dtype=torch.float64, device=self.mean.device)
        delta = batch_mean - self.mean
        total = self.count + batch_count
        m2 = self.var * self.count + batch_var * batch_count + delta.square() * self.count * batch_count / total
        self.mean.add_(delta * batch_count / total)
        self.var.copy_(m2 / total)
        self.count.copy_(total)

    @property
    def std(self) -> torch.Tensor:
        return self.var.sqrt()


class ObservationNormaliser(nn.Module):
    """The RND input of a batch of observations (B, *obs_shape): the last frame for images, whitened
    with running observation statistics and clipped to [-5, 5] (section 2.6). `update` adds a batch to
    the statistics; calling the module never changes them."""

    def __init__(self, obs_shape: Sequence[int]):
        super().__init__()
        self.kind = rnd_kind(obs_shape)
        self.obs_shape = tuple(int(s) for s in obs_shape)
        self.input_shape = rnd_input_shape(obs_shape)
        self.rms = RunningMeanStd(self.input_shape)

    def select(self, obs: torch.Tensor) -> torch.Tensor:
        """(B, *obs_shape) -> (B, *input_shape) as float32 (last frame only for images)."""
        if obs.dim() != len(self.obs_shape) + 1 or tuple(obs.shape[1:]) != self.obs_shape:
            raise ValueError(f"obs must have shape (B, *{self.obs_shape}), got {tuple(obs.shape)}")
        if self.kind == "cnn":
            obs = obs[:, -1:]
        return obs.float()

    def update(self, obs: torch.Tensor) -> None:
        self.rms.update(self.select(obs))

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        x = self.select(obs)
        mean = self.rms.mean.to(x.device, x.dtype)
        std = self.rms.var.sqrt().to(x.device, x.dtype)
        return ((x - mean) / (std + 1e-8)).clamp(-OBS_CLIP, OBS_CLIP)


class RewardForwardFilter(nn.Module):
    """Discounted running intrinsic return per environment, R <- gamma R + r (module docstring for the
    done convention). Buffer `returns` (num_envs,), float64."""

    def __init__(self, gamma: float = 0.99, num_envs: int = 1):
        super().__init__()
        self.gamma = check_number("gamma", gamma, 0, 1)
        self.num_envs = check_int("num_envs", num_envs, 1)
        self.register_buffer("returns", torch.zeros(self.num_envs, dtype=torch.float64))

    @torch.no_grad()
    def update(self, rewards: torch.Tensor, not_done: torch.Tensor | None = None) -> torch.Tensor:
        """One time step: rewards (num_envs,), not_done (num_envs,) bool (None: all). Returns a copy of
        the filtered values."""
        if tuple(rewards.shape) != (self.num_envs,):
            raise ValueError(f"rewards must have shape ({self.num_envs},), got {tuple(rewards.shape)}")
        rewards = rewards.detach().to(self.returns.device, torch.float64)
        updated = self.returns * self.gamma + rewards
        if not_done is None:
            self.returns.copy_(updated)
        else:
            self.returns.copy_(torch.where(not_done.to(self.returns.device), updated, self.returns))
        return self.returns.clone()


def _check_rewards_and_dones(raw: torch.Tensor, dones: torch.Tensor | None) -> torch.Tensor:
    if raw.dim() != 2:
        raise ValueError(f"raw intrinsic rewards must have shape (T, N), got {tuple(raw.shape)}")
    if dones is None:
        return torch.zeros(raw.shape, dtype=torch.bool, device=raw.device)
    if tuple(dones.shape) != tuple(raw.shape):
        raise ValueError(f"dones must have the shape of the rewards {tuple(raw.shape)}, got {tuple(dones.shape)}")
    return dones.to(raw.device).bool()


@torch.no_grad()
def normalise_intrinsic(raw: torch.Tensor, dones: torch.Tensor | None, reward_filter: RewardForwardFilter,
                        return_rms: RunningMeanStd) -> torch.Tensor:
    """Intrinsic rewards (T, N) from raw errors (T, N): raw / sqrt(var of the forward-filtered return),
    0 on done steps. Updates `reward_filter` (over time, per env) and `return_rms` (a scalar
    RunningMeanStd) with this batch first (module docstring)."""
    dones = _check_rewards_and_dones(raw, dones)
    not_done = ~dones
    filtered = torch.stack([reward_filter.update(raw[t], not_done[t]) for t in range(raw.shape[0])])
    valid = filtered[not_done.to(filtered.device)]
    if valid.numel() > 0:
        return_rms.update(valid)
    scale = return_rms.var.sqrt().clamp_min(1e-32).to(raw.device)
    rewards = (raw.double() / scale).to(raw.dtype)
    return rewards.masked_fill(dones, 0.0)


class IntrinsicRewardNormaliser(nn.Module):
    """`normalise_intrinsic` with its state (a `RewardForwardFilter` and the return `RunningMeanStd`)."""

    def __init__(self, num_envs: int, gamma: float = 0.99):
        super().__init__()
        self.reward_filter = RewardForwardFilter(gamma, num_envs)
        self.return_rms = RunningMeanStd(())

    def forward(self, raw: torch.Tensor, dones: torch.Tensor | None = None) -> torch.Tensor:
        return normalise_intrinsic(raw, dones, self.reward_filter, self.return_rms)


def _conv_trunk(in_channels: int) -> list[nn.Module]:
    return [nn.Conv2d(in_channels, 32, kernel_size=8, stride=4), nn.LeakyReLU(),
            nn.Conv2d(32, 64, kernel_size=4, stride=2), nn.LeakyReLU(),
            nn.Conv2d(64, 64, kernel_size=3, stride=1), nn.LeakyReLU(), nn.Flatten()]


class RND(nn.Module):
    """A fixed random target network and a trainable predictor on whitened RND inputs
    (`ObservationNormaliser`); the kind ("mlp" / "cnn") follows `obs_shape` (module docstring).

    Args:
        obs_shape: the observation shape (D,) or (C, 84, 84); the networks read (D,) or (1, 84, 84).
        feature_dim: output size of both networks (default 64 mlp, 512 cnn).
        predictor_width: hidden width w of the predictor's fully connected layers (default 128 mlp,
            512 cnn).
        generator: torch.Generator (CPU) for the initialisation.
    """

    def __init__(self, obs_shape: Sequence[int], feature_dim: int | None = None,
                 predictor_width: int | None = None, *, generator: torch.Generator | None = None):
        super().__init__()
        self.kind = rnd_kind(obs_shape)
        self.input_shape = rnd_input_shape(obs_shape)
        self.feature_dim = check_int("feature_dim", DEFAULT_FEATURE_DIM[self.kind] if feature_dim is None
                                     else feature_dim, 1)
        self.predictor_width = check_int("predictor_width", DEFAULT_PREDICTOR_WIDTH[self.kind]
                                         if predictor_width is None else predictor_width, 1)
        w, f = self.predictor_width, self.feature_dim
        if self.kind == "mlp":
            d = self.input_shape[0]
            self.target = nn.Sequential(nn.Linear(d, f))
            self.predictor = nn.Sequential(nn.Linear(d, w), nn.ReLU(), nn.Linear(w, w), nn.ReLU(), nn.Linear(w, f))
        else:
            channels = self.input_shape[0]
            self.target = nn.Sequential(*_conv_trunk(channels), nn.Linear(CNN_FEATURES, f))
            self.predictor = nn.Sequential(*_conv_trunk(channels), nn.Linear(CNN_FEATURES, w), nn.ReLU(),
                                           nn.Linear(w, w), nn.ReLU(), nn.Linear(w, f))
        self.target.requires_grad_(False)
        self.reset_parameters(generator)

    @torch.no_grad()
    def reset_parameters(self, generator: torch.Generator | None = None) -> None:
        """New random target and predictor: orthogonal weights (gain sqrt(2)), zero biases. Parameters
        are re-drawn in place (same tensors), on CPU with `generator` and then copied to their device."""
        for layer in [*self.target, *self.predictor]:
            if isinstance(layer, (nn.Linear, nn.Conv2d)):
                weight = torch.empty(layer.weight.shape, dtype=layer.weight.dtype)
                nn.init.orthogonal_(weight, gain=math.sqrt(2.0), generator=generator)
                layer.weight.copy_(weight)
                layer.bias.zero_()

    def _check_input(self, x: torch.Tensor) -> None:
        if x.dim() != len(self.input_shape) + 1 or tuple(x.shape[1:]) != self.input_shape:
            raise ValueError(f"RND input must have shape (B, *{self.input_shape}), got {tuple(x.shape)}")

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(predicted features, target features), both (B, feature_dim); the target carries no grad."""
        self._check_input(x)
        with torch.no_grad():
            target = self.target(x)
        return self.predictor(x), target

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """Target features phi(x) (B, feature_dim), no grad."""
        self._check_input(x)
        with torch.no_grad():
            return self.target(x)

    def errors(self, x: torch.Tensor) -> torch.Tensor:
        """Per-sample prediction error (B,): mean over features of (predictor - target)^2 (MSE /
        feature_dim). Differentiable in the predictor; wrap in no_grad for bonuses."""
        predicted, target = self(x)
        return (predicted - target).square().mean(-1)
