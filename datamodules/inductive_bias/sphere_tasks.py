"""Synthetic classification tasks on an m-sphere embedded in a higher-dimensional space, with a
controlled class margin (inductive_bias_complexity spec, section 3). Pure torch, no Lightning.

Points are uniform on the unit sphere S^m in R^(m+1), mapped isometrically into R^ambient_dim by a
random orthonormal embedding and scaled to `radius`. The label is the nearest of `num_classes`
random centres on the sphere; the classes are cones whose faces are hyperplanes through the origin,
and points closer than `margin` to any bisecting hyperplane of their class and another are rejected.
Two points of different classes i, j lie on opposite sides of the bisector of (i, j), each at least
`margin` from it, so they are at least 2 margin apart, and pairs straddling a shared face come
arbitrarily close to that: the task's resolution is delta = 2 margin, its intrinsic dimension m.
(A finite sample's minimum different-class distance exceeds 2 margin, the more so the larger m:
distances concentrate; spec section 5.2.)
"""

from __future__ import annotations

import math

import torch

from neurobolts.plugins.checks import check_int, check_number, check_positive, check_positive_int


def sample_sphere(n: int, sphere_dim: int, generator: torch.Generator) -> torch.Tensor:
    """(n, sphere_dim + 1) points uniform on the unit sphere S^sphere_dim."""
    z = torch.randn(n, sphere_dim + 1, generator=generator, dtype=torch.float64)
    return z / torch.linalg.vector_norm(z, dim=1, keepdim=True)


def random_embedding(sphere_dim: int, ambient_dim: int, generator: torch.Generator) -> torch.Tensor:
    """(sphere_dim + 1, ambient_dim) matrix with orthonormal rows (an isometric embedding)."""
    a = torch.randn(ambient_dim, sphere_dim + 1, generator=generator, dtype=torch.float64)
    q, _ = torch.linalg.qr(a)
    return q.T.contiguous()


def boundary_distance(points: torch.Tensor, centres: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(labels, distances): the nearest centre of each point and the Euclidean distance from the
    point to the nearest bisecting hyperplane x.(c_i - c_k) = 0 between its class i and another k."""
    labels = (points @ centres.T).argmax(dim=1)
    own = centres[labels]  # (n, dim)
    normals = own[:, None, :] - centres[None, :, :]  # (n, C, dim), zero for the own class
    norms = torch.linalg.vector_norm(normals, dim=2)
    dist = (points[:, None, :] * normals).sum(dim=2) / norms.clamp_min(1e-300)
    dist[norms == 0] = math.inf
    return labels, dist.min(dim=1).values


def sphere_classification_task(
    num_samples: int,
    sphere_dim: int,
    ambient_dim: int,
    num_classes: int,
    margin: float,
    radius: float = 3.0,
    seed: int = 0,
    max_rejection_rounds: int = 200,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(x, y): `num_samples` float32 points in R^ambient_dim on a sphere of intrinsic dimension
    `sphere_dim` and `radius`, labels in [0, num_classes), kept at least `margin` from every bisector
    of their class, so differently labelled points are at least 2 margin apart."""
    check_positive_int("sphere_dim", sphere_dim)
    check_int("ambient_dim", ambient_dim, sphere_dim + 1, expected=f"an integer >= sphere_dim + 1 = {sphere_dim + 1}")
    check_int("num_classes", num_classes, 2)
    check_positive_int("num_samples", num_samples)
    check_positive("radius", radius)
    check_number("margin", margin, 0, radius, high_open=True, expected=f"a finite number in [0, radius={radius})")
    g = torch.Generator().manual_seed(int(seed))
    centres = sample_sphere(num_classes, sphere_dim, g)
    embedding = random_embedding(sphere_dim, ambient_dim, g)
    kept_x, kept_y, total, drawn = [], [], 0, 0
    for _ in range(max_rejection_rounds):
        batch = max(1024, 2 * (num_samples - total))
        points = sample_sphere(batch, sphere_dim, g)
        labels, dist = boundary_distance(points, centres)
        keep = dist * radius >= margin
        kept_x.append(points[keep])
        kept_y.append(labels[keep])
        total += int(keep.sum())
        drawn += batch
        if total >= num_samples:
            break
    else:
        raise ValueError(
            f"margin={margin} rejects almost every point ({total} kept of {drawn} drawn for "
            f"sphere_dim={sphere_dim}, num_classes={num_classes}, radius={radius}); use a smaller margin"
        )
    x = torch.cat(kept_x)[:num_samples] * radius @ embedding
    y = torch.cat(kept_y)[:num_samples]
    return x.float(), y
