"""`experiment=far_curiosity` / `far_curiosity_atari`: PPO with an RND / FARCuriosity intrinsic reward
(docs/papers/far_curiosity.md sections 2.1, 2.6 and 6 B), one PPO iteration per training step.

Each `training_step` is one iteration of the algorithm, read top to bottom (CleanRL's `ppo.py` and
`ppo_rnd_envpool.py` are the model of readability; written from the spec, not copied):

1. rollout: `num_steps` steps of this rank's `num_envs` environments, actions sampled under no_grad
   (the LSTM state and the previous action carried between iterations);
2. intrinsic reward (curiosity on): the observations reached first update the curiosity's
   whitening statistics; then the raw RND error of each, under the module each environment had at
   the START of the rollout (the one-batch lag of spec section 5.4; with the curiosity's
   `bonus_lag=False` the errors are recomputed after step 2's switches); `FARCuriosity.observe`
   fragments / recalls on those errors; the reward = raw error / sqrt(var of the forward-filtered
   intrinsic return), 0 on steps that end an episode (`FARCuriosity.normalise_rewards`, `rnd.py`);
   a grid crop (H, W, 3) reaches the curiosity flattened;
3. advantages: GAE for the extrinsic return (episodic: cut at episode ends) with head `value_ext`, and
   for the intrinsic return (non-episodic, as in RND: never cut) with head `value_int`; the policy's
   advantage is ext_coef * A_ext + int_coef * A_int (curiosity off: A_ext alone);
4. `update_epochs` x `num_minibatches` clipped PPO steps (advantages normalised per minibatch, the
   extrinsic value loss clipped as CleanRL's, the intrinsic one not; gradient norm clipped);
   an LSTM policy is updated on minibatches of whole environments (all T steps of N / num_minibatches
   environments, replayed from the rollout's initial state). With a curiosity, each minibatch also
   takes one predictor step (`FARCuriosity.train_step`, its own optimisers) on the minibatch's
   reached observations, each sample on the module its environment is assigned to after step 2
   (`batch_module_ids`; spec 2.5: grouped by module, a random 25 % of the samples), as RND trains
   its predictor in every PPO minibatch.

Library choices. gymnasium's `SyncVectorEnv` and `RecordEpisodeStatistics` run the environments (from
the DataModule's `make_envs(rank)`). The vector env's default autoreset mode (NEXT_STEP) would return
the reset observation one step late, with an ignored action; the rollout resets finished environments
at once through `reset(options={"reset_mask": done})`, so every stored transition is a real one
(SAME_STEP envs are used as they are). TorchRL is not used: it pins torch versions tightly and pulls
tensordict, while GAE and the clipped losses are ~20 lines each (`ppo.py`) and tested against a
direct formula. As in CleanRL, a truncated episode is treated like a terminated one (no bootstrap
from its last observation).

Curiosity ownership. The FARCuriosity object (its RND modules grow and are re-initialised as the agent
fragments) is NOT a registered submodule: it is kept as a plain attribute (`object.__setattr__`), so
DDP wraps only the policy, whose parameters are the same on every rank; under DDP each rank runs its
own environments, fragments on its own and trains its own curiosity (module counts differ between
ranks), while the policy's gradients are all-reduced. The curiosity is moved to the module's device in
`on_train_start` and saved / restored by `on_save_checkpoint` / `on_load_checkpoint`
(checkpoint["far_curiosity"] = its state_dict, with its modules, optimisers, statistics, long-term
memory and reward normaliser; checkpoint["ppo_state"] holds the spaces the policy was built for, the
iteration counter, the return window and the visited cells). Environments are not checkpointed: a
resumed run starts fresh episodes.

How long training runs. Optimisation is manual and Lightning counts every `opt.step()` as a global
step, so `trainer.max_steps` counts minibatch updates (update_epochs * num_minibatches per iteration),
not iterations nor environment steps. Drive training by the DataModule's `iterations` (one loader item
per iteration, `max_epochs=1`); a `max_steps` also works (training stops after the iteration in which
it is reached) and the learning-rate annealing uses whichever limit is smaller. The logger's step is
the iteration; every metric is logged with `rollout/env_steps` (global environment steps:
num_steps * num_envs * world_size * (iteration + 1)) as the x axis to plot against.

Logged each iteration (on_step): `rollout/episodic_return`, `rollout/episode_length` (means over the
episodes that ended in this iteration on all ranks; only when some did), `rollout/return_last20`
(mean of each rank's last 20 episode returns, over ranks), `rollout/env_steps`, `rollout/steps_per_s`
(global environment steps per wall second of the iteration, update included), `train/policy_loss`,
`train/value_loss`, `train/entropy`, `train/approx_kl`, `train/clip_fraction` (means over the
iteration's minibatches), `train/explained_variance`, `train/lr`; with a curiosity also
`rollout/intrinsic_reward` (mean normalised intrinsic reward over the rollout's steps that did not end
an episode), `rollout/intrinsic_reward_raw`, `curiosity/modules`, `curiosity/fragmentations`,
`curiosity/recalls` (this rank's totals) and `curiosity/predictor_loss` (mean over the minibatches);
on grid worlds (environments reporting info["cell"]) `rollout/cells_visited` (distinct cells visited
so far by this rank's environments) and `rollout/intrinsic_reward_revisited` (mean intrinsic reward
at cells that this rank had already visited in earlier iterations: the forgetting signal inside RL;
with a curiosity).
"""

from __future__ import annotations

import hashlib
import inspect
import logging
import math
import time
from collections import deque
from dataclasses import dataclass
from functools import partial

import numpy as np
import torch
from gymnasium.vector import AutoresetMode
from lightning.pytorch import LightningModule
from lightning.pytorch.utilities import rank_zero_warn
from torch import Tensor

from neurobolts.lightning_modules.common.optim import build_optimizers
from neurobolts.lightning_modules.far_curiosity.ppo import (
    ACTIVATIONS,
    ActorCritic,
    gae,
    ppo_policy_loss,
    value_loss,
)
from neurobolts.plugins.checks import check_choice, check_fraction, check_int, check_number, check_positive

log = logging.getLogger(__name__)

CURIOSITY_CHOICES = ("none", "rnd", "far", "far_recall")
RETURN_WINDOW = 20


@dataclass
class Rollout:
    """One iteration's transitions, (T, N) unless noted; `dones[t]` is the done flag of obs[t] (True
    when obs[t] starts an episode), `next_*` describe the observation after the last step."""

    obs: Tensor  # (T, N, *obs_shape), the environments' dtype (uint8 images stay uint8)
    actions: Tensor
    prev_actions: Tensor
    logprobs: Tensor
    rewards: Tensor
    dones: Tensor
    values_ext: Tensor
    values_int: Tensor | None
    next_obs: Tensor  # (N, *obs_shape)
    next_done: Tensor  # (N,)
    next_value_ext: Tensor
    next_value_int: Tensor | None
    initial_state: tuple[Tensor, Tensor] | None  # LSTM (h, c) before step 0
    cells: list | None  # per step, the N cells (row, col) reached (grid worlds), else None
    episode_returns: list[float]
    episode_lengths: list[float]

    def reached_obs(self) -> Tensor:
        """(T, N, *obs_shape): the observation reached by each step (a reset observation where the step
        ended an episode)."""
        return torch.cat([self.obs[1:], self.next_obs[None]])

    def step_dones(self) -> Tensor:
        """(T, N): whether each step ended an episode."""
        return torch.cat([self.dones[1:], self.next_done[None]])


def finished_episodes(info: dict) -> tuple[list[float], list[float]]:
    """Returns and lengths of the episodes that ended in one vector step, from RecordEpisodeStatistics
    (info["episode"] in NEXT_STEP / DISABLED autoreset mode, info["final_info"]["episode"] in SAME_STEP)."""
    returns: list[float] = []
    lengths: list[float] = []
    for source in (info, info.get("final_info") or {}):
        if "episode" in source:
            mask = np.asarray(source.get("_episode", np.ones(len(source["episode"]["r"]), dtype=bool)), dtype=bool)
            returns += np.asarray(source["episode"]["r"], dtype=np.float64)[mask].tolist()
            lengths += np.asarray(source["episode"]["l"], dtype=np.float64)[mask].tolist()
    return returns, lengths


def curiosity_arguments() -> tuple[str, ...]:
    """The FARCuriosity arguments `curiosity_kwargs` may set (obs_shape, num_envs and mode come from the
    environments and `curiosity`)."""
    from neurobolts.lightning_modules.far_curiosity.far import FARCuriosity

    names = inspect.signature(FARCuriosity.__init__).parameters
    return tuple(name for name in names if name not in ("self", "obs_shape", "num_envs", "mode"))


def _cells(info: dict, num_envs: int) -> list[tuple[int, int]] | None:
    if "cell" not in info:
        return None
    return [tuple(int(v) for v in cell) for cell in info["cell"][:num_envs]]


class PPOCuriosity(LightningModule):
    """PPO (+ RND / FARCuriosity intrinsic reward) collecting its rollouts inside training (module
    docstring). The environments come from the DataModule's `make_envs(rank)` (`RLEnvDataModule`).

    Args:
        curiosity: None or "none" (plain PPO), "rnd" (one RND), "far" (fragmentation), "far_recall"
            (fragmentation and recall).
        num_steps: rollout length per environment (T).
        gamma, gamma_int: discounts of the extrinsic and intrinsic returns; gae_lambda: GAE's lambda.
        num_minibatches, update_epochs: minibatches per epoch and epochs over each rollout.
        clip_coef: PPO's ratio clip; clip_vloss: clip the extrinsic value loss with the same coefficient.
        ent_coef, vf_coef: entropy bonus and value-loss weights; max_grad_norm: gradient-norm clip.
        lr, adam_eps: Adam's learning rate and epsilon; anneal_lr: decay lr linearly to 0 over the run.
        ext_coef, int_coef: weights of the extrinsic and intrinsic advantages (RND: 2 and 1).
        norm_adv: normalise advantages per minibatch.
        lstm, lstm_hidden: an LSTM policy (spec 2.6: 512 units, input features + one-hot previous action).
        hidden, activation: encoder width / activation (None: 64 tanh for flat observations, 256 ReLU for
            grid crops, 512 ReLU after the convolutions; `ppo.ActorCritic`).
        separate_critic: None (flat observations without LSTM: own critic MLP, as CleanRL) or a bool.
        curiosity_kwargs: keyword arguments of `FARCuriosity` (criterion, threshold, recall_threshold,
            mem_size, predictor_width, lr, ...).
        obs_norm_init_steps: environment steps (this rank, all its environments together, rounded up to
            whole vector steps) of uniformly random actions before training, to initialise the
            curiosity's observation whitening (spec 3: 10,000 on Atari); not counted in env_steps.
        seed: seed of the curiosity's initialisation (the policy's comes from Lightning's seed_everything).
    """

    def __init__(self, curiosity: str | None = None, num_steps: int = 128, gamma: float = 0.99,
                 gamma_int: float = 0.99, gae_lambda: float = 0.95, num_minibatches: int = 4,
                 update_epochs: int = 4, clip_coef: float = 0.1, clip_vloss: bool = True, ent_coef: float = 0.001,
                 vf_coef: float = 1.0, max_grad_norm: float = 1.0, lr: float = 1e-4, adam_eps: float = 1e-5,
                 anneal_lr: bool = True, ext_coef: float = 2.0, int_coef: float = 1.0, norm_adv: bool = True,
                 lstm: bool = False, lstm_hidden: int = 512, hidden: int | None = None,
                 activation: str | None = None, separate_critic: bool | None = None,
                 curiosity_kwargs: dict | None = None, obs_norm_init_steps: int = 0, seed: int = 0) -> None:
        super().__init__()
        mode = check_choice("curiosity", "none" if curiosity is None else curiosity, CURIOSITY_CHOICES)
        check_int("num_steps", num_steps, 1)
        check_fraction("gamma", gamma)
        check_fraction("gamma_int", gamma_int)
        check_fraction("gae_lambda", gae_lambda)
        check_int("num_minibatches", num_minibatches, 1)
        check_int("update_epochs", update_epochs, 1)
        check_positive("clip_coef", clip_coef)
        check_number("ent_coef", ent_coef, 0)
        check_number("vf_coef", vf_coef, 0)
        check_positive("max_grad_norm", max_grad_norm)
        check_positive("lr", lr)
        check_positive("adam_eps", adam_eps)
        check_number("ext_coef", ext_coef, 0)
        check_number("int_coef", int_coef, 0)
        check_int("lstm_hidden", lstm_hidden, 1)
        check_int("hidden", hidden, 1, allow_none=True)
        check_choice("activation", activation, tuple(ACTIVATIONS), allow_none=True)
        check_int("obs_norm_init_steps", obs_norm_init_steps, 0)
        check_int("seed", seed)
        for name, value in (("clip_vloss", clip_vloss), ("anneal_lr", anneal_lr), ("norm_adv", norm_adv),
                            ("lstm", lstm)):
            if not isinstance(value, bool):
                raise ValueError(f"{name} must be a bool, got {value!r}")
        if separate_critic is not None and not isinstance(separate_critic, bool):
            raise ValueError(f"separate_critic must be a bool or None, got {separate_critic!r}")
        if separate_critic and lstm:
            raise ValueError("separate_critic=True needs lstm=False (the LSTM is shared by actor and critic)")
        if curiosity_kwargs is not None and not hasattr(curiosity_kwargs, "items"):
            raise ValueError(f"curiosity_kwargs must be a mapping of FARCuriosity arguments or None, "
                             f"got {curiosity_kwargs!r}")
        unknown = sorted(set(curiosity_kwargs or {}) - set(curiosity_arguments()))
        if unknown:
            raise ValueError(f"curiosity_kwargs has unknown FARCuriosity arguments {unknown}; valid: "
                             f"{curiosity_arguments()}")
        # a plain dict (Hydra passes a DictConfig): checkpoints must load with torch.load(weights_only=True)
        curiosity_kwargs = None if curiosity_kwargs is None else {str(k): v for k, v in curiosity_kwargs.items()}
        self.save_hyperparameters(logger=False)
        self.automatic_optimization = False
        self.curiosity_mode = mode
        self.agent: ActorCritic | None = None  # built in `setup` (or from a checkpoint) once the spaces are known
        object.__setattr__(self, "_curiosity_model", None)  # NOT a submodule (module docstring)
        self.envs = None
        self.iteration = 0
        self.total_iterations: int | None = None
        self.return_window: deque[float] = deque(maxlen=RETURN_WINDOW)
        self.visited: set[tuple[int, int]] = set()
        self._spaces: dict | None = None

    # -- construction -------------------------------------------------------------------------------
    @property
    def curiosity_model(self):
        """The FARCuriosity of this rank (None with curiosity off or before `setup`)."""
        return self._curiosity_model

    def build(self, obs_shape: tuple[int, ...], num_actions: int, num_envs: int) -> None:
        """Create the policy and the curiosity for these spaces (idempotent; a second call with other
        spaces is an error)."""
        spaces = {"obs_shape": tuple(int(s) for s in obs_shape), "num_actions": int(num_actions),
                  "num_envs": int(num_envs)}
        if self._spaces is not None:
            if spaces != self._spaces:
                raise ValueError(f"the environments ({spaces}) do not match the ones this module was built for "
                                 f"({self._spaces})")
            return
        h = self.hparams
        num_minibatches = h.num_minibatches
        if h.lstm and num_envs % num_minibatches:
            raise ValueError(f"an LSTM policy splits minibatches by environment: num_envs ({num_envs}) must be "
                             f"a multiple of num_minibatches ({num_minibatches})")
        if not h.lstm and h.num_steps * num_envs < num_minibatches:
            raise ValueError(f"num_steps * num_envs ({h.num_steps * num_envs}) must be >= num_minibatches "
                             f"({num_minibatches})")
        self._spaces = spaces
        self.agent = ActorCritic(spaces["obs_shape"], spaces["num_actions"], hidden=h.hidden,
                                 activation=h.activation, lstm=h.lstm, lstm_hidden=h.lstm_hidden,
                                 dual_value=self.curiosity_mode != "none", separate_critic=h.separate_critic)
        if self.curiosity_mode != "none":
            object.__setattr__(self, "_curiosity_model", self._make_curiosity(spaces["obs_shape"], num_envs))

    def _make_curiosity(self, obs_shape: tuple[int, ...], num_envs: int):
        from neurobolts.lightning_modules.far_curiosity.far import FARCuriosity

        kwargs = dict(self.hparams.curiosity_kwargs or {})
        kwargs.setdefault("seed", self.hparams.seed)
        kwargs.setdefault("gamma_int", self.hparams.gamma_int)
        try:
            return FARCuriosity(self._curiosity_obs_shape(obs_shape), num_envs=num_envs, mode=self.curiosity_mode,
                                **kwargs)
        except (TypeError, ValueError) as error:
            raise ValueError(f"curiosity_kwargs={dict(self.hparams.curiosity_kwargs or {})!r}: {error}") from None

    @staticmethod
    def _curiosity_obs_shape(obs_shape: tuple[int, ...]) -> tuple[int, ...]:
        """The curiosity reads flat vectors and stacked 84 x 84 frames as they are; a grid crop
        (H, W, C) is flattened."""
        if len(obs_shape) == 3 and obs_shape[1:] != (84, 84):
            return (math.prod(obs_shape),)
        return tuple(obs_shape)

    def _curiosity_input(self, obs: Tensor) -> Tensor:
        """(B, *obs_shape) -> the curiosity's input (B, *curiosity shape)."""
        return obs.reshape(obs.shape[0], *self._curiosity_obs_shape(self._spaces["obs_shape"]))

    def setup(self, stage: str) -> None:
        if stage != "fit":
            return
        data = self.trainer.datamodule
        if data is None or not callable(getattr(data, "make_envs", None)):
            raise ValueError("PPOCuriosity collects its own rollouts: it needs a DataModule with "
                             "make_envs(rank) returning a gymnasium vector env (e.g. RLEnvDataModule)")
        self.attach_envs(data.make_envs(self.global_rank))

    def attach_envs(self, envs) -> None:
        """Use the gymnasium vector env `envs` (discrete actions) and build the networks for it."""
        action_space = envs.single_action_space
        if not hasattr(action_space, "n"):
            raise ValueError(f"PPOCuriosity needs a discrete action space, got {action_space!r}")
        self.build(envs.single_observation_space.shape, int(action_space.n), envs.num_envs)
        self.envs = envs

    def teardown(self, stage: str) -> None:
        if stage == "fit" and self.envs is not None:
            self.envs.close()
            self.envs = None

    def configure_optimizers(self):
        if self.agent is None:
            raise RuntimeError("PPOCuriosity builds its policy in setup('fit'): train it with a Trainer and a "
                               "DataModule that has make_envs(rank)")
        # the learning rate is annealed by the module itself (anneal_lr), not by a scheduler
        return build_optimizers(self.agent.parameters(), None,
                                default=partial(torch.optim.Adam, lr=self.hparams.lr, eps=self.hparams.adam_eps))

    # -- start of training ---------------------------------------------------------------------------
    def on_train_start(self) -> None:
        if self.curiosity_model is not None:
            # move, then reload its own state: its optimisers' state (restored from a checkpoint while the
            # module was on the CPU) follows the parameters to the device
            self.curiosity_model.to(self.device)
            self.curiosity_model.load_state_dict(self.curiosity_model.state_dict())
        self.total_iterations = self._total_iterations()
        self.reset_envs()

    def reset_envs(self) -> None:
        """Reset every environment and the carried rollout state (next observation, done flags, previous
        actions, LSTM state); before the first iteration also run the observation-statistics warm-up."""
        num_envs = self._spaces["num_envs"]
        self._same_step_reset = self.envs.metadata.get("autoreset_mode") == AutoresetMode.SAME_STEP
        self._random_actions = np.random.default_rng([self.hparams.seed, self.global_rank])
        obs, _ = self.envs.reset()
        self._next_obs = self._obs_tensor(obs)
        self._next_done = torch.ones(num_envs, device=self.device)  # each observation starts an episode
        self._prev_action = torch.zeros(num_envs, dtype=torch.long, device=self.device)
        self._lstm_state = self.agent.initial_state(num_envs, self.device)
        if self.curiosity_model is not None and self.iteration == 0 and self.hparams.obs_norm_init_steps > 0:
            self._initialise_observation_statistics()

    def _total_iterations(self) -> int | None:
        """The run's iterations for the lr annealing: the smaller of the epochs' loader items and
        max_steps / (update_epochs * num_minibatches) (module docstring)."""
        trainer = self.trainer
        limits = []
        batches = trainer.num_training_batches
        if trainer.max_epochs is not None and trainer.max_epochs > 0 and math.isfinite(batches):
            limits.append(int(trainer.max_epochs * batches))
        if trainer.max_steps is not None and trainer.max_steps > 0:
            limits.append(math.ceil(trainer.max_steps / (self.hparams.update_epochs * self.hparams.num_minibatches)))
        if not limits:
            if self.hparams.anneal_lr:
                rank_zero_warn("PPOCuriosity: anneal_lr=True but the run has no finite length (max_epochs and "
                               "max_steps unset); the learning rate stays constant")
            return None
        return max(1, min(limits))

    def _obs_tensor(self, obs: np.ndarray) -> Tensor:
        tensor = torch.as_tensor(obs, device=self.device)
        return tensor.float() if tensor.is_floating_point() else tensor

    @torch.no_grad()
    def _initialise_observation_statistics(self) -> None:
        """Random actions for obs_norm_init_steps environment steps; the observations reached update
        the curiosity's whitening statistics (in chunks of num_steps vector steps)."""
        vector_steps = math.ceil(self.hparams.obs_norm_init_steps / self._spaces["num_envs"])
        chunk = []
        for step in range(vector_steps):
            actions = self._random_actions.integers(self._spaces["num_actions"], size=self._spaces["num_envs"])
            obs, done, _ = self._step_envs(actions)
            chunk.append(self._obs_tensor(obs))
            if len(chunk) == self.hparams.num_steps or step == vector_steps - 1:
                self.curiosity_model.update_obs_stats(self._curiosity_input(torch.cat(chunk)))
                chunk = []
            self._next_obs, self._next_done = self._obs_tensor(obs), torch.as_tensor(done, device=self.device).float()
        self._prev_action.zero_()
        self._next_done.fill_(1.0)  # the policy has not acted yet: start as at an episode's first step

    def _step_envs(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray, dict]:
        """One vector step; finished environments are reset at once (module docstring). Returns (obs,
        done, info) with `info` the step's info, its "cell" updated to the reset cells and "rewards"
        added."""
        obs, reward, terminated, truncated, info = self.envs.step(actions)
        done = np.logical_or(terminated, truncated)
        if done.any() and not self._same_step_reset:
            obs, reset_info = self.envs.reset(options={"reset_mask": done})
            if "cell" in info and "cell" in reset_info:
                cells = np.array(info["cell"], dtype=object)
                cells[done] = np.asarray(reset_info["cell"], dtype=object)[done]
                info = {**info, "cell": cells}
        info = {**info, "rewards": reward}
        return obs, done, info

    # -- one PPO iteration ---------------------------------------------------------------------------
    def training_step(self, batch, batch_idx: int) -> None:
        start = time.perf_counter()
        optimizer = self.optimizers()
        lr = self._learning_rate()
        for group in optimizer.optimizer.param_groups:
            group["lr"] = lr
        rollout = self.collect_rollout()
        rewards_int = raw_int = curiosity_batch = None
        if self.curiosity_model is not None:
            rewards_int, raw_int = self.intrinsic_rewards(rollout)
            curiosity_batch = (self._curiosity_input(rollout.reached_obs().flatten(0, 1)),
                               self.curiosity_model.batch_module_ids.reshape(-1).to(self.device))
        advantages, returns_ext, returns_int = self.advantages(rollout, rewards_int)
        train_logs = self.update(optimizer, rollout, advantages, returns_ext, returns_int, curiosity_batch)
        self.iteration += 1
        self._log_iteration(rollout, rewards_int, raw_int, train_logs, lr, time.perf_counter() - start)

    def _learning_rate(self) -> float:
        if not self.hparams.anneal_lr or self.total_iterations is None:
            return self.hparams.lr
        return self.hparams.lr * max(0.0, 1.0 - self.iteration / self.total_iterations)

    @torch.no_grad()
    def collect_rollout(self) -> Rollout:
        """`num_steps` steps of every environment with the current policy."""
        T, N = self.hparams.num_steps, self._spaces["num_envs"]
        device = self.device
        obs = torch.zeros((T, N, *self._spaces["obs_shape"]), dtype=self._next_obs.dtype, device=device)
        actions = torch.zeros((T, N), dtype=torch.long, device=device)
        prev_actions = torch.zeros_like(actions)
        logprobs, rewards, dones, values_ext = (torch.zeros((T, N), device=device) for _ in range(4))
        values_int = torch.zeros((T, N), device=device) if self.agent.dual_value else None
        state = self._lstm_state
        initial_state = None if state is None else (state[0].clone(), state[1].clone())
        cells: list | None = []
        episode_returns: list[float] = []
        episode_lengths: list[float] = []
        for t in range(T):
            obs[t], dones[t], prev_actions[t] = self._next_obs, self._next_done, self._prev_action
            action, logprob, _, value_ext, value_int, state = self.agent.get_action_and_value(
                self._next_obs, state, self._next_done, self._prev_action)
            actions[t], logprobs[t], values_ext[t] = action, logprob, value_ext
            if values_int is not None:
                values_int[t] = value_int
            next_obs, done, info = self._step_envs(action.cpu().numpy())
            rewards[t] = torch.as_tensor(info["rewards"], dtype=torch.float32, device=device)
            self._next_obs = self._obs_tensor(next_obs)
            self._next_done = torch.as_tensor(done, dtype=torch.float32, device=device)
            self._prev_action = action
            returns, lengths = finished_episodes(info)
            episode_returns += returns
            episode_lengths += lengths
            step_cells = _cells(info, N)
            if step_cells is None:
                cells = None  # not a grid world
            elif cells is not None:
                cells.append(step_cells)
        self._lstm_state = state
        next_value_ext, next_value_int = self.agent.get_value(self._next_obs, state, self._next_done,
                                                              self._prev_action)
        return Rollout(obs, actions, prev_actions, logprobs, rewards, dones, values_ext, values_int,
                       self._next_obs.clone(), self._next_done.clone(), next_value_ext, next_value_int,
                       initial_state, cells, episode_returns, episode_lengths)

    @torch.no_grad()
    def intrinsic_rewards(self, rollout: Rollout) -> tuple[Tensor, Tensor]:
        """(normalised, raw) intrinsic rewards (T, N) of the observations the rollout reached (module
        docstring, step 2); fragments / recalls through `observe`."""
        curiosity = self.curiosity_model
        reached = rollout.reached_obs()
        T, N = reached.shape[:2]
        flat = self._curiosity_input(reached.flatten(0, 1))
        curiosity.update_obs_stats(flat)
        module_ids = curiosity.current.to(self.device).clone()  # the assignment before this batch (spec 5.4)
        raw = curiosity.errors(flat, module_ids.repeat(T)).reshape(T, N)
        step_dones = rollout.step_dones().bool()
        curiosity.observe(raw, flat.reshape(T, N, *flat.shape[1:]), step_dones)
        if not curiosity.bonus_lag:  # bonuses from the module each step ends up assigned to (far.py)
            raw = curiosity.errors(flat, curiosity.batch_module_ids.reshape(-1)).reshape(T, N)
        return curiosity.normalise_rewards(raw, step_dones), raw

    @torch.no_grad()
    def advantages(self, rollout: Rollout, rewards_int: Tensor | None) -> tuple[Tensor, Tensor, Tensor | None]:
        """(advantages for the policy, extrinsic returns, intrinsic returns or None), each (T, N)."""
        h = self.hparams
        adv_ext, returns_ext = gae(rollout.rewards, rollout.values_ext, rollout.dones, rollout.next_value_ext,
                                   rollout.next_done, h.gamma, h.gae_lambda)
        if rewards_int is None:
            return adv_ext, returns_ext, None
        never = torch.zeros_like(rollout.dones)  # the intrinsic return is non-episodic
        adv_int, returns_int = gae(rewards_int, rollout.values_int, never, rollout.next_value_int, never[0],
                                   h.gamma_int, h.gae_lambda)
        return h.ext_coef * adv_ext + h.int_coef * adv_int, returns_ext, returns_int

    def _minibatches(self, T: int, N: int) -> list[Tensor]:
        """Flat (T * N, time-major) indices of one epoch's minibatches: random samples, or for an LSTM
        all steps of a random group of environments (in time-major order)."""
        h = self.hparams
        if not h.lstm:
            order = torch.randperm(T * N, device=self.device)
            size = T * N // h.num_minibatches
            return [order[k * size:(k + 1) * size] for k in range(h.num_minibatches)]
        envs = torch.randperm(N, device=self.device)
        per = N // h.num_minibatches
        flat = torch.arange(T * N, device=self.device).reshape(T, N)
        return [flat[:, envs[k * per:(k + 1) * per]].reshape(-1) for k in range(h.num_minibatches)]

    def update(self, optimizer, rollout: Rollout, advantages: Tensor, returns_ext: Tensor,
               returns_int: Tensor | None, curiosity_batch: tuple[Tensor, Tensor] | None = None) -> dict[str, float]:
        """update_epochs x num_minibatches clipped PPO steps on the rollout; with `curiosity_batch`
        (the curiosity's inputs of the reached observations and their module ids, flat (T * N) like
        the rollout) each minibatch also takes one `FARCuriosity.train_step` on its samples (spec 2.5:
        grouped by module, each module on its own samples). Returns the mean losses."""
        h = self.hparams
        T, N = rollout.actions.shape
        b_obs = rollout.obs.flatten(0, 1)
        b = {name: tensor.reshape(-1) for name, tensor in (
            ("actions", rollout.actions), ("prev_actions", rollout.prev_actions), ("logprobs", rollout.logprobs),
            ("dones", rollout.dones), ("values_ext", rollout.values_ext), ("advantages", advantages),
            ("returns_ext", returns_ext))}
        if returns_int is not None:
            b["returns_int"] = returns_int.reshape(-1)
        sums = {"policy_loss": 0.0, "value_loss": 0.0, "entropy": 0.0, "approx_kl": 0.0, "clip_fraction": 0.0}
        if curiosity_batch is not None:
            sums["predictor_loss"] = 0.0
        updates = 0
        for _ in range(h.update_epochs):
            for idx in self._minibatches(T, N):
                state = None
                if h.lstm:  # replay the minibatch's environments from the rollout's initial state
                    env_ids = idx[:len(idx) // T] % N
                    state = (rollout.initial_state[0][:, env_ids], rollout.initial_state[1][:, env_ids])
                _, logprob, entropy, value_ext, value_int, _ = self.agent.get_action_and_value(
                    b_obs[idx], state, b["dones"][idx], b["prev_actions"][idx], b["actions"][idx])
                policy_loss, approx_kl, clip_fraction = ppo_policy_loss(
                    logprob, b["logprobs"][idx], b["advantages"][idx], h.clip_coef, normalise=h.norm_adv)
                v_loss = value_loss(value_ext, b["returns_ext"][idx], b["values_ext"][idx],
                                    h.clip_coef if h.clip_vloss else None)
                if value_int is not None:
                    v_loss = v_loss + value_loss(value_int, b["returns_int"][idx])
                entropy = entropy.mean()
                loss = policy_loss - h.ent_coef * entropy + h.vf_coef * v_loss
                optimizer.zero_grad()
                self.manual_backward(loss)
                self.clip_gradients(optimizer, gradient_clip_val=h.max_grad_norm, gradient_clip_algorithm="norm")
                optimizer.step()
                for name, value in (("policy_loss", policy_loss), ("value_loss", v_loss), ("entropy", entropy),
                                    ("approx_kl", approx_kl), ("clip_fraction", clip_fraction)):
                    sums[name] += float(value.detach())
                if curiosity_batch is not None:
                    sums["predictor_loss"] += self.curiosity_model.train_step(
                        curiosity_batch[0][idx], curiosity_batch[1][idx])["loss"]
                updates += 1
        logs = {name: value / updates for name, value in sums.items()}
        returns = b["returns_ext"]
        variance = float(returns.var()) if returns.numel() > 1 else 0.0
        logs["explained_variance"] = (float("nan") if variance == 0.0
                                      else 1.0 - float((returns - b["values_ext"]).var()) / variance)
        return logs

    # -- logging --------------------------------------------------------------------------------------
    def _sum_over_ranks(self, values: list[float]) -> list[float]:
        tensor = torch.tensor(values, dtype=torch.float64, device=self.device)
        if self.trainer.world_size > 1:
            tensor = self.trainer.strategy.reduce(tensor, reduce_op="sum")
        return tensor.tolist()

    def _log(self, name: str, value: float) -> None:
        self.log(name, float(value), on_step=True, on_epoch=False, batch_size=1)

    def _log_iteration(self, rollout: Rollout, rewards_int: Tensor | None, raw_int: Tensor | None,
                       train_logs: dict, lr: float, seconds: float) -> None:
        T, N = rollout.actions.shape
        world = self.trainer.world_size
        env_steps = T * N * world * self.iteration
        self.return_window.extend(rollout.episode_returns)
        window = list(self.return_window)
        # every rank takes part in every reduction (the same calls in the same order on all ranks)
        ep_sum, ep_len, ep_count, window_mean, window_ranks = self._sum_over_ranks(
            [sum(rollout.episode_returns), sum(rollout.episode_lengths), len(rollout.episode_returns),
             float(np.mean(window)) if window else 0.0, float(bool(window))])
        self._log("rollout/env_steps", env_steps)
        self._log("rollout/steps_per_s", T * N * world / max(seconds, 1e-9))
        if ep_count > 0:
            self._log("rollout/episodic_return", ep_sum / ep_count)
            self._log("rollout/episode_length", ep_len / ep_count)
        if window_ranks > 0:
            self._log("rollout/return_last20", window_mean / window_ranks)
        for name, value in train_logs.items():
            self._log(f"curiosity/{name}" if name == "predictor_loss" else f"train/{name}", value)
        self._log("train/lr", lr)
        if rewards_int is not None:
            live = ~rollout.step_dones().bool()
            self._log("rollout/intrinsic_reward", float(rewards_int[live].mean()) if live.any() else 0.0)
            self._log("rollout/intrinsic_reward_raw", float(raw_int[live].mean()) if live.any() else 0.0)
            curiosity = self.curiosity_model
            self._log("curiosity/modules", curiosity.n_modules)
            self._log("curiosity/fragmentations", curiosity.fragmentations)
            self._log("curiosity/recalls", curiosity.recalls)
        if rollout.cells is not None:
            self._log_cells(rollout, rewards_int)

    def _log_cells(self, rollout: Rollout, rewards_int: Tensor | None) -> None:
        """Coverage and the intrinsic reward at cells visited in earlier iterations (this rank)."""
        if rewards_int is not None:
            rewards = rewards_int.cpu().numpy()
            live = ~rollout.step_dones().bool().cpu().numpy()
            revisited = [rewards[t, n] for t, step in enumerate(rollout.cells) for n, cell in enumerate(step)
                         if live[t, n] and cell in self.visited]
            if revisited:
                self._log("rollout/intrinsic_reward_revisited", float(np.mean(revisited)))
        for step in rollout.cells:
            self.visited.update(step)
        self._log("rollout/cells_visited", len(self.visited))

    def on_train_end(self) -> None:
        """Every rank writes a digest of its policy's parameters to its log: under DDP the digests of all
        ranks are equal (gradients synchronised) while each rank's environments and curiosity differ."""
        digest = hashlib.sha1()
        for tensor in self.agent.state_dict().values():
            digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
        log.info("rank %d: policy digest %s", self.global_rank, digest.hexdigest())

    # -- checkpoints -----------------------------------------------------------------------------------
    def on_save_checkpoint(self, checkpoint: dict) -> None:
        checkpoint["ppo_state"] = {
            "spaces": None if self._spaces is None else {**self._spaces, "obs_shape": list(self._spaces["obs_shape"])},
            "iteration": self.iteration, "return_window": list(self.return_window),
            "visited": [list(cell) for cell in sorted(self.visited)]}
        if self.curiosity_model is not None:
            checkpoint["far_curiosity"] = self.curiosity_model.state_dict()

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        state = checkpoint.get("ppo_state")
        if state is None:
            return
        spaces = state["spaces"]
        if spaces is not None:  # build the networks when loaded outside a Trainer (load_from_checkpoint)
            self.build(tuple(spaces["obs_shape"]), spaces["num_actions"], spaces["num_envs"])
        self.iteration = int(state["iteration"])
        self.return_window = deque(state["return_window"], maxlen=RETURN_WINDOW)
        self.visited = {tuple(cell) for cell in state["visited"]}
        if self.curiosity_model is not None and "far_curiosity" in checkpoint:
            self.curiosity_model.load_state_dict(checkpoint["far_curiosity"])
