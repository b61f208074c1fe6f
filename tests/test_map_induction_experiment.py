"""`experiment=map_induction` end to end: episodes shared out once over ranks, every agent on the same
episodes, the logged interface (issue 18), the per-world paired test, figures, and bad input."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from neurobolts.datamodules.map_induction.datamodule import MapInductionEpisodesDataModule
from neurobolts.lightning_modules.map_induction.module import MapInductionStudy, paired_test
from neurobolts.plugins.instantiate import ConfigError
from neurobolts.plugins.pipeline import train

QUIET = ["logger=csv", "trainer.enable_progress_bar=false", "trainer.enable_model_summary=false"]
SMALL = ["data.worlds=[repeated_2x2,control_2x2]", "data.seeds=[0,1]", "model.tree_queries=60", "model.max_depth=10"]


class FakeTrainer:
    def __init__(self, world_size: int, global_rank: int) -> None:
        self.world_size, self.global_rank = world_size, global_rank


def test_every_episode_runs_once_over_the_ranks():
    dm = MapInductionEpisodesDataModule(worlds=["repeated_2x2", "control_2x2"], seeds=[0, 1, 2])
    seen = []
    for rank in range(4):  # 6 episodes on 4 ranks: 2 + 2 + 1 + 1, no padding
        dm.trainer = FakeTrainer(4, rank)
        seen += [(int(b["world_index"]), int(b["seed"])) for b in dm.test_dataloader()]
    assert sorted(seen) == [(w, s) for w in (0, 1) for s in (0, 1, 2)]


def test_paired_test_is_one_sided_and_handles_ties():
    fewer = np.array([80, 82, 85, 79, 90, 84, 81, 83, 86, 80])
    more = fewer + np.array([5, 7, 3, 9, 4, 6, 8, 2, 5, 7])
    diff, p = paired_test(fewer, more)
    assert diff < 0 and p < 0.01  # D-POMCP needing fewer steps is significant ...
    assert paired_test(more, fewer)[1] > 0.95  # ... the other direction is not
    assert paired_test(fewer, fewer) == (0.0, 1.0)


def test_experiment_logs_every_agent_and_the_world_table(make_cfg, tmp_path):
    cfg = make_cfg(["experiment=map_induction", *QUIET, *SMALL])
    metrics, _ = train(cfg)
    for agent in ("uniform", "map", "dpomcp"):
        steps = metrics[f"{agent}/steps_to_all_rewards"]
        assert 20 <= steps <= 500, (agent, steps)  # 20 rewards: at least 20 steps
        assert 0 < metrics[f"{agent}/observed_fraction"] <= 1
    assert metrics["uniform/recomputations"] == 0  # no induction
    assert metrics["dpomcp/recomputations"] >= 2  # recomputed as rooms are seen (oracle 7.9)
    for world in ("repeated_2x2", "control_2x2"):
        assert 0 <= metrics[f"{world}/dpomcp_p_value"] <= 1
    out = tmp_path / "output"
    episodes = json.loads(next(out.rglob("episodes.json")).read_text())
    assert len(episodes) == 2 * 2 * 3 and {e["agent"] for e in episodes} == {"uniform", "map", "dpomcp"}
    table = json.loads(next(out.rglob("worlds.json")).read_text())
    assert [row["world"] for row in table] == ["repeated_2x2", "control_2x2"]
    mean = np.mean([e["steps_to_all_rewards"] for e in episodes if e["agent"] == "dpomcp"])
    assert math.isclose(mean, metrics["dpomcp/steps_to_all_rewards"], rel_tol=1e-6)
    # without MLflow the figures go beside the CSV logger's files (plugins/figures.py)
    figures = sorted(p.name for p in (out / "csv" / "version_0" / "figures" / "map_induction").glob("*.png"))
    assert figures == ["control_2x2_seed0_belief.png", "control_2x2_seed0_trajectories.png",
                       "repeated_2x2_seed0_belief.png", "repeated_2x2_seed0_trajectories.png"]


def test_every_agent_runs_the_same_episode():
    dm = MapInductionEpisodesDataModule(worlds=["repeated_2x2"], seeds=[4])
    dm.setup()
    batch = next(iter(dm.test_dataloader()))
    study = MapInductionStudy(agents=["uniform", "random"], tree_queries=30, max_depth=8, max_steps=120)
    first, second = study.run_agents(batch), study.run_agents(batch)
    for agent in ("uniform", "random"):
        assert tuple(first[agent].trajectory[0]) == tuple(batch["world"].world.start)
        assert np.array_equal(first[agent].trajectory, second[agent].trajectory)  # seeded by the episode


@pytest.mark.parametrize("override, field", [
    ("model.agents=[uniform,greedy]", "agents"), ("model.mode=cone", "mode"), ("data.worlds=[maze]", "worlds"),
    ("model.tree_queries=0", "tree_queries"), ("data.seeds=[]", "seeds"),
])
def test_bad_settings_fail_before_any_episode(make_cfg, override, field):
    cfg = make_cfg(["experiment=map_induction", *QUIET, override])
    with pytest.raises((ConfigError, ValueError)) as info:
        train(cfg)
    assert field in str(info.value)


def test_a_world_file_with_an_unreachable_reward_is_refused(make_cfg, tmp_path):
    path = tmp_path / "walled.txt"
    path.write_text("0\n0\n33333\n35033\n33323\n30203\n33333\n")  # the rewards below are walled off
    cfg = make_cfg(["experiment=map_induction", *QUIET, "data.worlds=[]", f"data.world_files=[{path}]"])
    with pytest.raises((ConfigError, ValueError)) as info:
        train(cfg)
    assert "unreachable" in str(info.value) or "reach" in str(info.value)
