"""The bump counter and the phase classes on hand-made images (spec section 2.7)."""

import math

import numpy as np
import pytest
import torch

from neurobolts.datamodules import DiffusionBumpsDataModule
from neurobolts.datamodules.diffusion_bumps.bumps import from_model_range, render_bumps
from neurobolts.lightning_modules.diffusion_bumps.scoring import (
    PHASE_A,
    PHASE_B,
    PHASE_C,
    GenerationScores,
    axis_coupling,
    find_peaks,
    first_step_at_least,
    half_max_area,
    phase_milestones,
    score_bumps,
    transition_width,
)


def _image(centres):
    if not centres:
        return torch.zeros(1, 1, 16, 16)
    return render_bumps(torch.tensor(centres), 16, 1.0).sum(0, keepdim=True).clamp(max=1.0)


def test_counts_zero_one_and_two_bumps():
    images = torch.cat([_image([]), _image([[5.0, 6.0]]), _image([[3.0, 3.0], [11.0, 12.0]])])
    scores = score_bumps(images, torch.tensor([[5.0, 6.0]] * 3))
    assert scores.num_peaks.tolist() == [0, 1, 2]
    assert scores.phase.tolist() == [PHASE_A, PHASE_C, PHASE_A]


def test_subpixel_centroid_and_tolerance():
    images = _image([[6.4, 9.3]])
    (x, y, _), = find_peaks(images[0, 0].numpy())
    assert x == pytest.approx(6.4, abs=0.15) and y == pytest.approx(9.3, abs=0.15)
    near = score_bumps(images, torch.tensor([[7.3, 9.0]]))
    far = score_bumps(images, torch.tensor([[8.0, 9.0]]))
    assert near.phase.item() == PHASE_C and far.phase.item() == PHASE_B
    assert far.location_error.item() == pytest.approx(math.hypot(8.0 - x, 9.0 - y), rel=1e-5)


def test_saturated_plateau_is_one_peak_and_weak_blobs_are_ignored():
    img = np.zeros((16, 16), dtype=np.float32)
    img[7:9, 7:9] = 1.0  # a clipped 2x2 plateau
    img[2, 2] = 0.25  # below the 0.3 threshold
    assert len(find_peaks(img)) == 1


def test_periodic_scoring_wraps_distances():
    images = render_bumps(torch.tensor([[0.0, 8.0]]), 16, 1.0, periodic=True)
    flat = score_bumps(images, torch.tensor([[15.5, 8.0]]), periodic=False)
    torus = score_bumps(images, torch.tensor([[15.5, 8.0]]), periodic=True)
    assert torus.num_peaks.item() == 1 and torus.phase.item() == PHASE_C
    assert flat.phase.item() != PHASE_C


def test_generation_scores_accumulate_over_batches():
    metric = GenerationScores()
    cond = torch.tensor([[5.0, 6.0]])
    metric.update(score_bumps(_image([[5.0, 6.0]]), cond))
    metric.update(score_bumps(_image([[9.0, 6.0]]), cond))
    metric.update(score_bumps(_image([]), cond))
    out = metric.compute()
    assert out["frac_A"].item() == pytest.approx(1 / 3)
    assert out["frac_B"].item() == pytest.approx(1 / 3)
    assert out["frac_C"].item() == pytest.approx(1 / 3)
    assert out["loc_error"].item() == pytest.approx(2.0, abs=0.05)  # mean of ~0 and ~4


def test_phase_milestones():
    steps = [250, 500, 750, 1000, 1250]
    m = phase_milestones(steps, [0.5, 0.8, 0.4, 0.1, 0.0], [0.0, 0.1, 0.55, 0.9, 0.97])
    assert m["step_B_peak"] == 500 and m["step_C50"] == 750 and m["step_C95"] == 1250
    assert m["order_ABC"] == 1.0
    assert m["transition_width"] == 500  # C < 0.15 at 500, C > 0.75 at 1000
    jump = phase_milestones(steps, [0.0, 0.0, 0.0, 0.0, 0.0], [0.0, 0.6, 0.9, 0.96, 1.0])
    assert jump["order_ABC"] == 0.0 and math.isnan(phase_milestones([1], [0.0], [0.2])["step_C50"])


def test_per_axis_accuracy_and_first_step():
    images = torch.cat([_image([[5.0, 6.0]]), _image([[5.0, 10.0]]), _image([[9.0, 10.0]]), _image([])])
    scores = score_bumps(images, torch.tensor([[5.0, 6.0]] * 4))
    assert scores.correct_x.tolist() == [True, True, False, False]
    assert scores.correct_y.tolist() == [True, False, False, False]
    metric = GenerationScores()
    metric.update(scores)
    out = metric.compute()
    assert out["acc_x"].item() == pytest.approx(0.5) and out["acc_y"].item() == pytest.approx(0.25)
    assert first_step_at_least([1, 2, 3], [0.1, 0.8, 0.9], 0.8) == 2
    assert math.isnan(first_step_at_least([1, 2], [0.1, 0.2], 0.8))
    assert math.isnan(transition_width([1, 2], [0.5, 0.9]))  # never below 15 % before


def test_bad_shapes_are_rejected():
    with pytest.raises(ValueError, match="conditions must have shape"):
        score_bumps(torch.zeros(2, 1, 16, 16), torch.zeros(3, 2))
    with pytest.raises(ValueError, match="images must have shape"):
        score_bumps(torch.zeros(2, 16, 16), torch.zeros(2, 2))


@pytest.mark.parametrize("periodic", [False, True])
def test_every_training_bump_of_the_default_data_scores_C_at_its_own_position(periodic):
    data = DiffusionBumpsDataModule(periodic=periodic)  # N = 16, sigma 1, dx = dy = 0.5: 1,024 images
    data.setup("fit")
    images, centres = data.train_set.tensors
    scores = score_bumps(from_model_range(images), centres, periodic=periodic, sigma=data.sigma)
    assert len(centres) == 1024
    assert scores.phase.tolist() == [PHASE_C] * 1024
    assert scores.area.max().item() <= 1.4  # far below the 2.4 bound


def test_saturated_square_is_not_one_bump():
    image = torch.zeros(1, 1, 16, 16)
    image[..., 5:11, 5:11] = 1.0  # one 6 x 6 plateau: one peak, but not a bump of width 1
    scores = score_bumps(image, torch.tensor([[7.5, 7.5]]), sigma=1.0)
    assert scores.num_peaks.item() == 1 and scores.location[0].tolist() == [7.5, 7.5]
    assert scores.area.item() > 8 and scores.phase.item() == PHASE_A
    assert not scores.correct_x.item() and not scores.correct_y.item()


def test_two_clipped_bumps_two_pixels_apart_are_not_one_bump():
    image = render_bumps(torch.tensor([[6.0, 8.0], [8.0, 8.0]]), 16, 1.0).sum(0, keepdim=True).clamp(max=1.0)
    scores = score_bumps(image, torch.tensor([[7.0, 8.0]]), sigma=1.0)
    assert scores.num_peaks.item() == 1  # the clipped sum is one plateau (6..8, 8)
    assert scores.area.item() > 2.4 and scores.phase.item() == PHASE_A


def test_plateau_is_located_at_its_centroid():
    # a flat-topped bump: the 2 x 2 pixels (5, 9) .. (6, 10) clipped to 1
    image = (1.5 * render_bumps(torch.tensor([[5.5, 9.5]]), 16, 1.0)).clamp(max=1.0)
    assert (image[0, 0] == 1.0).sum().item() == 4
    (x, y, height), = find_peaks(image[0, 0].numpy())
    assert (x, y, height) == (pytest.approx(5.5, abs=1e-5), pytest.approx(9.5, abs=1e-5), 1.0)
    scores = score_bumps(image, torch.tensor([[5.5, 9.5]]), sigma=1.0)
    assert scores.phase.item() == PHASE_C and scores.location_error.item() < 1e-5
    # a plateau across the border of a periodic image is one peak, at its centroid on the torus
    torus = np.zeros((16, 16), dtype=np.float32)
    torus[7:9, 15] = torus[7:9, 0] = 1.0
    assert find_peaks(torus, periodic=True) == [(15.5, 7.5, 1.0)]


def test_shape_check_uses_the_data_width():
    wide = render_bumps(torch.tensor([[7.0, 8.0]]), 16, 2.0)
    cond = torch.tensor([[7.0, 8.0]])
    assert score_bumps(wide, cond, sigma=1.0).phase.item() == PHASE_A  # a bump twice too wide
    assert score_bumps(wide, cond, sigma=2.0).phase.item() == PHASE_C
    assert score_bumps(wide, cond, sigma=None).phase.item() == PHASE_C  # no shape check
    tall = render_bumps(torch.tensor([[7.0, 8.0]]), 16, 1.0, sigma_y=2.0)
    assert score_bumps(tall, cond, sigma=1.0, sigma_y=2.0).phase.item() == PHASE_C
    assert half_max_area(tall[0, 0].numpy(), 1.0, 2.0) == half_max_area(0.4 * tall[0, 0].numpy(), 1.0, 2.0)
    assert half_max_area(tall[0, 0].numpy(), 0.5) > 2.4  # a bump twice too wide along both axes


def test_the_model_config_takes_the_scorers_width_from_the_data(make_cfg):
    from omegaconf import OmegaConf

    cfg = make_cfg(["experiment=diffusion_bumps", "data.sigma=1.5", "data.sigma_y=0.75"])
    model = OmegaConf.to_container(cfg.model, resolve=True)
    assert model["sigma"] == 1.5 and model["sigma_y"] == 0.75 and model["max_area"] == 2.4


def test_axis_coupling_compares_the_gap_with_the_transition_width():
    steps = [250, 500, 750, 1000, 1250]
    frac_c = [0.0, 0.1, 0.5, 0.8, 0.9]  # C < 0.15 last at 500, > 0.75 first at 1000: width 500
    together = axis_coupling(steps, [0.1, 0.2, 0.85, 0.9, 0.9], [0.1, 0.2, 0.6, 0.85, 0.9], frac_c)
    assert together == {"step_x": 750, "step_y": 1000, "gap": 250, "transition_width": 500, "coupled": 1.0}
    apart = axis_coupling(steps, [0.85, 0.9, 0.9, 0.9, 0.9], [0.1, 0.2, 0.6, 0.85, 0.9], frac_c)
    assert apart["gap"] == 750 and apart["coupled"] == 0.0  # x learned long before y
    never = axis_coupling(steps, [0.9] * 5, [0.1] * 5, frac_c)
    assert math.isnan(never["step_y"]) and never["coupled"] == 0.0  # y never learned: not coupled
