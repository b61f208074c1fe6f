"""Oracles of the bump generator (docs/papers/diffusion_bumps.md section 7, items 1 and the layout)."""

import math

import pytest
import torch

from neurobolts.datamodules.diffusion_bumps.bumps import (
    evaluation_grid,
    lattice_centres,
    render_bumps,
    subsample,
    to_model_range,
)


@pytest.mark.parametrize("centre", [(7.0, 5.0), (3.0, 12.0), (10.0, 10.0)])
def test_peak_at_centre_with_unit_height_and_gaussian_mass(centre):
    img = render_bumps(torch.tensor([centre]), image_size=16, sigma_x=1.0)[0, 0]
    row, col = divmod(int(img.argmax()), 16)
    assert (col, row) == (int(centre[0]), int(centre[1]))  # (x, y) = (column, row)
    assert img.max().item() == pytest.approx(1.0, abs=1e-6)
    assert img.sum().item() == pytest.approx(2 * math.pi * 1.0**2, rel=1e-2)


def test_mass_scales_with_sigma_squared_and_axes_are_separate():
    img = render_bumps(torch.tensor([[16.0, 16.0]]), image_size=32, sigma_x=2.0, sigma_y=1.0)[0, 0]
    assert img.sum().item() == pytest.approx(2 * math.pi * 2.0 * 1.0, rel=1e-2)
    # wider along x (columns) than along y (rows)
    assert img[16, 18].item() > img[18, 16].item()


def test_periodic_bump_wraps_around_the_border():
    flat = render_bumps(torch.tensor([[0.0, 8.0]]), 16, 1.0, periodic=False)[0, 0]
    wrapped = render_bumps(torch.tensor([[0.0, 8.0]]), 16, 1.0, periodic=True)[0, 0]
    assert flat[8, 15].item() < 1e-20
    assert wrapped[8, 15].item() == pytest.approx(math.exp(-0.5), rel=1e-5)
    assert wrapped.sum().item() == pytest.approx(2 * math.pi, rel=1e-2)


def test_model_range_and_lattice_sizes():
    img = to_model_range(render_bumps(torch.tensor([[8.0, 8.0]]), 16, 1.0))
    assert img.min().item() == pytest.approx(-1.0, abs=1e-6) and img.max().item() == pytest.approx(1.0)
    assert lattice_centres(16, 0.5, 0.5).shape == (1024, 2)
    assert lattice_centres(16, 0.25, 1.0).shape == (1024, 2)
    assert evaluation_grid(16, margin=1).shape == (196, 2)
    assert evaluation_grid(16, periodic=True).shape == (256, 2)


def test_subsample_is_reproducible_and_sized():
    centres = lattice_centres(16, 0.5, 0.5)
    a, b = subsample(centres, 0.25, seed=3), subsample(centres, 0.25, seed=3)
    assert torch.equal(a, b) and len(a) == 256
    assert not torch.equal(a, subsample(centres, 0.25, seed=4))


@pytest.mark.parametrize(
    "kwargs, field",
    [({"sigma_x": -1.0}, "sigma_x"), ({"sigma_x": float("nan")}, "sigma_x"), ({"image_size": 1}, "image_size")],
)
def test_bad_generator_arguments_name_the_field(kwargs, field):
    args = {"centres": torch.zeros(1, 2), "image_size": 16, "sigma_x": 1.0} | kwargs
    with pytest.raises(ValueError, match=field):
        render_bumps(**args)
