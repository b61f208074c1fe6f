"""FARMap local map (lightning_modules/farmap/local_map.py): decay and confidence oracles 7.3-7.4,
lazy decay against the naive every-entry update, frontier / q / memory against direct computations."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from neurobolts.lightning_modules.farmap.local_map import LocalMap

GAMMA = 0.9


class NaiveMap:
    """The spec's update written out: every entry x gamma, + (1 - gamma) one-hot at observed cells,
    clip to [0, 1]; the argmax of a cell moves only when it is observed (ties: the observed class)."""

    def __init__(self, shape, n_classes, gamma=GAMMA):
        self.gamma = gamma
        self.conf = np.zeros((n_classes, *shape))
        self.argmax = np.full(shape, -1)

    def update(self, rows, cols, classes):
        self.conf *= self.gamma
        self.conf[classes, rows, cols] += 1.0 - self.gamma
        np.clip(self.conf, 0.0, 1.0, out=self.conf)
        for r, c, k in zip(rows, cols, classes, strict=True):
            if self.conf[k, r, c] >= self.conf[:, r, c].max():
                self.argmax[r, c] = k
        return self.conf[classes, rows, cols].mean()


def naive_frontier(known, known_free):
    near_free = ndimage.binary_dilation(known_free, structure=np.ones((3, 3), bool))
    return near_free & ~known


def cells(shape):
    rows, cols = np.indices(shape)
    return rows.ravel(), cols.ravel()


# -- oracle 7.3: decay ----------------------------------------------------------------------------
@pytest.mark.parametrize("k", [1, 2, 5, 17, 60])
def test_k_identical_observations_give_one_minus_gamma_to_the_k(k):
    stm = LocalMap((6, 7), gamma=GAMMA)
    rows, cols = cells((3, 4))
    classes = (rows + cols) % 3
    for i in range(1, k + 1):
        confidence = stm.update(rows, cols, classes)
        assert confidence == pytest.approx(1 - GAMMA ** i, abs=1e-9)
    for r, c, cls in zip(rows, cols, classes, strict=True):
        assert stm.value(r, c, cls) == pytest.approx(1 - GAMMA ** k, abs=1e-9)
        assert stm.value(r, c, (cls + 1) % 3) == 0.0


def test_unobserved_cell_decays_by_gamma_per_update():
    stm = LocalMap((5, 5))
    stm.update(np.array([0]), np.array([0]), np.array([2]))
    value = stm.value(0, 0, 2)
    assert value == pytest.approx(1 - GAMMA, abs=1e-12)
    for _ in range(30):
        stm.update(np.array([4]), np.array([4]), np.array([0]))  # another cell only
        assert stm.value(0, 0, 2) == pytest.approx(value * GAMMA, rel=1e-12)
        value = stm.value(0, 0, 2)
    # an observation after 30 silent updates: c gamma^(t + 1) + (1 - gamma), the spec's update-first rule
    c30 = stm.value(0, 0, 2)
    confidence = stm.update(np.array([0]), np.array([0]), np.array([2]))
    assert confidence == pytest.approx(c30 * GAMMA + (1 - GAMMA), abs=1e-12)


# -- oracle 7.4: update-first confidence ----------------------------------------------------------
def test_confidence_after_the_kth_identical_observation():
    stm = LocalMap((15, 15))
    rows, cols = cells((15, 15))
    classes = np.random.default_rng(0).integers(0, 4, rows.size)
    for k in range(1, 40):
        assert stm.update(rows, cols, classes) == pytest.approx(1 - GAMMA ** k, abs=1e-9)


@pytest.mark.parametrize("f", [0.0, 0.2, 0.5, 0.9])
def test_confidence_with_a_fraction_of_never_seen_cells(f):
    stm = LocalMap((20, 20))
    rows, cols = cells((20, 20))
    classes = np.zeros(rows.size, dtype=np.int64)
    n_new = int(round(f * rows.size))
    old = slice(n_new, None)
    for _ in range(300):  # the old part: seen many times
        stm.update(rows[old], cols[old], classes[old])
    confidence = stm.update(rows, cols, classes)  # the first n_new cells are new
    assert confidence == pytest.approx((1 - f) + (1 - GAMMA) * f, abs=1e-9)


# -- lazy decay == naive decay --------------------------------------------------------------------
@pytest.mark.parametrize("seed", range(4))
def test_lazy_decay_equals_the_naive_update(seed):
    rng = np.random.default_rng(seed)
    shape, n_classes = (12, 10), 4
    world = rng.integers(0, n_classes, shape)
    world[rng.random(shape) < 0.5] = 0  # plenty of free space
    lazy, naive = LocalMap(shape, gamma=GAMMA), NaiveMap(shape, n_classes)
    changed_class = 0
    for step in range(250):
        if rng.random() < 0.15:  # a dynamic world: some cells change class (the slow, exact path)
            flip = rng.random(shape) < 0.05
            world[flip] = rng.integers(0, n_classes, int(flip.sum()))
        if rng.random() < 0.3:  # long silent stretches for part of the map
            box = (slice(0, 4), slice(0, 10))
        else:
            box = (slice(None), slice(None))
        chosen = np.zeros(shape, bool)
        chosen[box] = rng.random(shape)[box] < 0.3
        rows, cols = np.nonzero(chosen)
        classes = world[rows, cols]
        changed_class += int(np.count_nonzero((lazy.classes[rows, cols] >= 0)
                                              & (lazy.classes[rows, cols] != classes)))
        got, expected = lazy.update(rows, cols, classes), naive.update(rows, cols, classes)
        if rows.size:
            assert got == pytest.approx(expected, abs=1e-12), step
        else:
            assert np.isnan(got)
        if step % 25 == 0 or step == 249:
            values = np.array([[[lazy.value(r, c, k) for c in range(shape[1])] for r in range(shape[0])]
                               for k in range(n_classes)])
            np.testing.assert_allclose(values, naive.conf, atol=1e-12)
            np.testing.assert_array_equal(lazy.classes, naive.argmax)
            known = naive.conf.max(axis=0) > 0
            known_free = known & (naive.argmax == 0)
            np.testing.assert_array_equal(lazy.known, known)
            np.testing.assert_array_equal(lazy.known_free, known_free)
            frontier = naive_frontier(known, known_free)
            np.testing.assert_array_equal(lazy.frontier, frontier)
            assert lazy.n_frontier == frontier.sum() and lazy.n_known_free == known_free.sum()
            assert lazy.n_known == known.sum()
            np.testing.assert_allclose(lazy.confidence_map(),
                                       np.where(known, naive.conf.max(axis=0), 0.0), atol=1e-12)
    assert changed_class > 20  # the class-change path was exercised


def test_a_class_change_is_exact():
    """A cell seen 3 times as wall (class 2) and then as free: free starts at 0.1 while the wall class
    decays; the cell's class moves to free once free leads, and back."""
    stm = LocalMap((3, 3))
    r, c = np.array([1]), np.array([1])
    for _ in range(3):
        stm.update(r, c, np.array([2]))
    wall = 1 - GAMMA ** 3
    assert stm.value(1, 1, 2) == pytest.approx(wall)
    assert not stm.known_free[1, 1] and stm.n_frontier == 0
    confidence = stm.update(r, c, np.array([0]))  # first free observation: update-first value 0.1
    assert confidence == pytest.approx(0.1)
    wall *= GAMMA
    assert stm.value(1, 1, 2) == pytest.approx(wall) and stm.classes[1, 1] == 2
    free = 0.1
    while stm.classes[1, 1] == 2:
        stm.update(r, c, np.array([0]))
        free, wall = free * GAMMA + 0.1, wall * GAMMA
        assert stm.value(1, 1, 0) == pytest.approx(free) and stm.value(1, 1, 2) == pytest.approx(wall)
    assert free >= wall and stm.known_free[1, 1] and stm.n_known_free == 1
    assert stm.n_frontier == 8  # its 8 unknown neighbours
    stm.update(r, c, np.array([2]))  # wall again: decayed wall + 0.1 vs decayed free
    assert stm.value(1, 1, 2) == pytest.approx(wall * GAMMA + 0.1)
    assert stm.value(1, 1, 0) == pytest.approx(free * GAMMA)


# -- frontier, q, memory --------------------------------------------------------------------------
def test_frontier_q_and_memory_in_a_room():
    world = np.ones((9, 11), dtype=np.int64)  # walls (class 1) around a 7 x 9 free room
    world[1:-1, 1:-1] = 0
    stm = LocalMap(world.shape)
    # see a 3 x 3 free patch in the middle
    rows, cols = np.mgrid[3:6, 4:7]
    stm.update(rows.ravel(), cols.ravel(), world[rows, cols].ravel())
    assert stm.n_known_free == 9 and stm.n_frontier == 5 * 5 - 9
    assert stm.q == pytest.approx(16 / 9)
    assert stm.bbox == (3, 5, 4, 6) and stm.memory == 9
    window = stm.window()
    assert stm.frontier[window].sum() == stm.n_frontier  # the window holds every frontier cell
    # see everything: no frontier (oracle 7.7: a fully explored map has no candidates)
    rows, cols = cells(world.shape)
    stm.update(rows, cols, world.ravel())
    assert stm.n_frontier == 0 and stm.q == 0.0 and not stm.frontier.any()
    assert stm.memory == world.size and stm.n_known_free == 63


def test_frontier_at_the_grid_edge_stays_inside_the_grid():
    stm = LocalMap((4, 4))
    stm.update(np.array([0]), np.array([0]), np.array([0]))  # a free corner cell
    assert stm.n_frontier == 3 and stm.frontier[:2, :2].sum() == 3


def test_empty_map_and_frames():
    stm = LocalMap((10, 12), map_id=3, origin=(4, 5))
    assert stm.memory == 0 and stm.bbox is None and stm.q == 0.0
    assert stm.window() == (slice(0, 0), slice(0, 0))
    assert stm.to_local(6, 9) == (2, 4) and stm.to_world(*stm.to_local(6, 9)) == (6, 9)
    assert np.isnan(stm.update(np.array([], int), np.array([], int), np.array([], int)))
    assert stm.updates == 1


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"gamma": 1.0}, r"gamma must be a finite number in \(0, 1\), got 1.0"),
    ({"gamma": 0}, r"gamma must be a finite number in \(0, 1\), got 0"),
    ({"map_id": -1}, r"map_id must be an integer >= 0, got -1"),
])
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        LocalMap((3, 3), **kwargs)


def test_negative_class_is_refused():
    stm = LocalMap((3, 3))
    with pytest.raises(ValueError, match="classes must be class ids >= 0"):
        stm.update(np.array([0]), np.array([0]), np.array([-1]))
