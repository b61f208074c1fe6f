"""The environments of FARCuriosity by name (docs/papers/far_curiosity.md sections 3 and 6).

- "rooms2": two 9 x 9 rooms side by side (the map of the forgetting study, section 6A);
  "rooms4": 2 x 2 rooms of 7; "rooms9": 3 x 3 rooms of 7 (section 6B; the RL study's map, 25 x 25) -- `RoomsEnv`.
- "ALE/<Game>-v5": Atari through gymnasium + ale-py (the optional extra `neurobolts[atari]`) with the
  reference's preprocessing (section 3): sticky actions off, minimal action set, up to 30 no-ops at
  reset, frame skip 4 (max over the last two frames), 84 x 84 grey, lives do not end episodes, no
  fire-on-reset, at most 4,500 agent steps per episode, 4 stacked frames: observations (4, 84, 84)
  uint8. (Observation normalisation belongs to the learner, not to the environment.)
- any other id registered with gymnasium (e.g. "CartPole-v1"), made with `gymnasium.make`.

`make_vector_env` builds a `SyncVectorEnv` of `num_envs` copies, each wrapped in
`RecordEpisodeStatistics` (so `info["episode"]` reports returns and lengths) and seeded with
seed + i (environment and action space), so `envs.reset()` without a seed is reproducible.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import gymnasium
from gymnasium.wrappers import AtariPreprocessing, FrameStackObservation, RecordEpisodeStatistics, TimeLimit

from neurobolts.plugins.checks import check_int, check_positive_int

from .rooms_env import RoomsEnv

ROOM_MAPS: dict[str, dict[str, int]] = {
    "rooms2": {"rows": 1, "cols": 2, "room_size": 9},
    "rooms4": {"rows": 2, "cols": 2, "room_size": 7},
    "rooms9": {"rows": 3, "cols": 3, "room_size": 7},
}
ATARI_PATTERN = re.compile(r"ALE/[A-Za-z0-9]+-v\d+")
ATARI_INSTALL = "pip install 'neurobolts[atari]'"


def _rooms_factory(layout: dict[str, int]) -> Callable[..., RoomsEnv]:
    def factory(**kwargs) -> RoomsEnv:
        return RoomsEnv(**{**layout, **kwargs})  # keyword arguments may override the layout

    return factory


ENVIRONMENTS: dict[str, Callable[..., gymnasium.Env]] = {name: _rooms_factory(layout) for name, layout in ROOM_MAPS.items()}


def _name_error(name) -> ValueError:
    choices = ", ".join(repr(n) for n in ENVIRONMENTS)
    return ValueError(f"env must be one of {choices}, an 'ALE/<Game>-v5' id or a registered gymnasium id, "
                      f"got {name!r}")


def env_kind(name) -> str:
    """"rooms", "atari" or "gymnasium" for a valid environment name; ValueError (naming `env`, the
    value and the choices) otherwise. Atari games themselves are checked when ale-py is loaded."""
    if not isinstance(name, str):
        raise _name_error(name)
    if name in ENVIRONMENTS:
        return "rooms"
    if name.startswith("ALE/"):
        if ATARI_PATTERN.fullmatch(name) is None:
            raise _name_error(name)
        return "atari"
    if name in gymnasium.envs.registry:
        return "gymnasium"
    raise _name_error(name)


def _load_ale() -> None:
    """Import ale-py (the emulator) and OpenCV (which gymnasium's AtariPreprocessing resizes with),
    and register ale-py's environments with gymnasium."""
    try:
        import ale_py
    except ImportError as error:
        raise ImportError(f"Atari environments need the optional dependency ale-py: {ATARI_INSTALL}") from error
    try:
        import cv2  # noqa: F401
    except ImportError as error:
        raise ImportError(f"Atari preprocessing (gymnasium's AtariPreprocessing) needs OpenCV "
                          f"(opencv-python-headless): {ATARI_INSTALL}") from error
    gymnasium.register_envs(ale_py)  # idempotent


def require_atari(env_id: str) -> None:
    """Load ale-py and check that `env_id` is one of its games (ImportError / ValueError)."""
    _load_ale()
    if env_id not in gymnasium.envs.registry:
        raise ValueError(f"env must be an Atari game id registered by ale-py (e.g. 'ALE/Pong-v5'), got {env_id!r}")


def make_atari_env(env_id: str, noop_max: int = 30, frame_skip: int = 4, screen_size: int = 84, frame_stack: int = 4,
                   max_episode_steps: int = 4500) -> gymnasium.Env:
    """An Atari game with the reference preprocessing (module docstring); observations
    (frame_stack, screen_size, screen_size) uint8. `max_episode_steps` counts agent steps
    (each `frame_skip` frames)."""
    noop_max = check_int("noop_max", noop_max, 0)
    frame_skip = check_positive_int("frame_skip", frame_skip)
    screen_size = check_positive_int("screen_size", screen_size)
    frame_stack = check_positive_int("frame_stack", frame_stack)
    max_episode_steps = check_positive_int("max_episode_steps", max_episode_steps)
    if not isinstance(env_id, str) or ATARI_PATTERN.fullmatch(env_id) is None:
        raise ValueError(f"env_id must be an 'ALE/<Game>-v5' id, got {env_id!r}")
    require_atari(env_id)
    env = gymnasium.make(env_id, frameskip=1, repeat_action_probability=0.0, full_action_space=False)
    env = AtariPreprocessing(env, noop_max=noop_max, frame_skip=frame_skip, screen_size=screen_size,
                             terminal_on_life_loss=False, grayscale_obs=True)
    env = TimeLimit(env, max_episode_steps=max_episode_steps)
    return FrameStackObservation(env, stack_size=frame_stack)


def make_env(name: str, **kwargs) -> gymnasium.Env:
    """One environment by name (module docstring); `kwargs` go to RoomsEnv, make_atari_env or
    gymnasium.make."""
    kind = env_kind(name)
    if kind == "rooms":
        return ENVIRONMENTS[name](**kwargs)
    if kind == "atari":
        return make_atari_env(name, **kwargs)
    return gymnasium.make(name, **kwargs)


def make_vector_env(name: str, num_envs: int, seed: int = 0, **kwargs) -> gymnasium.vector.SyncVectorEnv:
    """`num_envs` copies of environment `name` in a SyncVectorEnv, each wrapped in
    RecordEpisodeStatistics and seeded with seed + i (module docstring)."""
    env_kind(name)  # the name error before anything is built
    num_envs = check_positive_int("num_envs", num_envs)
    seed = check_int("seed", seed, 0)

    def thunk(i: int) -> Callable[[], gymnasium.Env]:
        def make() -> gymnasium.Env:
            env = RecordEpisodeStatistics(make_env(name, **kwargs))
            env.reset(seed=seed + i)
            env.action_space.seed(seed + i)
            return env

        return make

    return gymnasium.vector.SyncVectorEnv([thunk(i) for i in range(num_envs)])
