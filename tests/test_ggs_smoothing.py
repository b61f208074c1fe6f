"""GGS graph-based smoothing (docs/papers/ggs.md section 2.4, defects 3-4; section 7 items 4-5): node
augmentation, exact kNN against brute force (Hamming and Levenshtein), adjacency and Laplacians, the
Tikhonov solve and the whole chain."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from scipy.spatial.distance import cdist

from neurobolts.datamodules.ggs.sequences import hamming_distances
from neurobolts.lightning_modules.ggs.augmentation import augment_nodes
from neurobolts.lightning_modules.ggs.graph import adjacency, default_k, knn_graph, laplacian
from neurobolts.lightning_modules.ggs.smoothing import (
    SmoothingResult,
    dirichlet_energy,
    graph_smooth,
    smooth_labels,
)


@pytest.fixture(autouse=True)
def _one_thread(one_torch_thread):
    yield


def _random_tokens(seed: int, n: int, length: int, states: int = 20) -> torch.Tensor:
    return torch.randint(0, states, (n, length), generator=torch.Generator().manual_seed(seed))


def _graph(num_nodes: int = 400, length: int = 10, k: int | None = None, weights: str = "inverse"):
    train = _random_tokens(0, 60, length)
    nodes = augment_nodes(train, num_nodes, generator=torch.Generator().manual_seed(1))
    rows, cols, distances = knn_graph(nodes, k)
    return nodes, adjacency(rows, cols, distances, num_nodes, weights=weights)


# --- augmentation ---------------------------------------------------------------------------------

def test_code_mode_gives_n_unique_nodes_each_one_mutation_from_its_cycled_parent():
    train = _random_tokens(0, 50, 12)
    train = torch.cat([train, train[:10]])  # duplicates are kept once, in order of first occurrence
    nodes = augment_nodes(train, 1000, generator=torch.Generator().manual_seed(3))
    assert nodes.shape == (1000, 12) and nodes.dtype == torch.long
    assert len(torch.unique(nodes, dim=0)) == 1000
    torch.testing.assert_close(nodes[:50], train[:50])
    augmented = nodes[50:]
    assert (hamming_distances(augmented, train[:50]).min(dim=1).values == 1).all()
    # the pointer over the original sequences advances only on success: node 50 + i mutates train[i % 50]
    parents = train[torch.arange(950) % 50]
    assert ((augmented != parents).sum(dim=1) == 1).all()
    again = augment_nodes(train, 1000, generator=torch.Generator().manual_seed(3))
    assert torch.equal(nodes, again)


def test_paper_mode_walks_away_from_the_training_set():
    train = _random_tokens(0, 5, 12)
    nodes = augment_nodes(train, 2000, mode="paper", generator=torch.Generator().manual_seed(3))
    assert nodes.shape == (2000, 12) and len(torch.unique(nodes, dim=0)) == 2000
    distance_to_train = hamming_distances(nodes[5:], train).min(dim=1).values
    assert distance_to_train.min() == 1 and distance_to_train.max() >= 3  # parents drawn from all of V


def test_augmentation_bad_input_and_short_budget():
    train = _random_tokens(0, 30, 6)
    with pytest.raises(ValueError, match=r"num_nodes must be >= the number of unique training sequences \(30\)"):
        augment_nodes(train, 29, generator=torch.Generator())
    with pytest.raises(ValueError, match="mode"):
        augment_nodes(train, 40, mode="walk", generator=torch.Generator())
    with pytest.raises(ValueError, match="generator"):
        augment_nodes(train, 40, generator=0)
    with pytest.raises(ValueError, match=r"train_tokens must lie in \[0, 3\]"):
        augment_nodes(train, 40, num_states=4, generator=torch.Generator())
    with pytest.warns(RuntimeWarning, match="of num_nodes=100"):
        short = augment_nodes(train, 100, generator=torch.Generator().manual_seed(0), max_iterations=20)
    assert 30 < len(short) <= 50
    assert len(augment_nodes(train, 30, generator=torch.Generator())) == 30


# --- kNN graph ------------------------------------------------------------------------------------

def test_default_k_is_floor_sqrt_n_plus_one():
    assert default_k(250_000) == 501 and default_k(20_000) == 142 and default_k(10_000) == 101
    for n in range(1, 3000):
        assert default_k(n) == math.floor(math.sqrt(n) + 1)


def _levenshtein(a, b) -> int:
    previous = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        current = [i]
        for j, y in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (x != y)))
        previous = current
    return previous[-1]


@pytest.mark.parametrize("metric", ["hamming", "levenshtein"])
def test_knn_equals_brute_force_with_ties_broken_by_index(metric):
    tokens = torch.unique(_random_tokens(2, 150, 6, states=3), dim=0)  # small alphabet: many ties
    tokens = tokens[torch.randperm(len(tokens), generator=torch.Generator().manual_seed(0))]
    n, k = len(tokens), 9
    array = tokens.numpy()
    if metric == "hamming":
        brute = np.rint(cdist(array, array, "hamming") * array.shape[1]).astype(np.int64)
    else:
        brute = np.array([[_levenshtein(a, b) for b in array] for a in array])
    np.fill_diagonal(brute, 10**6)
    expected = np.argsort(brute, axis=1, kind="stable")[:, :k]  # by distance, then by index
    rows, cols, distances = knn_graph(tokens, k, metric=metric, chunk_size=37)
    assert np.array_equal(rows, np.repeat(np.arange(n), k))
    assert np.array_equal(cols.reshape(n, k), expected)
    assert np.array_equal(distances.reshape(n, k), np.take_along_axis(brute, expected, axis=1))


def test_knn_bad_input():
    tokens = _random_tokens(0, 20, 5)
    with pytest.raises(ValueError, match=r"k must be an integer in \[1, 19\]"):
        knn_graph(tokens, 20)
    with pytest.raises(ValueError, match="metric"):
        knn_graph(tokens, 3, metric="euclidean")
    with pytest.raises(ValueError, match="device must be 'cpu' for metric='levenshtein'"):
        knn_graph(tokens, 3, metric="levenshtein", device="meta")
    assert len(knn_graph(tokens)[0]) == 20 * default_k(20)


# --- adjacency and Laplacian ----------------------------------------------------------------------

def test_adjacency_is_the_symmetric_union_without_self_loops():
    nodes, inverse = _graph(weights="inverse")
    rows, cols, distances = knn_graph(nodes)
    _, distance = _graph(weights="distance")
    n = len(nodes)
    for matrix in (inverse, distance):
        assert matrix.shape == (n, n) and (abs(matrix - matrix.T)).nnz == 0
        assert matrix.diagonal().sum() == 0
    # union: every directed kNN edge is present in both directions, and nothing else
    directed = sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(n, n))
    pattern = (directed + directed.T).astype(bool)
    assert (pattern != inverse.astype(bool)).nnz == 0 and (pattern != distance.astype(bool)).nnz == 0
    # weights: 1/d (inverse) and d (the code's invert-max-invert, defect 3)
    dense_distance = hamming_distances(nodes, nodes).numpy()
    r, c = inverse.nonzero()
    np.testing.assert_array_equal(np.asarray(distance[r, c]).ravel(), dense_distance[r, c])
    # both sides are 1/d of the same integer in float64: identical up to one rounding (rtol 1e-15)
    np.testing.assert_allclose(np.asarray(inverse[r, c]).ravel(), 1.0 / dense_distance[r, c], rtol=1e-15)


def test_adjacency_bad_input():
    with pytest.raises(ValueError, match="distances must be finite and >= 1"):
        adjacency(np.array([0, 1]), np.array([1, 0]), np.array([0, 0]), 2)
    with pytest.raises(ValueError, match="weights"):
        adjacency(np.array([0]), np.array([1]), np.array([1]), 2, weights="gaussian")
    with pytest.raises(ValueError, match="each directed edge must be given once"):
        adjacency(np.array([0, 0]), np.array([1, 1]), np.array([1, 1]), 2)
    duplicated = torch.cat([_random_tokens(0, 10, 5)] * 2)
    with pytest.raises(ValueError, match="distinct sequences"):
        adjacency(*knn_graph(duplicated, 3), 20)


def test_laplacians_null_vectors_and_isolated_nodes():
    _, weights = _graph()
    degree = np.asarray(weights.sum(axis=1)).ravel()
    # rounding only: entries of L are O(1) and rows have ~2k terms, so |L v| ~ 1e-13 at most
    assert np.abs(laplacian(weights, "normalized") @ np.sqrt(degree)).max() < 1e-10
    assert np.abs(laplacian(weights, "combinatorial") @ np.ones(len(degree))).max() < 1e-10 * degree.max()
    isolated = sp.csr_matrix(np.array([[0, 4.0, 0], [4.0, 0, 0], [0, 0, 0]]))  # degree 4: D^-1/2 = 1/2 exactly
    normalized = laplacian(isolated, "normalized").toarray()
    np.testing.assert_array_equal(normalized, [[1, -1, 0], [-1, 1, 0], [0, 0, 1]])
    np.testing.assert_array_equal(laplacian(isolated, "combinatorial").toarray(), [[4, -4, 0], [-4, 4, 0], [0, 0, 0]])
    with pytest.raises(ValueError, match="kind"):
        laplacian(isolated, "random_walk")
    with pytest.raises(ValueError, match="symmetric"):
        laplacian(sp.csr_matrix(np.array([[0, 1.0], [0, 0]])))


# --- the solve ------------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["normalized", "combinatorial"])
@pytest.mark.parametrize("gamma", [0.5, 1.0, 10.0])
def test_smoothing_solves_the_system_and_lowers_the_energy(kind, gamma):
    _, weights = _graph()
    lap = laplacian(weights, kind)
    y = np.random.default_rng(0).normal(size=lap.shape[0])
    rtol = 1e-8
    smoothed = smooth_labels(lap, y, gamma, rtol=rtol)
    residual = smoothed + gamma * (lap @ smoothed) - y
    # CG stops when its recursive residual is <= rtol ||y||; the true residual differs by rounding
    assert np.linalg.norm(residual) <= 1.01 * rtol * np.linalg.norm(y)
    assert dirichlet_energy(lap, smoothed) < 0.5 * dirichlet_energy(lap, y)
    assert np.linalg.norm(smoothed - y) > 0


def test_gamma_zero_returns_a_copy_and_null_vectors_are_fixed_points():
    _, weights = _graph()
    y = np.random.default_rng(1).normal(size=weights.shape[0])
    normalized, combinatorial = laplacian(weights, "normalized"), laplacian(weights, "combinatorial")
    same = smooth_labels(normalized, y, 0.0)
    assert same is not y and np.array_equal(same, y)
    # L v = 0 up to rounding for these v, so CG starting at v stops at (or within rtol of) v
    d_sqrt = 3.0 * np.sqrt(np.asarray(weights.sum(axis=1)).ravel())
    np.testing.assert_allclose(smooth_labels(normalized, d_sqrt, 1.0), d_sqrt, rtol=1e-6)
    constant = np.full(len(y), 2.5)
    np.testing.assert_allclose(smooth_labels(combinatorial, constant, 10.0), constant, rtol=1e-6)
    # combinatorial L: 1^T L = 0, so 1^T Y_hat = 1^T Y up to the CG residual r: |mean difference|
    # = |1^T r| / N <= ||r|| / sqrt(N) <= 1.01 rtol ||Y|| / sqrt(N)
    smoothed = smooth_labels(combinatorial, y, 1.0, rtol=1e-8)
    assert abs(smoothed.mean() - y.mean()) <= 1.01e-8 * np.linalg.norm(y) / math.sqrt(len(y))


def test_smoothing_bad_input():
    _, weights = _graph(num_nodes=200)
    lap = laplacian(weights)
    y = np.random.default_rng(0).normal(size=200)
    with pytest.raises(ValueError, match="gamma must be a finite number >= 0, got -1"):
        smooth_labels(lap, y, -1.0)
    with pytest.raises(ValueError, match=r"labels must have shape \(200,\)"):
        smooth_labels(lap, y[:10])
    with pytest.raises(RuntimeError, match="did not converge in 1 iterations"):
        smooth_labels(lap, y, 100.0, rtol=1e-12, maxiter=1)
    assert isinstance(dirichlet_energy(lap, y), float) and dirichlet_energy(lap, y) > 0


# --- the chain ------------------------------------------------------------------------------------

def _additive_predictor(length: int):
    weights = torch.randn(length, 20, generator=torch.Generator().manual_seed(5))
    return lambda tokens: weights[torch.arange(length), tokens].sum(1)


def test_graph_smooth_chains_the_stages():
    train = _random_tokens(0, 80, 10)
    result = graph_smooth(train, _additive_predictor(10), num_nodes=600, gamma=1.0,
                          generator=torch.Generator().manual_seed(0))
    assert isinstance(result, SmoothingResult)
    assert result.tokens.shape == (600, 10) and result.k == default_k(600) == 25
    assert result.labels.shape == result.smoothed.shape == (600,)
    np.testing.assert_allclose(result.labels, _additive_predictor(10)(result.tokens).numpy(), rtol=1e-6)
    assert set(result.seconds) == {"augment", "predict", "knn", "adjacency", "laplacian", "solve"}
    rows, cols, distances = knn_graph(result.tokens, result.k)
    weights = adjacency(rows, cols, distances, 600)
    lap = laplacian(weights)
    assert result.num_edges == weights.nnz // 2
    assert dirichlet_energy(lap, result.smoothed) < dirichlet_energy(lap, result.labels)
    residual = result.smoothed + lap @ result.smoothed - result.labels
    assert np.linalg.norm(residual) <= 1.01e-6 * np.linalg.norm(result.labels)
    paper = graph_smooth(train, _additive_predictor(10), num_nodes=600, k=10, metric="levenshtein",
                         weights="distance", laplacian_kind="combinatorial", augmentation="paper",
                         generator=torch.Generator().manual_seed(0))
    assert paper.k == 10 and abs(paper.smoothed.mean() - paper.labels.mean()) < 1e-6 * np.abs(paper.labels).max()


@pytest.mark.parametrize("field, overrides", [
    ("gamma", {"gamma": -0.5}), ("k", {"k": 600}), ("metric", {"metric": "cosine"}),
    ("weights", {"weights": "gaussian"}), ("laplacian_kind", {"laplacian_kind": "random_walk"}),
    ("augmentation", {"augmentation": "ham2"}), ("predict", {"predict": None}),
])
def test_graph_smooth_checks_arguments_first(field, overrides):
    calls = []
    arguments = {"num_nodes": 600, "generator": torch.Generator(), "predict": lambda t: calls.append(1)}
    arguments.update(overrides)
    with pytest.raises(ValueError, match=field):
        graph_smooth(_random_tokens(0, 80, 10), **arguments)
    assert not calls
