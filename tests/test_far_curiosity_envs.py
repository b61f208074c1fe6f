"""The environments of FARCuriosity (docs/papers/far_curiosity.md sections 3 and 6): room lattices and
their textures, the rooms grid world (gymnasium API), the name registry and vector environments, Atari
preprocessing, the scripted forgetting walk and the two DataModules."""

from __future__ import annotations

import builtins
import re

import numpy as np
import pytest
import torch
from gymnasium.utils.env_checker import check_env

from neurobolts.datamodules.far_curiosity import (
    ForgettingWalkDataModule,
    RLEnvDataModule,
    RoomsEnv,
    make_atari_env,
    make_env,
    make_vector_env,
    scripted_walk,
)
from neurobolts.datamodules.gridworld import bfs_distances, floor_image, room_textures, rooms_layout
from neurobolts.datamodules.gridworld.rooms import DOOR, WALL

UP, RIGHT, DOWN, LEFT = 0, 1, 2, 3


# layouts and textures
@pytest.mark.parametrize(("rows", "cols", "size", "width"), [(1, 2, 9, 1), (2, 2, 7, 1), (3, 3, 5, 3), (1, 1, 4, 2)])
def test_layout_geometry_and_doors_connect_every_room(rows, cols, size, width):
    layout = rooms_layout(rows, cols, size, width)
    assert layout.shape == (rows * (size + 1) + 1, cols * (size + 1) + 1)
    assert layout.num_rooms == rows * cols
    shared_walls = rows * (cols - 1) + cols * (rows - 1)
    assert len(layout.doors) == shared_walls * width
    assert all(layout.room_of[cell] == DOOR for cell in layout.doors)
    border = np.concatenate([layout.room_of[0], layout.room_of[-1], layout.room_of[:, 0], layout.room_of[:, -1]])
    assert (border == WALL).all()
    for k in range(layout.num_rooms):
        cells = layout.room_cells(k)
        assert cells.shape == (size * size, 2) and (layout.room_of[cells[:, 0], cells[:, 1]] == k).all()
        assert layout.room_of[layout.centre(k)] == k
    distances = bfs_distances(layout.free, layout.centre(0))
    assert (distances[layout.free] >= 0).all()  # one connected free region: every room is reached
    if layout.num_rooms > 1:
        for cell in layout.doors:  # every door joins exactly two rooms
            assert len({int(v) for v in layout.rooms_of([(cell[0] + dr, cell[1] + dc) for dr, dc in
                                                         ((-1, 0), (1, 0), (0, -1), (0, 1))]) if v >= 0}) == 2


def test_two_rooms_door_is_centred_in_the_shared_wall():
    layout = rooms_layout(1, 2, 9)
    assert layout.doors == ((5, 10),)
    assert layout.door_between(0, 1).tolist() == [[5, 10]]
    assert layout.room_at((5, 10)) == -1 and layout.room_at((5, 4)) == 0 and layout.room_at((5, 15)) == 1
    four = rooms_layout(2, 2, 7)
    assert four.door_between(0, 3).shape == (0, 2)  # diagonal rooms share no wall
    with pytest.raises(ValueError, match=r"door_width must be an integer in \[1, room_size=5\], got 6"):
        rooms_layout(1, 2, 5, 6)
    with pytest.raises(ValueError, match="cell must be a free cell"):
        layout.room_at((0, 0))


def room_mean_colours(layout, image) -> np.ndarray:
    return np.array([image[tuple(layout.room_cells(k).T)].mean(axis=0) for k in range(layout.num_rooms)])


def test_textures_differ_between_rooms_and_similarity_one_makes_rooms_identical():
    layout = rooms_layout(3, 3, 5)
    textures = room_textures(9, seed=0)
    image = floor_image(layout, textures)
    assert image.dtype == np.uint8 and image.shape == (*layout.shape, 3)
    means = room_mean_colours(layout, image)
    gaps = np.linalg.norm(means[:, None] - means[None], axis=-1)[np.triu_indices(9, 1)]
    assert gaps.min() > 20  # every pair of rooms clearly different on average
    assert len({(t.pattern, t.period) for t in textures}) == 9  # and every pattern distinct
    # similarity 1: equal colours and identical floors in room-local coordinates
    same = room_textures(9, seed=0, similarity=1.0)
    assert len({t.colour for t in same}) == 1
    same_image = floor_image(layout, same)
    floors = [same_image[tuple(layout.room_cells(k).T)] for k in range(9)]
    assert all(np.array_equal(floors[0], floor) for floor in floors[1:])
    # in between the rooms move monotonically closer
    half = room_mean_colours(layout, floor_image(layout, room_textures(9, seed=0, similarity=0.5)))
    half_gaps = np.linalg.norm(half[:, None] - half[None], axis=-1)[np.triu_indices(9, 1)]
    assert half_gaps.mean() < 0.6 * gaps.mean()
    with pytest.raises(ValueError, match="similarity must be a finite number in \\[0, 1\\], got 1.5"):
        room_textures(2, similarity=1.5)


# the rooms environment
@pytest.mark.filterwarnings("ignore:.*not having a spec")  # alternative render modes: there are none
@pytest.mark.parametrize("layout", [{}, {"rows": 2, "cols": 2, "room_size": 7}])
def test_rooms_env_passes_gymnasium_checker(layout):
    env = RoomsEnv(**layout)
    check_env(env, skip_render_check=False)
    obs, info = env.reset(seed=3)
    assert obs.shape == (7, 7, 3) and obs.dtype == np.uint8
    assert info["room"] == 0 and env.layout.room_at(info["cell"]) == 0
    assert tuple(obs[3, 3]) == (245, 245, 245)  # the agent at the centre
    frame = env.render()
    assert frame.shape == (*env.layout.shape, 3)


def test_walls_block_and_moves_follow_the_headings():
    env = RoomsEnv(start_cell=(1, 1), goal_room=None)
    obs, info = env.reset(seed=0)
    for action in (UP, LEFT):  # the room's top-left corner: both are walls
        obs2, reward, terminated, truncated, info = env.step(action)
        assert info["cell"] == (1, 1) and reward == 0.0 and not terminated and not truncated
        assert np.array_equal(obs2, obs)
    assert env.step(RIGHT)[4]["cell"] == (1, 2)
    assert env.step(DOWN)[4]["cell"] == (2, 2)
    with pytest.raises(ValueError, match="action must be one of 0..3"):
        env.step(4)


def test_goal_is_the_farthest_room_centre_and_reaching_it_ends_with_reward_one():
    env = RoomsEnv(rows=2, cols=2, room_size=7)
    assert env.goal_room == 3 and env.goal_cell == env.layout.centre(3)  # diagonal from room 0
    nine = RoomsEnv(rows=3, cols=3, room_size=5)
    assert nine.goal_room == 8
    goal = env.goal_cell
    env.reset(seed=0, options={"cell": (goal[0], goal[1] - 1)})
    obs, reward, terminated, truncated, info = env.step(RIGHT)
    assert reward == 1.0 and terminated and not truncated and info["cell"] == goal and info["room"] == 3
    for seed in range(20):  # random starts are in the start room, never on the goal
        _, info = env.reset(seed=seed)
        assert info["room"] == 0
    with pytest.raises(ValueError, match="start_cell must be a free cell"):
        RoomsEnv(start_cell=(0, 0))


def test_truncation_at_max_episode_steps():
    env = RoomsEnv(goal_room=None, max_episode_steps=7)
    env.reset(seed=1)
    flags = [env.step(env.action_space.sample())[2:4] for _ in range(7)]
    assert flags[:-1] == [(False, False)] * 6 and flags[-1] == (False, True)


def test_observation_at_matches_the_step_observation_and_shows_neighbouring_cells():
    env = RoomsEnv(similarity=0.0)
    env.reset(seed=5)
    rng = np.random.default_rng(0)
    for _ in range(60):
        obs, _, _, _, info = env.step(int(rng.integers(4)))
        assert np.array_equal(obs, env.observation_at(info["cell"]))
    r, c = 5, 9  # beside the door: the door cell is right of the centre
    view = env.observation_at((r, c))
    assert np.array_equal(view[3, 4], env.floor[5, 10])
    corner = env.observation_at((1, 1))
    assert (corner[:2] == 0).all() and (corner[:, :2] == 0).all()  # outside the map is black
    assert env.all_free_cells().shape == (9 * 9 * 2 + 1, 2)


# registry and vector environments
def test_vector_env_shapes_and_seeding():
    envs = make_vector_env("rooms2", 4, seed=0)
    obs, info = envs.reset()
    assert obs.shape == (4, 7, 7, 3) and obs.dtype == np.uint8
    again = make_vector_env("rooms2", 4, seed=0).reset()[0]
    assert np.array_equal(obs, again)
    obs, rewards, terminated, truncated, info = envs.step(np.zeros(4, dtype=np.int64))
    assert obs.shape == (4, 7, 7, 3) and rewards.shape == (4,)
    assert make_vector_env("rooms9", 2, seed=1, view_radius=2).reset()[0].shape == (2, 5, 5, 3)
    assert make_env("CartPole-v1").observation_space.shape == (4,)


def test_episode_statistics_are_recorded():
    envs = make_vector_env("rooms2", 2, seed=0, max_episode_steps=5)
    envs.reset()
    for _ in range(5):
        info = envs.step(np.zeros(2, dtype=np.int64))[4]
    assert "episode" in info and info["episode"]["l"].tolist() == [5, 5]


@pytest.mark.parametrize("bad", ["xyz", "ALE/not a game", "rooms3", 3])
def test_unknown_env_name_is_a_clear_error(bad):
    message = ("env must be one of 'rooms2', 'rooms4', 'rooms9', an 'ALE/<Game>-v5' id or a registered gymnasium "
               f"id, got {bad!r}")
    with pytest.raises(ValueError, match=re.escape(message)):
        make_env(bad)
    with pytest.raises(ValueError, match="env must be one of"):
        make_vector_env(bad, 2)
    with pytest.raises(ValueError, match="env must be one of"):
        RLEnvDataModule(env=bad)


# Atari
def test_atari_preprocessing_gives_four_stacked_84x84_grey_frames():
    pytest.importorskip("ale_py")
    pytest.importorskip("cv2")  # gymnasium's AtariPreprocessing resizes with OpenCV
    env = make_atari_env("ALE/Pong-v5")
    obs, _ = env.reset(seed=0)
    assert obs.shape == (4, 84, 84) and obs.dtype == np.uint8
    for _ in range(4):
        obs, reward, terminated, truncated, _ = env.step(env.action_space.sample())
    assert obs.shape == (4, 84, 84) and not terminated and not truncated
    assert env.action_space.n == 6  # the minimal action set
    short = make_atari_env("ALE/Pong-v5", max_episode_steps=3, noop_max=0)
    short.reset(seed=0)
    assert [short.step(0)[3] for _ in range(3)] == [False, False, True]  # the cap counts agent steps
    with pytest.raises(ValueError, match="Atari game id registered by ale-py"):
        make_atari_env("ALE/NoSuchGame-v5")


@pytest.mark.parametrize("missing", ["ale_py", "cv2"])
def test_missing_atari_dependencies_name_the_extra(monkeypatch, missing):
    real_import = builtins.__import__

    def failing_import(name, *args, **kwargs):
        if name == missing:
            raise ImportError(f"No module named {missing!r}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", failing_import)
    with pytest.raises(ImportError, match=r"pip install 'neurobolts\[atari\]'"):
        make_atari_env("ALE/Pong-v5")
    with pytest.raises(ImportError, match=r"pip install 'neurobolts\[atari\]'"):
        RLEnvDataModule(env="ALE/Pong-v5")


# the forgetting walk
def test_scripted_walk_stays_in_each_room_and_crosses_the_door():
    layout = rooms_layout(1, 2, 9)
    walk = scripted_walk(layout, ("A", "B", "A"), steps_per_phase=500, seed=0)
    cells, rooms, phase, transit = walk["cells"], walk["rooms"], walk["phase"], walk["transit"]
    assert len(cells) == len(rooms) == len(phase) == len(transit)
    assert (np.abs(np.diff(cells, axis=0)).sum(axis=1) <= 1).all()  # one move (or a bump) per step
    for p, room in enumerate((0, 1, 0)):
        inside = (phase == p) & ~transit
        assert inside.sum() == 500 and (rooms[inside] == room).all()
    for p, previous in ((1, 0), (2, 1)):  # the way to the door (in the previous room), then the door
        way = rooms[(phase == p) & transit]
        assert len(way) >= 1 and way[-1] == -1 and (way[:-1] == previous).all()
    assert {tuple(cells[t]) for t in np.flatnonzero(transit & (rooms == -1))} == {(5, 10)}
    assert len(np.unique(cells[(phase == 0)], axis=0)) > 40  # the random walk covers the room
    assert np.array_equal(walk["cells"], scripted_walk(layout, ("A", "B", "A"), 500, seed=0)["cells"])
    with pytest.raises(ValueError, match=r"phases must be a non-empty list of room letters in \['A', 'B'\]"):
        scripted_walk(layout, ("A", "C"))


def test_walk_between_rooms_that_are_not_neighbours_goes_through_the_middle():
    layout = rooms_layout(1, 3, 5)
    walk = scripted_walk(layout, ("A", "C"), steps_per_phase=50, seed=2)
    crossing = walk["rooms"][walk["transit"]]
    assert (crossing == -1).sum() == 2 and 1 in crossing and set(crossing.tolist()) <= {-1, 0, 1}  # via B
    assert (walk["rooms"][(walk["phase"] == 1) & ~walk["transit"]] == 2).all()


def test_forgetting_datamodule_yields_the_walk_in_order():
    dm = ForgettingWalkDataModule(phases=["A", "B"], steps_per_phase=300, chunk=64, seed=1)
    assert dm.obs_dim == 147
    batches = list(dm.train_dataloader())
    steps = torch.cat([b["step"] for b in batches])
    assert torch.equal(steps, torch.arange(dm.num_steps))  # in order, everything once
    assert [len(b["step"]) for b in batches[:-1]] == [64] * (len(batches) - 1)
    first = batches[0]
    assert first["obs"].dtype == torch.float32 and first["obs"].shape == (64, 147)
    assert 0.0 <= first["obs"].min() and first["obs"].max() <= 1.0
    cells = torch.cat([b["cell"] for b in batches]).numpy()
    assert np.array_equal(cells, dm.walk["cells"])
    obs = torch.cat([b["obs"] for b in batches])
    t = 123
    assert torch.allclose(obs[t], torch.from_numpy(dm.env.observation_at(cells[t]).reshape(-1) / 255.0).float())
    phase = torch.cat([b["phase"] for b in batches])
    assert (torch.diff(phase) >= 0).all() and phase[-1] == 1
    room_a = dm.room_observations("A")
    assert room_a.shape == (81, 147) and torch.equal(room_a, dm.room_observations(0))
    all_cells, all_obs = dm.cell_observations()
    assert all_cells.shape == (163, 2) and all_obs.shape == (163, 147)
    assert dm.door_cells.tolist() == [[5, 10]] and dm.floor_image().shape == (11, 21, 3)
    assert isinstance(dm.train_dataloader().dataset, torch.utils.data.IterableDataset)  # no sampler under DDP


def test_forgetting_datamodule_refuses_bad_arguments():
    with pytest.raises(ValueError, match="env must be one of 'rooms2', 'rooms4', 'rooms9'.*got 'CartPole-v1'"):
        ForgettingWalkDataModule(env="CartPole-v1")
    with pytest.raises(ValueError, match="phases must be a non-empty list of room letters"):
        ForgettingWalkDataModule(phases=["A", "Z"])
    with pytest.raises(ValueError, match="chunk must be an integer >= 1, got 0"):
        ForgettingWalkDataModule(chunk=0)


def test_rl_datamodule_gives_each_rank_its_own_envs_and_all_iterations():
    dm = RLEnvDataModule(env="rooms4", num_envs=3, iterations=5, env_kwargs={"view_radius": 2}, seed=0)
    assert [int(i) for i in dm.train_dataloader()] == [0, 1, 2, 3, 4]
    assert dm.single_observation_space.shape == (5, 5, 3) and dm.single_action_space.n == 4
    rank0, rank1 = dm.make_envs(0).reset()[0], dm.make_envs(1).reset()[0]
    assert rank0.shape == (3, 5, 5, 3)
    assert np.array_equal(rank0, dm.make_envs(0).reset()[0]) and not np.array_equal(rank0, rank1)
    with pytest.raises(ValueError, match="num_envs must be an integer >= 1, got 0"):
        RLEnvDataModule(env="rooms4", num_envs=0)
