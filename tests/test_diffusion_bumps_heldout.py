"""Honest evaluation of diffusion_bumps: held-out conditions the model never trained on, a test step
with its own noise, and test metrics of the last weights unless the best checkpoint is asked for."""

from __future__ import annotations

import pytest
import torch

from neurobolts.datamodules.diffusion_bumps.bumps import lattice_centres, offgrid_conditions
from neurobolts.datamodules.diffusion_bumps.datamodule import DiffusionBumpsDataModule
from neurobolts.plugins.pipeline import train


@pytest.mark.parametrize(("dx", "dy"), [(0.5, 0.5), (0.25, 1.0)])
def test_offgrid_conditions_are_never_training_conditions(dx, dy):
    held_out = offgrid_conditions(16, dx, dy, margin=1, stride=2)
    train_centres = lattice_centres(16, dx, dy)
    # every held-out condition is half a lattice step from the training centres along both axes
    gap_x = (held_out[:, None, 0] - train_centres[None, :, 0]).abs().min(dim=1).values
    gap_y = (held_out[:, None, 1] - train_centres[None, :, 1]).abs().min(dim=1).values
    assert torch.allclose(gap_x, torch.full_like(gap_x, dx / 2)) and torch.allclose(gap_y, torch.full_like(gap_y, dy / 2))
    assert held_out.min() >= 1 and held_out.max() <= 14


def test_default_sets_and_a_held_out_block():
    dm = DiffusionBumpsDataModule()  # the held-out conditions are scored by default
    assert dm.eval_set_names == ["gen", "gen_heldout"] and len(dm.eval_sets["gen_heldout"]) == 49
    assert DiffusionBumpsDataModule(heldout_stride=None).eval_set_names == ["gen"]
    block = DiffusionBumpsDataModule(heldout_stride=2, heldout_block=[5, 5, 8, 8])
    block.setup()
    assert block.eval_set_names == ["gen", "gen_heldout", "gen_heldout_block"]
    assert len(block.eval_sets["gen_heldout_block"]) == 16 and len(block.eval_sets["gen"]) == 196 - 16
    trained = block.train_set.tensors[1]
    inside = (trained[:, 0] >= 5) & (trained[:, 0] <= 8) & (trained[:, 1] >= 5) & (trained[:, 1] <= 8)
    assert not inside.any() and len(trained) == 32 * 32 - 7 * 7  # 7 x 7 lattice centres in [5, 8]^2 removed
    with pytest.raises(ValueError, match=r"heldout_block must be \[x0, y0, x1, y1\] with x0 <= x1"):
        DiffusionBumpsDataModule(heldout_block=[8, 5, 5, 8])
    with pytest.raises(ValueError, match=r"heldout_block=\[0.2, 0.2, 0.4, 0.4\] holds no evaluation condition"):
        DiffusionBumpsDataModule(heldout_block=[0.2, 0.2, 0.4, 0.4])


class FakeTrainer:
    def __init__(self, world_size: int, global_rank: int) -> None:
        self.world_size, self.global_rank = world_size, global_rank


def test_ranks_share_an_evaluation_set_without_padding_or_overlap():
    """49 held-out conditions on 2 ranks: 25 + 24, each once (a padded share would score 50)."""
    dm = DiffusionBumpsDataModule()
    dm.setup()
    heldout = dm.eval_datasets[1]
    shares = []
    for rank in (0, 1):
        dm.trainer = FakeTrainer(2, rank)
        loader = dm.val_dataloader()[1]
        shares.append(torch.cat([cond for _, cond in loader]))
    assert [len(s) for s in shares] == [25, 24]
    seen = torch.cat(shares)
    assert torch.equal(seen[seen[:, 0].argsort(stable=True)].unique(dim=0), heldout.tensors[1].unique(dim=0))
    assert len(seen.unique(dim=0)) == 49
    from neurobolts.datamodules.common.evaluation_order import evaluation_loader
    with pytest.raises(ValueError, match="an evaluation set of 1 items cannot be shared out over 2 processes"):
        evaluation_loader(torch.utils.data.TensorDataset(torch.zeros(1)), 4, FakeTrainer(2, 0))


SMALL = ["experiment=diffusion_bumps", "trainer.max_steps=6", "trainer.val_check_interval=3", "model.sampling_steps=2",
         "logger=none", "trainer.enable_progress_bar=false", "callbacks.rich_progress_bar=null",
         "callbacks.latent_manifold=null", "data.heldout_stride=2", "data.heldout_block=[5,5,8,8]"]


def test_a_run_scores_held_out_sets_and_tests_the_last_weights_with_its_own_noise(make_cfg):
    metrics, objects = train(make_cfg(SMALL))
    for prefix in ("gen", "gen_heldout", "gen_heldout_block", "test", "test_heldout", "test_heldout_block"):
        assert f"{prefix}/frac_C" in metrics, sorted(metrics)
    assert metrics["test/checkpoint_step"] == 6.0
    module = objects["model"]
    cond = torch.tensor([[3.0, 4.0]])
    val_noise = module._evaluation_noise(cond, (1, 16, 16), module.hparams.eval_seed)[0]
    test_noise = module._evaluation_noise(cond, (1, 16, 16), module.hparams.test_seed)[0]
    assert not torch.equal(val_noise, test_noise)


def test_test_ckpt_best_names_the_best_checkpoint_step(make_cfg):
    metrics, objects = train(make_cfg([*SMALL, "test_ckpt=best"]))
    best = objects["trainer"].checkpoint_callback.best_model_path
    assert metrics["test/checkpoint_step"] == torch.load(best, weights_only=True)["global_step"]
    from neurobolts.plugins.instantiate import ConfigError
    with pytest.raises(ConfigError, match=r"test_ckpt must be one of \('last', 'best'\), got 'first'"):
        train(make_cfg([*SMALL, "test_ckpt=first"]))
