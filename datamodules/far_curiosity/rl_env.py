"""Environments for the PPO runs of FARCuriosity, `experiment=far_curiosity` and `far_curiosity_atari`
(docs/papers/far_curiosity.md sections 3 and 6B).

An on-policy learner collects its own data, so this DataModule hands it vectorised environments
(`make_envs`) and a loader that only paces training: one item per PPO iteration. The loader is an
IterableDataset of iteration numbers, so Lightning injects no DistributedSampler: under DDP every
rank runs all `iterations` (each on its own environments: `make_envs(rank)` seeds with
seed + 1000 * rank, environment i of a rank with that + i), so the gradient all-reduce sees the same
number of steps on every rank.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import gymnasium
import torch
from lightning.pytorch import LightningDataModule
from torch.utils.data import DataLoader, IterableDataset

from neurobolts.plugins.checks import check_int, check_positive_int

from .environments import env_kind, make_env, make_vector_env, require_atari

RANK_SEED_STRIDE = 1000


class IterationNumbers(IterableDataset):
    """0, 1, ..., iterations - 1 (one item per PPO iteration)."""

    def __init__(self, iterations: int) -> None:
        self.iterations = iterations

    def __len__(self) -> int:
        return self.iterations

    def __iter__(self) -> Iterator[int]:
        return iter(range(self.iterations))


class RLEnvDataModule(LightningDataModule):
    """Vectorised environments for PPO (module docstring).

    Args:
        env: "rooms2", "rooms4", "rooms9", an "ALE/<Game>-v5" id or a registered gymnasium id
            (environments.py).
        num_envs: parallel environments per process.
        iterations: PPO iterations (items of the training loader).
        env_kwargs: keyword arguments of the environment (RoomsEnv, make_atari_env or gymnasium.make).
        seed: base seed of the environments.
    """

    def __init__(self, env: str = "rooms4", num_envs: int = 8, iterations: int = 100,
                 env_kwargs: Mapping | None = None, seed: int = 0) -> None:
        super().__init__()
        self.kind = env_kind(env)
        if self.kind == "atari":
            require_atari(env)  # a missing ale-py or an unknown game fails now, not at the first rollout
        self.env = env
        self.num_envs = check_positive_int("num_envs", num_envs)
        self.iterations = check_positive_int("iterations", iterations)
        if env_kwargs is not None and not isinstance(env_kwargs, Mapping):
            raise ValueError(f"env_kwargs must be a mapping of keyword arguments or None, got {env_kwargs!r}")
        self.env_kwargs = dict(env_kwargs or {})
        self.seed = check_int("seed", seed, 0)
        self._spaces: tuple[gymnasium.Space, gymnasium.Space] | None = None

    def make_envs(self, rank: int = 0) -> gymnasium.vector.SyncVectorEnv:
        """This rank's `num_envs` environments, seeded seed + 1000 * rank + i."""
        rank = check_int("rank", rank, 0)
        return make_vector_env(self.env, self.num_envs, self.seed + RANK_SEED_STRIDE * rank, **self.env_kwargs)

    def _probe_spaces(self) -> tuple[gymnasium.Space, gymnasium.Space]:
        if self._spaces is None:
            env = make_env(self.env, **self.env_kwargs)
            self._spaces = (env.observation_space, env.action_space)
            env.close()
        return self._spaces

    @property
    def single_observation_space(self) -> gymnasium.Space:
        """The observation space of one environment (to size the networks before any rollout)."""
        return self._probe_spaces()[0]

    @property
    def single_action_space(self) -> gymnasium.Space:
        """The action space of one environment."""
        return self._probe_spaces()[1]

    def train_dataloader(self) -> DataLoader:
        return DataLoader(IterationNumbers(self.iterations), batch_size=None, collate_fn=torch.as_tensor)
