"""Images of 2D Gaussian bumps on a lattice of centres (diffusion_bumps spec, section 2.1).

Pure tensor functions, no Lightning. Conventions:
- an image is N x N, pixel (row i, column j) has its centre at coordinates (x=j, y=i);
- a bump at (mu_x, mu_y) with widths (sigma_x, sigma_y) is
  I(i, j) = exp(-((j - mu_x)^2 / (2 sigma_x^2) + (i - mu_y)^2 / (2 sigma_y^2))), peak amplitude 1;
- images handed to the model are rescaled from [0, 1] to [-1, 1] (background -1, peak +1);
- labels are float32 (mu_x, mu_y) in pixel units.
"""

from __future__ import annotations

import torch

from neurobolts.plugins.checks import check_fraction, check_int, check_positive, check_positive_int


def _axis_offsets(size: int, centres: torch.Tensor, periodic: bool) -> torch.Tensor:
    """Signed distance (n, size) from each centre to each pixel centre along one axis."""
    coords = torch.arange(size, dtype=torch.float64)
    d = coords[None, :] - centres[:, None].to(torch.float64)
    if periodic:
        # Minimal image on a ring of circumference `size`: the bump wraps around the edges.
        d = torch.remainder(d + size / 2.0, float(size)) - size / 2.0
    return d


def render_bumps(
    centres: torch.Tensor,
    image_size: int,
    sigma_x: float = 1.0,
    sigma_y: float | None = None,
    periodic: bool = False,
) -> torch.Tensor:
    """Render one Gaussian bump per centre.

    Args:
        centres: (n, 2) tensor of (mu_x, mu_y) in pixel units.
        image_size: N, the images are N x N.
        sigma_x, sigma_y: bump widths in pixels (sigma_y defaults to sigma_x).
        periodic: wrap the bump around the image edges (torus label space).

    Returns:
        (n, 1, N, N) float32 tensor with values in [0, 1] (peak 1 at an integer centre).
    """
    sigma_y = sigma_x if sigma_y is None else sigma_y
    check_positive("sigma_x", sigma_x)
    check_positive("sigma_y", sigma_y)
    check_int("image_size", image_size, 2)
    centres = torch.as_tensor(centres, dtype=torch.float64)
    if centres.ndim != 2 or centres.shape[1] != 2:
        raise ValueError(f"centres must have shape (n, 2) as (mu_x, mu_y), got {tuple(centres.shape)}")
    dx = _axis_offsets(image_size, centres[:, 0], periodic)  # (n, N) over columns j
    dy = _axis_offsets(image_size, centres[:, 1], periodic)  # (n, N) over rows i
    gx = torch.exp(-(dx**2) / (2 * sigma_x**2))
    gy = torch.exp(-(dy**2) / (2 * sigma_y**2))
    images = gy[:, :, None] * gx[:, None, :]  # separable: (n, rows, cols)
    return images[:, None].to(torch.float32)


def to_model_range(images: torch.Tensor) -> torch.Tensor:
    """Map [0, 1] intensities to the model's [-1, 1] range."""
    return images * 2.0 - 1.0


def from_model_range(images: torch.Tensor) -> torch.Tensor:
    """Map the model's [-1, 1] range back to [0, 1] intensities."""
    return (images + 1.0) / 2.0


def lattice_centres(image_size: int, dx: float, dy: float) -> torch.Tensor:
    """All centres (mu_x, mu_y) of the lattice with steps dx, dy tiling [0, N) x [0, N).

    Returns an (n, 2) float32 tensor, x varying fastest. There are ceil(N/dx) * ceil(N/dy) centres.
    """
    check_positive("dx", dx)
    check_positive("dy", dy)
    xs = torch.arange(0.0, image_size, dx, dtype=torch.float64)
    ys = torch.arange(0.0, image_size, dy, dtype=torch.float64)
    grid_y, grid_x = torch.meshgrid(ys, xs, indexing="ij")
    return torch.stack([grid_x.reshape(-1), grid_y.reshape(-1)], dim=1).to(torch.float32)


def subsample(centres: torch.Tensor, fraction: float, seed: int) -> torch.Tensor:
    """Keep a random fraction lambda of the centres (at least one), reproducibly for a seed."""
    check_fraction("subsample_fraction", fraction, low_open=True)
    if fraction == 1.0:
        return centres
    n_keep = max(1, round(fraction * len(centres)))
    generator = torch.Generator().manual_seed(seed)
    keep = torch.randperm(len(centres), generator=generator)[:n_keep].sort().values
    return centres[keep]


def evaluation_grid(image_size: int, margin: int = 1, periodic: bool = False) -> torch.Tensor:
    """Integer conditions used to score generation: every integer centre at least `margin` pixels
    from the border (all integer centres for periodic data). x varies fastest.

    For N = 16 and margin 1 these are the 14 x 14 = 196 interior conditions of the spec's CPU setup.
    """
    if periodic:
        values = torch.arange(0, image_size, dtype=torch.float32)
    else:
        largest = (image_size - 1) // 2
        check_int("eval_margin", margin, 0, largest, expected=f"an integer in [0, {largest}] for image_size={image_size}")
        values = torch.arange(margin, image_size - margin, dtype=torch.float32)
    grid_y, grid_x = torch.meshgrid(values, values, indexing="ij")
    return torch.stack([grid_x.reshape(-1), grid_y.reshape(-1)], dim=1)


def offgrid_conditions(image_size: int, dx: float, dy: float, margin: int = 1, stride: int = 2,
                       periodic: bool = False) -> torch.Tensor:
    """Held-out conditions between the training centres: (m + i * stride + dx / 2, m + j * stride + dy / 2)
    for the integer evaluation values m + i * stride, so each lies half a lattice step from every
    training centre along both axes (never a training condition, for any lambda). x varies fastest.

    For N = 16, margin 1, stride 2 and dx = dy = 0.5: the 7 x 7 = 49 conditions (1.25, 1.25) ... (13.25, 13.25).
    """
    check_positive_int("stride", stride)
    base = evaluation_grid(image_size, margin, periodic)[:, 0].unique()[::stride]
    xs, ys = base + dx / 2, base + dy / 2
    if not periodic:
        xs, ys = xs[xs <= image_size - 1 - margin], ys[ys <= image_size - 1 - margin]
    grid_y, grid_x = torch.meshgrid(ys, xs, indexing="ij")
    return torch.stack([grid_x.reshape(-1), grid_y.reshape(-1)], dim=1).to(torch.float32)


def in_block(centres: torch.Tensor, block) -> torch.Tensor:
    """Mask of the (n, 2) centres inside the rectangle block = [x0, y0, x1, y1] (bounds included)."""
    x0, y0, x1, y1 = (float(v) for v in block)
    x, y = centres[:, 0], centres[:, 1]
    return (x >= x0) & (x <= x1) & (y >= y0) & (y <= y1)
