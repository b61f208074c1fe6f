"""Classical (Torgerson) multidimensional scaling of a distance matrix (numpy only): the 2D embedding
drawn beside DSA distance matrices."""

from __future__ import annotations

import numpy as np


def classical_mds(distances: np.ndarray, dims: int = 2) -> np.ndarray:
    """Torgerson's classical MDS: (n, dims) coordinates whose Euclidean distances approximate `distances`."""
    D = np.asarray(distances, dtype=np.float64)
    n = D.shape[0]
    J = np.eye(n) - np.ones((n, n)) / n
    B = -0.5 * J @ (D**2) @ J
    values, vectors = np.linalg.eigh(B)
    order = np.argsort(values)[::-1][:dims]
    coords = vectors[:, order] * np.sqrt(np.clip(values[order], 0, None))
    if coords.shape[1] < dims:
        coords = np.pad(coords, ((0, 0), (0, dims - coords.shape[1])))
    return coords
