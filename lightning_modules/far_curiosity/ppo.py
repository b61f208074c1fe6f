"""PPO pieces of FARCuriosity's learner (docs/papers/far_curiosity.md sections 2.6 and 6 B): generalised
advantage estimation, the clipped policy and value losses, and the actor-critic network. Pure torch: no
Lightning, no environments (the LightningModule `module.PPOCuriosity` runs the algorithm around them).

Conventions (those of CleanRL's `ppo.py`, which this file follows; written from the formulas of
Schulman et al. 2016 / 2017 and Burda et al. 2019, not copied):

- Rollout tensors are (T, N): T steps of N environments. `dones[t]` is the done flag of the
  OBSERVATION at step t (True when obs[t] is the first observation of a new episode because the
  previous step ended one); `next_done` / `next_value` are those of the observation after the last
  step. The value of an observation whose `done` is set is not bootstrapped into the step before it.
- An intrinsic return is non-episodic (RND): call `gae` with `dones` all False (and `next_done`
  False) so nothing is cut at episode ends.

TorchRL is not used for GAE or the losses: it pins torch versions tightly and pulls tensordict, and
each piece is ~20 lines here, tested against a direct formula (tests/test_far_curiosity_ppo.py).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn
from torch.distributions import Categorical

# shapes the encoder accepts (see `ActorCritic`)
MAX_SMALL_IMAGE_SIDE = 32  # (H, W, C) images up to this side are flattened into the MLP
MIN_CONV_IMAGE_SIDE = 36  # (C, H, W) images of at least this side go through the conv stack
ACTIVATIONS = {"tanh": nn.Tanh, "relu": nn.ReLU}


def gae(rewards: Tensor, values: Tensor, dones: Tensor, next_value: Tensor, next_done: Tensor,
        gamma: float, lam: float) -> tuple[Tensor, Tensor]:
    """Generalised advantage estimates and lambda-returns of a rollout.

    delta_t = r_t + gamma * V(s_{t+1}) * (1 - d_{t+1}) - V(s_t),
    A_t = delta_t + gamma * lam * (1 - d_{t+1}) * A_{t+1},   returns_t = A_t + V(s_t),
    with d_{T} = next_done and V(s_T) = next_value.

    Args:
        rewards, values, dones: (T, N) tensors (dones as bool or 0/1).
        next_value, next_done: (N,) value and done flag of the observation after the last step.
    Returns:
        (advantages, returns), both (T, N) in the dtype of `values`.
    """
    if rewards.shape != values.shape or rewards.shape != dones.shape or rewards.ndim != 2:
        raise ValueError(f"rewards, values and dones must be (T, N) tensors of one shape, got "
                         f"{tuple(rewards.shape)}, {tuple(values.shape)}, {tuple(dones.shape)}")
    if next_value.shape != rewards.shape[1:] or next_done.shape != rewards.shape[1:]:
        raise ValueError(f"next_value and next_done must have shape {tuple(rewards.shape[1:])}, got "
                         f"{tuple(next_value.shape)} and {tuple(next_done.shape)}")
    num_steps = rewards.shape[0]
    not_done = 1.0 - torch.cat([dones[1:], next_done[None]]).to(values.dtype)  # (1 - d_{t+1})
    next_values = torch.cat([values[1:], next_value[None]]).to(values.dtype)
    deltas = rewards.to(values.dtype) + gamma * next_values * not_done - values
    advantages = torch.zeros_like(values)
    last = torch.zeros_like(values[0])
    for t in reversed(range(num_steps)):
        last = deltas[t] + gamma * lam * not_done[t] * last
        advantages[t] = last
    return advantages, advantages + values


def standardise(x: Tensor, eps: float = 1e-8) -> Tensor:
    """(x - mean) / (std + eps) with the sample std (as CleanRL's advantage normalisation); a single
    element is only centred."""
    if x.numel() < 2:
        return x - x.mean()
    return (x - x.mean()) / (x.std() + eps)


def ppo_policy_loss(new_logprob: Tensor, old_logprob: Tensor, advantages: Tensor, clip: float,
                    normalise: bool = True) -> tuple[Tensor, Tensor, Tensor]:
    """PPO's clipped surrogate, to minimise: mean(max(-A r, -A clip(r, 1 - clip, 1 + clip))),
    r = exp(new_logprob - old_logprob); A normalised over the minibatch first when asked.

    Returns (loss, approx_kl, clip_fraction) with approx_kl = mean((r - 1) - log r) (Schulman's
    unbiased estimator) and clip_fraction = share of samples with |r - 1| > clip (both detached).
    """
    if normalise:
        advantages = standardise(advantages)
    log_ratio = new_logprob - old_logprob
    ratio = log_ratio.exp()
    loss = torch.max(-advantages * ratio, -advantages * ratio.clamp(1.0 - clip, 1.0 + clip)).mean()
    with torch.no_grad():
        approx_kl = ((ratio - 1.0) - log_ratio).mean()
        clip_fraction = ((ratio - 1.0).abs() > clip).float().mean()
    return loss, approx_kl, clip_fraction


def value_loss(new: Tensor, returns: Tensor, old: Tensor | None = None, clip: float | None = None) -> Tensor:
    """0.5 mean (V - R)^2, or with `old` and `clip` the clipped form
    0.5 mean max((V - R)^2, (V_old + clip(V - V_old, -clip, clip) - R)^2)."""
    unclipped = (new - returns) ** 2
    if clip is None:
        return 0.5 * unclipped.mean()
    if old is None:
        raise ValueError("value_loss needs the old values when clip is given")
    clipped = (old + (new - old).clamp(-clip, clip) - returns) ** 2
    return 0.5 * torch.max(unclipped, clipped).mean()


def layer_init(layer: nn.Module, gain: float = math.sqrt(2), bias: float = 0.0) -> nn.Module:
    """Orthogonal weights with `gain`, constant bias (CleanRL's init)."""
    nn.init.orthogonal_(layer.weight, gain)
    nn.init.constant_(layer.bias, bias)
    return layer


def encoder_kind(obs_shape: tuple[int, ...]) -> str:
    """"flat" for (D,), "small_image" for (H, W, C) with C <= 4 and H, W <= 32 (grid-world crops),
    "conv" for (C, H, W) with C <= 16 and H, W >= 36 (stacked Atari frames, (4, 84, 84)); else ValueError."""
    shape = tuple(int(s) for s in obs_shape)
    if len(shape) == 1 and shape[0] >= 1:
        return "flat"
    if len(shape) == 3:
        if 1 <= shape[2] <= 4 and 1 <= shape[0] <= MAX_SMALL_IMAGE_SIDE and 1 <= shape[1] <= MAX_SMALL_IMAGE_SIDE:
            return "small_image"
        if 1 <= shape[0] <= 16 and shape[1] >= MIN_CONV_IMAGE_SIDE and shape[2] >= MIN_CONV_IMAGE_SIDE:
            return "conv"
    raise ValueError(f"obs_shape must be a flat vector (D,), a small channels-last image (H, W, C) with C <= 4 "
                     f"and H, W <= {MAX_SMALL_IMAGE_SIDE}, or stacked channels-first frames (C, H, W) with "
                     f"C <= 16 and H, W >= {MIN_CONV_IMAGE_SIDE} (e.g. (4, 84, 84)), got {tuple(obs_shape)!r}")


class ActorCritic(nn.Module):
    """Policy (categorical) and value heads on one encoder, optionally through an LSTM.

    Encoders by observation shape (`encoder_kind`):

    - flat (D,): MLP D -> hidden -> hidden (default 64, tanh: CleanRL's CartPole network). Without an
      LSTM the critic gets its own MLP of the same shape (`separate_critic`, CleanRL `ppo.py`).
    - small image (H, W, C), uint8: scaled to [0, 1], flattened, MLP (default 256, ReLU: grid crops).
    - conv (C, H, W), uint8: scaled to [0, 1], Conv(16, 8x8, s4) -> ReLU -> Conv(32, 4x4, s2, p1) -> ReLU
      -> FC 512 -> ReLU (spec 2.6; `hidden` changes the FC width).

    With `lstm=True` the features, concatenated with the one-hot previous action (zeros at an
    episode's first step), feed an LSTM(`lstm_hidden`, default 512, spec 2.6) whose state is reset
    where `done` is set; the heads read the LSTM output. Heads: `actor` (logits), `value_ext` and,
    with `dual_value=True`, `value_int` (the intrinsic return, RND). Orthogonal init: gain sqrt(2) in
    the encoder, 0.01 on the policy head, 1 on the value heads; LSTM weights orthogonal, biases 0.

    Recurrent calls take observations of T steps of N environments flattened time-major, (T * N, ...),
    with `state` = (h, c), each (1, N, lstm_hidden), from `initial_state(N)` or a previous call.
    """

    def __init__(self, obs_shape: tuple[int, ...], num_actions: int, *, hidden: int | None = None,
                 activation: str | None = None, lstm: bool = False, lstm_hidden: int = 512,
                 dual_value: bool = False, separate_critic: bool | None = None) -> None:
        super().__init__()
        self.obs_shape = tuple(int(s) for s in obs_shape)
        self.kind = encoder_kind(self.obs_shape)
        if not isinstance(num_actions, int) or isinstance(num_actions, bool) or num_actions < 2:
            raise ValueError(f"num_actions must be an integer >= 2 (a discrete action space), got {num_actions!r}")
        if activation is not None and activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {tuple(ACTIVATIONS)} or None, got {activation!r}")
        if hidden is not None and (not isinstance(hidden, int) or isinstance(hidden, bool) or hidden < 1):
            raise ValueError(f"hidden must be an integer >= 1 or None, got {hidden!r}")
        if not isinstance(lstm_hidden, int) or isinstance(lstm_hidden, bool) or lstm_hidden < 1:
            raise ValueError(f"lstm_hidden must be an integer >= 1, got {lstm_hidden!r}")
        if separate_critic is None:
            separate_critic = self.kind == "flat" and not lstm
        if separate_critic and lstm:
            raise ValueError("separate_critic=True needs lstm=False (the LSTM is shared by actor and critic)")
        self.num_actions = num_actions
        self.use_lstm = bool(lstm)
        self.dual_value = bool(dual_value)
        self.separate_critic = bool(separate_critic)
        self.scale_input = self.kind != "flat"  # uint8 images -> [0, 1]

        self.encoder, features = self._make_encoder(hidden, activation)
        self.critic_encoder = self._make_encoder(hidden, activation)[0] if self.separate_critic else None
        if self.use_lstm:
            self.lstm = nn.LSTM(features + num_actions, lstm_hidden)
            for name, param in self.lstm.named_parameters():
                if "bias" in name:
                    nn.init.constant_(param, 0.0)
                elif "weight" in name:
                    nn.init.orthogonal_(param, 1.0)
            features = lstm_hidden
        self.actor = layer_init(nn.Linear(features, num_actions), gain=0.01)
        self.value_ext = layer_init(nn.Linear(features, 1), gain=1.0)
        self.value_int = layer_init(nn.Linear(features, 1), gain=1.0) if self.dual_value else None

    def _make_encoder(self, hidden: int | None, activation: str | None) -> tuple[nn.Module, int]:
        if self.kind == "conv":
            channels, height, width = self.obs_shape
            act = ACTIVATIONS[activation or "relu"]
            convs = nn.Sequential(layer_init(nn.Conv2d(channels, 16, 8, stride=4)), act(),
                                  layer_init(nn.Conv2d(16, 32, 4, stride=2, padding=1)), act(), nn.Flatten())
            with torch.no_grad():
                flat = convs(torch.zeros(1, channels, height, width)).shape[1]
            width_out = hidden or 512
            return nn.Sequential(convs, layer_init(nn.Linear(flat, width_out)), act()), width_out
        flat = math.prod(self.obs_shape)
        width_out = hidden or (64 if self.kind == "flat" else 256)
        act = ACTIVATIONS[activation or ("tanh" if self.kind == "flat" else "relu")]
        return nn.Sequential(nn.Flatten(), layer_init(nn.Linear(flat, width_out)), act(),
                             layer_init(nn.Linear(width_out, width_out)), act()), width_out

    def initial_state(self, num_envs: int, device: torch.device | str | None = None) -> tuple[Tensor, Tensor] | None:
        """Zero (h, c) of the LSTM for `num_envs` environments; None without an LSTM."""
        if not self.use_lstm:
            return None
        zeros = torch.zeros(1, num_envs, self.lstm.hidden_size, device=device)
        return zeros, zeros.clone()

    def _prepare(self, obs: Tensor) -> Tensor:
        if obs.shape[1:] != self.obs_shape:
            raise ValueError(f"observations must have shape (B, {', '.join(map(str, self.obs_shape))}), "
                             f"got {tuple(obs.shape)}")
        obs = obs.float()
        return obs / 255.0 if self.scale_input else obs

    def _recurrent(self, features: Tensor, state: tuple[Tensor, Tensor], done: Tensor | None,
                   prev_action: Tensor | None) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        num_envs = state[0].shape[1]
        if features.shape[0] % num_envs:
            raise ValueError(f"a recurrent call needs T * N observations (N = {num_envs} from the state), "
                             f"got {features.shape[0]}")
        if done is None:
            done = torch.zeros(features.shape[0], device=features.device)
        not_done = 1.0 - done.float().reshape(-1, num_envs)  # (T, N)
        if prev_action is None:
            one_hot = torch.zeros(features.shape[0], self.num_actions, device=features.device)
        else:  # no previous action at an episode's first step
            one_hot = nn.functional.one_hot(prev_action.long().reshape(-1), self.num_actions).float()
            one_hot = one_hot * not_done.reshape(-1, 1)
        inputs = torch.cat([features, one_hot], dim=1).reshape(-1, num_envs, features.shape[1] + self.num_actions)
        h, c = state
        outputs = []
        for x_t, keep in zip(inputs, not_done, strict=True):  # reset the state where a new episode starts
            out, (h, c) = self.lstm(x_t[None], (keep.view(1, -1, 1) * h, keep.view(1, -1, 1) * c))
            outputs.append(out)
        return torch.cat(outputs).reshape(-1, self.lstm.hidden_size), (h, c)

    def _heads_input(self, obs: Tensor, state, done, prev_action) -> tuple[Tensor, Tensor, object]:
        """(actor features, critic features, new state)."""
        x = self._prepare(obs)
        features = self.encoder(x)
        if self.use_lstm:
            if state is None:
                raise ValueError("an LSTM policy needs its state: pass initial_state(num_envs) on the first call")
            features, state = self._recurrent(features, state, done, prev_action)
        critic = self.critic_encoder(x) if self.critic_encoder is not None else features
        return features, critic, state

    def _values(self, critic: Tensor) -> tuple[Tensor, Tensor | None]:
        value_int = self.value_int(critic).squeeze(-1) if self.value_int is not None else None
        return self.value_ext(critic).squeeze(-1), value_int

    def get_value(self, obs: Tensor, state=None, done: Tensor | None = None,
                  prev_action: Tensor | None = None) -> tuple[Tensor, Tensor | None]:
        """(value_ext, value_int) of each observation, (B,) each; value_int is None without `dual_value`."""
        _, critic, _ = self._heads_input(obs, state, done, prev_action)
        return self._values(critic)

    def get_action_and_value(self, obs: Tensor, state=None, done: Tensor | None = None,
                             prev_action: Tensor | None = None, action: Tensor | None = None):
        """Sample an action (or score the given `action`).

        Returns (action, logprob, entropy, value_ext, value_int, new_state): (B,) tensors, value_int None
        without `dual_value`, new_state the LSTM's (h, c) (None without an LSTM).
        """
        actor, critic, state = self._heads_input(obs, state, done, prev_action)
        dist = Categorical(logits=self.actor(actor))
        if action is None:
            action = dist.sample()
        value_ext, value_int = self._values(critic)
        return action, dist.log_prob(action), dist.entropy(), value_ext, value_int, state
