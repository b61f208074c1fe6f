"""Map Induction's induction core (docs/papers/map_induction.md sections 2.3-2.5, 5.1-5.2, 6): the
primitive library, submap proposals, hypotheses by backtracking, the hypothesis library and the
posterior; oracles 7.1-7.4, the induction part of 7.5, and 7.9. Test worlds are built here with numpy
on the shared room lattice (gridworld.rooms)."""

from __future__ import annotations

import itertools
import time

import numpy as np
import pytest

from neurobolts.datamodules.gridworld.rooms import rooms_layout
from neurobolts.datamodules.map_induction.grid_format import AGENT, EMPTY, REWARD, UNOBSERVED, WALL
from neurobolts.lightning_modules.map_induction.hypotheses import InductionState, hypotheses
from neurobolts.lightning_modules.map_induction.posterior import Belief, map_hypothesis, posterior
from neurobolts.lightning_modules.map_induction.primitives import (
    add_wall,
    duplicate_x,
    duplicate_y,
    reflect_x,
    reflect_y,
    remove_wall,
    rotate,
    scale_u,
    scale_x,
    scale_y,
)
from neurobolts.lightning_modules.map_induction.proposals import (
    propose,
    restore_rewards,
    room_tile_grid,
    tile_positions,
    tile_shapes,
)

S = 7  # room side
TILE, ORIGIN, MIRROR = room_tile_grid(S)


def room_interior(seed: int = 0) -> np.ndarray:
    """A 7 x 7 room interior, asymmetric in both axes: a few walls and 3 rewards."""
    room = np.zeros((S, S), dtype=np.int8)
    room[2, 1:4] = WALL
    room[4:6, 5] = WALL
    room[[1, 5, 3], [5, 2, 3]] = REWARD
    if seed:
        room[6, 0] = WALL
    return room


def lattice_world(blocks: list[np.ndarray], rows: int = 2, cols: int = 2) -> tuple[np.ndarray, object]:
    """The grid of a rows x cols room lattice (1-cell walls, centred doors) with the given interiors."""
    layout = rooms_layout(rows, cols, S)
    grid = np.where(layout.room_of == -1, WALL, EMPTY).astype(np.int8)
    for k, block in enumerate(blocks):
        r0, c0 = layout.room_origin(k)
        grid[r0:r0 + S, c0:c0 + S] = block
    return grid, layout


def room_view(grid: np.ndarray, layout, rooms) -> np.ndarray:
    """The observed map after seeing the given rooms with their wall rings (room observation mode)."""
    known = np.full_like(grid, UNOBSERVED)
    for k in rooms:
        r0, c0 = layout.room_origin(k)
        known[r0 - 1:r0 + S + 1, c0 - 1:c0 + S + 1] = grid[r0 - 1:r0 + S + 1, c0 - 1:c0 + S + 1]
    return known


def agrees_on_observed(hypothesis: np.ndarray, known: np.ndarray) -> bool:
    """Equal to the observation on every observed cell, rewards ignored (oracle 7.2)."""
    observed = known != UNOBSERVED
    return bool(np.array_equal(hypothesis[observed] == WALL, known[observed] == WALL))


# --- 7.1 primitives -------------------------------------------------------------------------------

def test_primitives_oracle_7_1():
    A = np.arange(12, dtype=np.int8).reshape(3, 4)
    for k in (1, 2, 3):
        dx, dy = duplicate_x(A, k), duplicate_y(A, k)
        assert dx.shape == (3, 4 * k) and dy.shape == (3 * k, 4)
        assert all(np.array_equal(dx[:, 4 * i:4 * (i + 1)], A) for i in range(k))
        assert all(np.array_equal(dy[3 * i:3 * (i + 1)], A) for i in range(k))
    assert np.array_equal(reflect_x(reflect_x(A)), A) and np.array_equal(reflect_y(reflect_y(A)), A)
    assert not np.array_equal(reflect_x(A), A) and np.array_equal(reflect_x(A)[:, 0], A[:, -1])
    assert np.array_equal(reflect_y(A)[0], A[-1])
    once = A
    for _ in range(4):
        once = rotate(once)
    assert np.array_equal(once, A) and np.array_equal(rotate(A, 4), A) and rotate(A).shape == (4, 3)
    assert np.array_equal(rotate(A, -1), rotate(A, 3))
    big = scale_u(A, 2)
    assert big.shape == (6, 8) and np.array_equal(big, np.kron(A, np.ones((2, 2), dtype=np.int8)))
    assert scale_x(A, 3).shape == (3, 12) and scale_y(A, 3).shape == (9, 4)
    assert np.array_equal(scale_u(big, 0.5), A)  # nearest neighbour: halving undoes doubling
    room = room_interior()
    walled = add_wall(room, (0, 0))
    assert walled[0, 0] == WALL and room[0, 0] == EMPTY  # a copy: the input is untouched
    assert remove_wall(walled, (0, 0))[0, 0] == EMPTY and walled[0, 0] == WALL
    assert reflect_x(A) is not A and not np.shares_memory(reflect_x(A), A)


@pytest.mark.parametrize("call, message", [
    (lambda: reflect_x(np.zeros(3)), "2-D"),
    (lambda: rotate(np.zeros((2, 2, 2))), "2-D"),
    (lambda: duplicate_x(np.zeros((2, 2)), 0), "k must be an integer >= 1"),
    (lambda: duplicate_y(np.zeros((2, 2)), 1.5), "k must be an integer >= 1"),
    (lambda: duplicate_y(np.zeros((2, 2)), True), "k must be an integer >= 1"),
    (lambda: rotate(np.zeros((2, 2)), 0.5), "k must be an integer"),
    (lambda: scale_u(np.zeros((2, 2)), 0), "f must be"),
    (lambda: add_wall(np.zeros((2, 2)), (2, 0)), "cell must be"),
    (lambda: remove_wall(np.zeros((2, 2)), (0,)), "cell must be"),
])
def test_primitives_refuse_bad_inputs(call, message):
    with pytest.raises(ValueError, match=message):
        call()


# --- 2.3 proposals --------------------------------------------------------------------------------

def test_tile_shapes_and_room_tiling():
    assert tile_shapes(17, 17) == [(3, 17)]  # H >= W: (H // 5) x W
    assert tile_shapes(10, 40) == [(10, 8)]  # W > H: H x (W // 5)
    shapes = tile_shapes(12, 12, all_factors=True, min_size=3)
    assert (12, 12) not in shapes and {(3, 3), (6, 12), (12, 4)} <= set(shapes)
    assert all(h >= 3 and w >= 3 and 12 % h == 0 and 12 % w == 0 for h, w in shapes)
    assert tile_shapes(17, 17, extra=[(8, 8)]) == [(8, 8), (3, 17)]
    assert room_tile_grid(7) == ((8, 8), (1, 1), (7, 7))
    _, layout = lattice_world([room_interior()] * 4)
    positions = tile_positions(layout.shape, TILE, ORIGIN)
    assert positions.tolist() == [[1, 1], [1, 9], [9, 1], [9, 9]]
    assert all(tuple(layout.room_origin(k)) == tuple(p) for k, p in enumerate(positions))  # tile k = room k
    assert tile_positions((10, 10), (4, 3)).shape == (6, 2)  # complete tiles only


def test_proposals_threshold_dedup_merge_and_cap():
    room = room_interior()
    grid, layout = lattice_world([room] * 4)
    one = propose(room_view(grid, layout, [0]), TILE, ORIGIN)
    assert one.shape == (1, 8, 8) and one.dtype == np.int8
    assert np.array_equal(one[0], grid[1:9, 1:9])  # room 0 with its right and bottom walls
    # on a 3 x 3 lattice rooms 0 and 1 agree (same interior, doors right and below): one proposal;
    # room 4 is mirrored: a second one; room 2 ends in the outer wall (no door on its right): a third
    room_3x3 = [room] * 4 + [reflect_x(room)] + [room] * 4
    grid3, layout3 = lattice_world(room_3x3, rows=3, cols=3)
    assert len(propose(room_view(grid3, layout3, [0, 1, 4]), TILE, ORIGIN)) == 2
    assert len(propose(room_view(grid3, layout3, [0, 1, 2, 4]), TILE, ORIGIN)) == 3
    # merge: the later tile supplies what the earlier lacks and wins where it is observed
    tile = np.full((3, 3), UNOBSERVED, dtype=np.int8)
    known = np.full((3, 9), UNOBSERVED, dtype=np.int8)
    known[:, 0:3] = [[WALL, EMPTY, UNOBSERVED], [EMPTY, REWARD, EMPTY], [UNOBSERVED, EMPTY, WALL]]
    known[:, 3:6] = [[WALL, EMPTY, EMPTY], [EMPTY, EMPTY, EMPTY], [EMPTY, UNOBSERVED, UNOBSERVED]]
    known[:, 6:9] = tile  # fully unobserved: never a proposal
    merged = propose(known, (3, 3), max_proposals=3)
    assert merged.shape == (1, 3, 3)
    assert merged[0].tolist() == [[WALL, EMPTY, EMPTY], [EMPTY, EMPTY, EMPTY], [EMPTY, EMPTY, WALL]]
    # the 75 % rule: a tile with exactly 75 % unobserved cells is dropped
    sparse = np.full((2, 8), UNOBSERVED, dtype=np.int8)
    sparse[0, 0:2] = EMPTY  # 2 of 8 cells observed in the first 2 x 4 tile
    sparse[:, 4:7] = WALL  # 6 of 8 in the second
    assert len(propose(sparse, (2, 4))) == 1 and len(propose(sparse, (2, 4), max_unobserved=0.8)) == 2
    # the cap keeps the most observed first
    rng = np.random.default_rng(0)
    noisy = rng.choice([EMPTY, WALL], size=(4, 16)).astype(np.int8)
    noisy[:, 0:4][rng.random((4, 4)) < 0.5] = UNOBSERVED
    capped = propose(noisy, (4, 4), max_proposals=2)
    assert len(capped) == 2 and (capped != UNOBSERVED).sum(axis=(1, 2)).tolist() == [16, 16]


# --- 2.4 hypotheses, 2.5 posterior: oracles 7.2-7.4 -----------------------------------------------

def test_consistency_oracle_7_2():
    room = room_interior()
    grid, layout = lattice_world([room] * 4)
    known = room_view(grid, layout, [0])
    state = InductionState(TILE, ORIGIN, mirror_size=MIRROR)
    assert state.update(known)
    assert len(state.proposals) == 1 and len(state.maps) == 27  # 3 candidates on 3 unobserved rooms
    assert len({m.tobytes() for m in state.maps}) == len(state.maps)  # no duplicate maps
    belief = posterior(known, state.maps)
    assert isinstance(belief, Belief) and len(belief) == 28 and belief.fallback_index == 27
    for i, m in enumerate(belief.maps):
        assert agrees_on_observed(m, known)
        if i != belief.fallback_index:
            assert (m == REWARD).any() and belief.reward_maps[i].any()
            assert (m != known).any()  # every hypothesis adds something to the observation
    # 1e-9 is oracle 7.2's tolerance. The weights are float64 likelihoods divided by their sum (posterior.py),
    # at most 82 of them: re-summing gives |sum - 1| <= 82 x 2^-53 ~ 1e-14 on any IEEE-754 CPU (numpy's
    # single-threaded pairwise sum, no BLAS, no thread-count dependence): a 1e5 margin.
    assert (belief.weights >= 0).all() and abs(belief.weights.sum() - 1.0) <= 1e-9
    # the fallback has likelihood 1 - unobserved fraction, the hypotheses 1 (uniform prior)
    observed = float((known != UNOBSERVED).mean())
    assert belief.weights[-1] == pytest.approx(observed / (27 + observed), abs=1e-12)
    # the true rooms are among them (the outer wall differs: room_tile_grid's known limit)
    rooms = layout.room_of >= 0
    assert any(np.array_equal(m[rooms], grid[rooms]) for m in belief.maps)


def test_identifiability_oracle_7_3():
    room = np.full((S, S), WALL, dtype=np.int8)  # a room with its own wall ring and four doors
    room[1:-1, 1:-1] = room_interior()[1:-1, 1:-1]
    room[3, 0] = room[3, -1] = room[0, 3] = room[-1, 3] = EMPTY
    world = duplicate_x(duplicate_y(room, 2), 2)
    known = np.full_like(world, UNOBSERVED)
    known[:S, :S] = world[:S, :S]
    proposals = propose(known, (S, S))
    plain = hypotheses(known, proposals, (S, S), reflections=False)
    assert len(plain) == 1 and np.array_equal(plain.maps[0], world)
    unobserved = known == UNOBSERVED
    belief = posterior(known, plain.maps)
    assert np.array_equal(map_hypothesis(belief), world)
    hyps = [m for i, m in enumerate(belief.maps) if i != belief.fallback_index]
    assert all(np.array_equal(m[unobserved], world[unobserved]) for m in hyps)
    # with reflections the plain tiling is still the MAP (simplest program first on equal beliefs)
    with_reflections = hypotheses(known, proposals, (S, S))
    assert len(with_reflections) == 27 and with_reflections.reflected_tiles[0] == 0
    assert np.array_equal(map_hypothesis(posterior(known, with_reflections.maps)), world)


def test_reflection_oracle_7_4():
    room = np.full((S, S), WALL, dtype=np.int8)
    room[1:-1, 1:-1] = room_interior()[1:-1, 1:-1]
    room[3, -1] = EMPTY  # the door to the mirrored room on the right
    world = np.hstack([room, reflect_x(room)])
    known = world.copy()
    known[:, S:] = UNOBSERVED
    result = hypotheses(known, propose(known, (S, S)), (S, S))
    belief = posterior(known, result.maps)
    kept = [i for i, m in enumerate(belief.maps) if np.array_equal(m, world)]
    assert len(kept) == 1 and belief.weights[kept[0]] > 0
    assert not np.array_equal(map_hypothesis(belief), world)  # the plain copy ranks first, both kept
    # on the room lattice: the last room mirrored inside the shared walls (mirror_size)
    interior = room_interior()
    grid, layout = lattice_world([interior, interior, interior, reflect_x(interior)])
    known = room_view(grid, layout, [0])
    r0, c0 = layout.room_origin(3)
    truth = grid[r0:r0 + S, c0:c0 + S]
    for mirror_size, expected in ((MIRROR, True), (None, False)):
        state = InductionState(TILE, ORIGIN, mirror_size=mirror_size)
        state.update(known)
        belief = posterior(known, state.maps)
        found = [np.array_equal(m[r0:r0 + S, c0:c0 + S], truth) for m in belief.maps]
        assert any(found) is expected  # a whole-tile reflection moves the room off its walls


def test_random_map_gives_only_the_fallback_oracle_7_5():
    rng = np.random.default_rng(7)
    world = np.where(rng.random((20, 20)) < 0.35, WALL, EMPTY).astype(np.int8)
    world[rng.integers(0, 20, 6), rng.integers(0, 20, 6)] = REWARD
    known = np.where(rng.random((20, 20)) < 0.5, UNOBSERVED, world).astype(np.int8)
    for tile_shape in ((10, 10), (5, 5), (4, 20)):
        for max_proposals in (3, 4):
            proposals = propose(known, tile_shape, max_proposals=max_proposals)
            assert len(proposals) >= 3
            result = hypotheses(known, proposals, tile_shape)
            assert len(result) == 0
            belief = posterior(known, result.maps)
            assert len(belief) == 1 and belief.fallback_index == 0 and belief.weights.tolist() == [1.0]
            assert np.array_equal(belief.maps[0], known)


def brute_force(known: np.ndarray, candidates: np.ndarray, positions: np.ndarray) -> set[bytes]:
    """The reference's enumeration: every assignment (Cartesian product), kept if consistent with
    every observed cell and adding something to the observation."""
    h, w = candidates.shape[1:]
    maps = set()
    for chosen in itertools.product(range(len(candidates)), repeat=len(positions)):
        full = known.copy()
        for (r, c), k in zip(positions, chosen, strict=True):
            window = full[r:r + h, c:c + w]
            tile = candidates[k]
            if ((window != UNOBSERVED) & (tile != UNOBSERVED) & ((window == WALL) != (tile == WALL))).any():
                break
            np.copyto(window, tile, where=window == UNOBSERVED)
        else:
            if not np.array_equal(full, known):
                maps.add(full.tobytes())
    return maps


def test_backtracking_equals_the_cartesian_product_and_prunes():
    rng = np.random.default_rng(3)
    A, B = (rng.choice([EMPTY, WALL, REWARD], size=(4, 4), p=[0.5, 0.4, 0.1]).astype(np.int8)
            for _ in range(2))
    world = np.block([[A, B], [reflect_x(A), A]])
    known = world.copy()
    known[0:4, 4:8][rng.random((4, 4)) < 0.3] = UNOBSERVED
    known[4:8, 0:4][rng.random((4, 4)) < 0.7] = UNOBSERVED
    known[4:8, 4:8] = UNOBSERVED
    known[6, 6] = world[6, 6]
    result = hypotheses(known, propose(known, (4, 4)), (4, 4))
    assert len(result) > 3
    expected = brute_force(known, result.candidates, result.positions)
    assert {m.tobytes() for m in result.maps} == expected and len(result.maps) == len(expected)
    assert len(result.candidates) ** len(result.positions) > 10 * result.nodes_visited
    # walls symmetric, rewards not: on the observed tile the proposal and its reflect_x both fit and
    # fill nothing there, so they must count as one choice (no duplicate maps)
    sym = np.zeros((4, 4), dtype=np.int8)
    sym[1, [0, 3]] = WALL
    sym[2, 1] = REWARD
    known = np.full((4, 12), UNOBSERVED, dtype=np.int8)
    known[:, :4] = sym
    known[:2, 4:8] = sym[:2]
    result = hypotheses(known, propose(known, (4, 4)), (4, 4))
    expected = brute_force(known, result.candidates, result.positions)
    assert len(result.candidates) == 3 and len(result.maps) == len(expected) == 6  # 2 x 3 choices
    assert {m.tobytes() for m in result.maps} == expected
    # many proposals, little freedom: four different, partially observed tiles
    tiles = [rng.choice([EMPTY, WALL], size=(5, 5)).astype(np.int8) for _ in range(4)]
    world = np.block([[tiles[0], tiles[1]], [tiles[2], tiles[3]]])
    known = np.where(rng.random(world.shape) < 0.4, UNOBSERVED, world).astype(np.int8)
    result = hypotheses(known, propose(known, (5, 5), max_proposals=4), (5, 5))
    leaves = len(result.candidates) ** len(result.positions)
    assert len(result.candidates) >= 10 and leaves >= 10_000
    assert result.nodes_visited <= 4 * len(result.candidates) < leaves / 100  # one consistent tile each
    assert len(result) == 0  # each tile fits only itself, which fills nothing: no hypothesis


def test_cap_on_the_number_of_hypotheses():
    grid, layout = lattice_world([room_interior()] * 4)
    known = room_view(grid, layout, [0])
    proposals = propose(known, TILE, ORIGIN)
    full = hypotheses(known, proposals, TILE, ORIGIN, mirror_size=MIRROR)
    assert len(full) == 27 and not full.truncated and (np.diff(full.reflected_tiles) >= 0).all()
    exact = hypotheses(known, proposals, TILE, ORIGIN, max_hypotheses=27, mirror_size=MIRROR)
    assert len(exact) == 27 and not exact.truncated
    capped = hypotheses(known, proposals, TILE, ORIGIN, max_hypotheses=5, mirror_size=MIRROR)
    assert len(capped) == 5 and capped.truncated
    assert {m.tobytes() for m in capped.maps} <= {m.tobytes() for m in full.maps}


def test_hypotheses_are_recomputed_on_new_observations_oracle_7_9():
    interior = room_interior()
    grid, layout = lattice_world([interior, room_interior(seed=1), interior, interior])
    state = InductionState(TILE, ORIGIN, mirror_size=MIRROR)
    first = room_view(grid, layout, [0])
    assert state.update(first) and state.recomputations == 1
    before = {m.tobytes() for m in state.maps}
    assert not state.update(first.copy()) and state.recomputations == 1  # nothing new: nothing recomputed
    second = room_view(grid, layout, [0, 1])  # the agent enters room 1, which differs from room 0
    assert state.update(second) and state.recomputations == 2
    after = {m.tobytes() for m in state.maps}
    assert after and after != before
    assert len(state.proposals) == 2
    assert all(agrees_on_observed(m, second) for m in state.maps)
    assert not any(agrees_on_observed(np.frombuffer(b, np.int8).reshape(grid.shape), second) for b in before)
    # the library: earlier maps still consistent, overlaid with the new observation, are carried over
    # unless a new map refines them (white box: seed the library with three hand-made maps)
    third = room_view(grid, layout, [0, 1, 2])
    fresh = hypotheses(third, propose(third, TILE, ORIGIN), TILE, ORIGIN, mirror_size=MIRROR).maps
    says_more = fresh[0].copy()
    says_more[12, 12] = EMPTY if says_more[12, 12] == WALL else WALL  # in unobserved room 3
    assert not any(np.array_equal(says_more, m) for m in fresh)  # so no new map refines it
    stale = fresh[0].copy()
    stale[third != UNOBSERVED] = UNOBSERVED  # refined by fresh[0]
    wrong = fresh[0].copy()
    wrong[12, 12] = says_more[12, 12]
    wrong[3, 3] = WALL if third[3, 3] != WALL else EMPTY  # conflicts with room 0
    state.maps = np.concatenate([state.maps, np.stack([says_more, stale, wrong])])
    assert state.update(third) and state.from_library == 1
    assert len(state.maps) == len(fresh) + 1 and np.array_equal(state.maps[-1], says_more)
    # collected rewards are restored before induction (spec 2.3) and excluded by the posterior
    r, c = np.argwhere(first == REWARD)[0]
    collected_view = first.copy()
    collected_view[r, c] = EMPTY
    again = InductionState(TILE, ORIGIN, mirror_size=MIRROR)
    again.update(collected_view, collected=[(r, c)])
    assert np.array_equal(again.known, restore_rewards(collected_view, [(r, c)]))
    assert again.known[r, c] == REWARD
    assert {m.tobytes() for m in again.maps} == before
    belief = posterior(collected_view, again.maps, collected=[(r, c)])
    assert not belief.reward_maps[:, r, c].any()


def test_posterior_rules():
    known = np.full((3, 4), UNOBSERVED, dtype=np.int8)
    known[0] = [WALL, EMPTY, AGENT, REWARD]
    base = np.where(known == AGENT, EMPTY, known).astype(np.int8)
    good = base.copy()
    good[1, 0] = REWARD
    same_layout_less_filled = good.copy()
    good[2] = WALL
    conflict = good.copy()
    conflict[0, 1] = WALL
    no_reward = base.copy()
    no_reward[0, 3] = EMPTY  # a reward shown EMPTY conflicts with nothing (rewards are ignored)
    no_reward[1:] = EMPTY
    maps = np.stack([same_layout_less_filled, conflict, good, no_reward])
    belief = posterior(known, maps, collected=[(0, 3)])
    # conflict dropped; no_reward: its only reward is collected; the two "good" share a reward layout
    assert len(belief) == 2 and np.array_equal(belief.maps[0], good) and belief.fallback_index == 1
    assert np.array_equal(belief.maps[1], base)  # the fallback: the observation, AGENT read as EMPTY
    fallback_likelihood = 4 / 12
    assert belief.weights.tolist() == pytest.approx([1 / (1 + fallback_likelihood),
                                                      fallback_likelihood / (1 + fallback_likelihood)])
    assert np.array_equal(map_hypothesis(belief), good)
    without = posterior(known, maps, collected=[(0, 3)], fallback=False)
    assert len(without) == 1 and without.fallback_index is None and without.weights.tolist() == [1.0]
    nothing = posterior(known, maps[[1]], fallback=False)  # every likelihood 0: the fallback alone
    assert len(nothing) == 1 and nothing.fallback_index == 0 and nothing.weights.tolist() == [1.0]
    empty = posterior(known, np.empty((0, 3, 4), dtype=np.int8))
    assert len(empty) == 1 and np.array_equal(empty.maps[0], base)
    mask = np.zeros((3, 4), dtype=bool)
    mask[0, 3] = True
    assert np.array_equal(posterior(known, maps, collected=mask).weights, belief.weights)


@pytest.mark.parametrize("call, message", [
    (lambda: propose(np.zeros((5, 5), np.int8), (6, 2)), "tile_shape .* must fit"),
    (lambda: hypotheses(np.zeros((5, 5), np.int8), np.zeros((0, 4, 4)), (4, 4), origin=(2, 0)), "must fit"),
    (lambda: tile_positions((5, 5), (0, 2)), "tile_shape must be a pair of integers >= 1"),
    (lambda: propose(np.zeros(5, np.int8), (1, 1)), "known must be a non-empty 2-D array"),
    (lambda: propose(np.zeros((2, 2, 2), np.int8), (1, 1)), "known must be a non-empty 2-D array"),
    (lambda: propose(np.full((2, 2), 1), (1, 1)), "known must hold only the codes"),
    (lambda: propose(np.zeros((2, 2)), (1, 1)), "known must hold integers"),
    (lambda: propose(np.zeros((4, 4), np.int8), (2, 2), max_proposals=0), "max_proposals must be .* >= 1"),
    (lambda: propose(np.zeros((4, 4), np.int8), (2, 2), max_proposals=1.5), "max_proposals"),
    (lambda: propose(np.zeros((4, 4), np.int8), (2, 2), max_unobserved=0), "max_unobserved"),
    (lambda: hypotheses(np.zeros((4, 4), np.int8), np.zeros((1, 3, 3), np.int8), (2, 2)), "proposals must"),
    (lambda: hypotheses(np.zeros((4, 4), np.int8), np.zeros((1, 2, 2), np.int8), (2, 2), max_hypotheses=0),
     "max_hypotheses"),
    (lambda: hypotheses(np.zeros((4, 4), np.int8), np.zeros((1, 2, 2), np.int8), (2, 2), mirror_size=(3, 1)),
     "mirror_size"),
    (lambda: tile_shapes(4, 4, frag_size=5), "frag_size"),
    (lambda: InductionState((2, 2), max_proposals=-1), "max_proposals"),
    (lambda: posterior(np.zeros((4, 4), np.int8), np.zeros((1, 4, 5), np.int8)), "maps must be"),
    (lambda: posterior(np.zeros((4, 4), np.int8), np.zeros((1, 4, 4), np.int8), collected=[(4, 0)]),
     "collected"),
    (lambda: map_hypothesis("nothing"), "belief must be"),
])
def test_bad_inputs_are_refused(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_state_refuses_a_changed_map_shape():
    state = InductionState((2, 2))
    state.update(np.zeros((4, 4), np.int8))
    with pytest.raises(ValueError, match="known must keep the map's shape"):
        state.update(np.zeros((4, 6), np.int8))


def test_inference_is_fast_on_the_cpu_setup():
    """Spec 6: 2 x 2 world of 7 x 7 rooms, room tiles, <= 4 tiles x <= 3 proposals plus reflections."""
    interior = room_interior()
    grid, layout = lattice_world([interior, room_interior(seed=1), interior, reflect_x(interior)])
    known = room_view(grid, layout, [0, 1])
    start = time.perf_counter()
    for _ in range(10):
        result = hypotheses(known, propose(known, TILE, ORIGIN), TILE, ORIGIN, mirror_size=MIRROR)
        posterior(known, result.maps)
    per_call = (time.perf_counter() - start) / 10
    assert len(result) == 36 and per_call < 0.1, per_call
