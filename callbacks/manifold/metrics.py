"""Latent-manifold ordering: does a representation vary with the ground-truth factors, and in order?

Pure functions of `latents` (n x d) and `factors` (n x k), numpy or torch; no Lightning. Used by the
`LatentManifoldOrdering` callback and usable on their own.

- `trustworthiness(latents, factors, k)`: neighbours in the latent space that are not neighbours in
  factor space are penalised (scikit-learn's definition with the factors as the reference space).
- `continuity(latents, factors, k)`: the converse, factor neighbours missing among latent neighbours.
- `participation_ratio(latents)`: effective dimension (sum lambda)^2 / sum lambda^2 of the covariance.
- `explained_variance(latents, n)`: variance fractions of the top n principal components.
- `knn_r2(latents, factors, k)`: cross-validated R^2 of each factor from its latent kNN regression.
- `distance_spearman(latents, factors)`: Spearman rho between pairwise latent and factor distances
  (reported; the spec finds it unreliable as an order metric).

The A / B / C phase rule on these metrics is in `callbacks/manifold/phases.py`.
"""

from __future__ import annotations

import numpy as np

from neurobolts.plugins.checks import check_positive_int


def _as_array(name: str, value) -> np.ndarray:
    if hasattr(value, "detach"):
        value = value.detach().float().cpu().numpy()
    array = np.asarray(value, dtype=np.float64)
    if array.ndim == 1:
        array = array[:, None]
    if array.ndim != 2:
        raise ValueError(f"{name} must be a 2D array (n_points, n_features), got shape {array.shape}")
    if not np.all(np.isfinite(array)):
        bad = int((~np.isfinite(array)).any(axis=1).sum())
        raise ValueError(f"{name} contains NaN or inf values in {bad} of {len(array)} rows")
    return array


def _checked(latents, factors, k: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    z = _as_array("latents", latents)
    f = _as_array("factors", factors)
    if len(z) != len(f):
        raise ValueError(f"latents and factors must have the same number of points, got {len(z)} and {len(f)}")
    if k is not None:
        check_positive_int("k", k)
        # scikit-learn's trustworthiness normalisation requires k < n / 2
        if k >= len(z) / 2:
            raise ValueError(f"k={k} neighbours needs more than {2 * k} probe points, got {len(z)}")
    return z, f


def trustworthiness(latents, factors, k: int = 5) -> float:
    """Trustworthiness of the latent space with respect to the factors, in [0, 1].

    Equal to `sklearn.manifold.trustworthiness(factors, latents, n_neighbors=k)`.
    """
    from sklearn.manifold import trustworthiness as sk_trustworthiness

    z, f = _checked(latents, factors, k)
    return float(sk_trustworthiness(f, z, n_neighbors=k))


def continuity(latents, factors, k: int = 5) -> float:
    """Continuity: trustworthiness with the roles swapped (factor neighbours kept in latent space)."""
    from sklearn.manifold import trustworthiness as sk_trustworthiness

    z, f = _checked(latents, factors, k)
    return float(sk_trustworthiness(z, f, n_neighbors=k))


def _covariance_eigenvalues(z: np.ndarray) -> np.ndarray:
    centred = z - z.mean(axis=0, keepdims=True)
    singular = np.linalg.svd(centred, compute_uv=False)
    return singular**2 / max(len(z) - 1, 1)


def participation_ratio(latents) -> float:
    """(sum_i lambda_i)^2 / sum_i lambda_i^2 over the covariance eigenvalues; 0 for constant latents."""
    z = _as_array("latents", latents)
    lam = _covariance_eigenvalues(z)
    denom = float((lam**2).sum())
    return float(lam.sum() ** 2 / denom) if denom > 0 else 0.0


def explained_variance(latents, n_components: int = 4) -> np.ndarray:
    """Fractions of the total variance carried by each of the top `n_components` PCs."""
    z = _as_array("latents", latents)
    lam = _covariance_eigenvalues(z)
    total = lam.sum()
    out = np.zeros(n_components)
    if total > 0:
        top = lam[:n_components] / total
        out[: len(top)] = top
    return out


def knn_r2(latents, factors, k: int = 5, folds: int = 5, seed: int = 0) -> np.ndarray:
    """Cross-validated R^2 of each factor predicted by kNN regression on the latents (one per factor)."""
    from sklearn.model_selection import KFold, cross_val_predict
    from sklearn.neighbors import KNeighborsRegressor

    z, f = _checked(latents, factors, k)
    folds = min(folds, len(z))
    predicted = cross_val_predict(
        KNeighborsRegressor(n_neighbors=k), z, f, cv=KFold(folds, shuffle=True, random_state=seed)
    )
    residual = ((f - predicted) ** 2).sum(axis=0)
    total = ((f - f.mean(axis=0)) ** 2).sum(axis=0)
    return np.where(total > 0, 1.0 - residual / np.where(total > 0, total, 1.0), 0.0)


def distance_spearman(latents, factors) -> float:
    """Spearman rho between the pairwise Euclidean distances in latent and in factor space."""
    from scipy.spatial.distance import pdist
    from scipy.stats import spearmanr

    z, f = _checked(latents, factors)
    rho = spearmanr(pdist(z), pdist(f)).statistic
    return float(rho) if np.isfinite(rho) else 0.0


def manifold_metrics(latents, factors, k: int = 5, n_components: int = 4) -> dict[str, float]:
    """All metrics at once, as a flat dict of floats (keys used as `manifold/<key>`)."""
    z, f = _checked(latents, factors, k)
    metrics = {
        "trustworthiness": trustworthiness(z, f, k),
        "continuity": continuity(z, f, k),
        "participation_ratio": participation_ratio(z),
        "distance_spearman": distance_spearman(z, f),
    }
    for i, value in enumerate(explained_variance(z, n_components)):
        metrics[f"explained_variance_pc{i + 1}"] = float(value)
    for i, value in enumerate(knn_r2(z, f, k)):
        metrics[f"knn_r2_factor{i}"] = float(value)
    return metrics
