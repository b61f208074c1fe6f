"""Scale-out pieces that run without a cluster: the global-batch order under any world size, its
mid-epoch resume, and the multi-GPU / multi-node / SLURM configs."""

from __future__ import annotations

import pytest
import torch
from hydra.utils import instantiate
from omegaconf import OmegaConf
from torch.utils.data import TensorDataset

from neurobolts.datamodules.common.global_batch_order import GlobalBatchSampler, global_batch_share
from neurobolts.plugins.ddp_strategy import DDPStrategy


def batches(sampler: GlobalBatchSampler) -> list[list[int]]:
    order = list(sampler)
    b = sampler.local_batch_size
    return [order[i : i + b] for i in range(0, len(order) - b + 1, b)]


@pytest.mark.parametrize("world", [2, 4])
def test_ranks_share_out_exactly_the_single_process_batches(world):
    data = TensorDataset(torch.arange(103))
    single = GlobalBatchSampler(data, 8, world_size=1, seed=5)
    ranks = [GlobalBatchSampler(data, 8, world_size=world, rank=r, seed=5) for r in range(world)]
    for epoch in (0, 3):
        for s in [single, *ranks]:
            s.set_epoch(epoch)
        reference = batches(single)
        per_rank = [batches(s) for s in ranks]
        assert len(reference) == 103 // 8 and all(len(b) == len(reference) for b in per_rank)
        for k, batch in enumerate(reference):
            assert sorted(sum((b[k] for b in per_rank), [])) == sorted(batch)
    single.set_epoch(1)
    assert batches(single) != reference  # a new order each epoch


def test_global_draws_are_shared_out_like_the_batch():
    class Trainer:
        world_size, global_rank = 2, 1

    draw = torch.arange(8)
    assert draw[global_batch_share(Trainer()).share].tolist() == [1, 3, 5, 7]
    assert draw[global_batch_share(None).share].tolist() == list(range(8))


def test_mid_epoch_resume_continues_with_the_next_batch():
    data = TensorDataset(torch.arange(64))
    consumed = {"n": 3}
    sampler = GlobalBatchSampler(data, 8, seed=1, consumed_batches=lambda: consumed["n"])
    sampler.set_epoch(2)
    full = batches(sampler)
    state = sampler.state_dict()
    assert state == {"epoch": 2, "consumed_batches": 3}
    resumed = GlobalBatchSampler(data, 8, seed=1)
    resumed.load_state_dict(state)
    resumed.set_epoch(2)
    assert batches(resumed) == full[3:]
    assert batches(resumed) == full  # only the interrupted epoch is shortened


def test_bad_sampler_arguments_are_named():
    data = TensorDataset(torch.arange(10))
    with pytest.raises(ValueError, match=r"global_batch_size=6 is not divisible by the world size 4"):
        GlobalBatchSampler(data, 6, world_size=4)
    with pytest.raises(ValueError, match=r"10 samples, fewer than one global batch \(16\)"):
        GlobalBatchSampler(data, 16)


def test_multi_gpu_and_multi_node_configs(make_cfg):
    ddp = make_cfg(["experiment=diffusion_bumps", "trainer=ddp"]).trainer
    assert ddp.accelerator == "gpu" and ddp.devices == 4 and ddp.sync_batchnorm is True
    assert isinstance(instantiate(ddp.strategy), DDPStrategy)
    multinode = make_cfg(["experiment=diffusion_bumps", "trainer=multinode", "trainer.num_nodes=3"]).trainer
    assert multinode.num_nodes == 3 and multinode.strategy._target_.endswith("DDPStrategy")
    cpu = make_cfg(["experiment=diffusion_bumps", "trainer=ddp_cpu"]).trainer
    assert cpu.accelerator == "cpu" and cpu.devices == 2
    # the experiment's own trainer settings survive the choice of trainer
    assert cpu.max_steps == 3000 and cpu.val_check_interval == 250


def test_slurm_launcher_config_follows_the_trainer(make_cfg):
    pytest.importorskip("hydra_plugins.hydra_submitit_launcher", reason="the slurm extra is not installed")
    cfg = make_cfg(["experiment=diffusion_bumps", "trainer=multinode", "trainer.num_nodes=2", "trainer.devices=8",
                    "hydra/launcher=slurm", "hydra.launcher.partition=gpu"])
    launcher = OmegaConf.to_container(cfg.hydra.launcher, resolve=False)
    assert launcher["_target_"].endswith("SlurmLauncher")
    assert cfg.hydra.launcher.nodes == 2 and cfg.hydra.launcher.tasks_per_node == 8
    assert cfg.hydra.launcher.gpus_per_node == 8 and cfg.hydra.launcher.partition == "gpu"
