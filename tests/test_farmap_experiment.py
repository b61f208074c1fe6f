"""`experiment=farmap` end to end: episodes shared out once over ranks, both agents on the same
episodes, the logged interface (issue 16), and the bad inputs a user can give."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from neurobolts.datamodules.farmap.datamodule import FarMapEpisodesDataModule
from neurobolts.lightning_modules.farmap.module import FarMapStudy
from neurobolts.plugins.instantiate import ConfigError
from neurobolts.plugins.pipeline import build, train

QUIET = ["logger=csv", "trainer.enable_progress_bar=false"]
INTERFACE = ("coverage_auc", "steps_to_90", "memory_mean", "fragmentations", "recalls", "steps_per_s")


class FakeTrainer:
    def __init__(self, world_size: int, global_rank: int) -> None:
        self.world_size, self.global_rank = world_size, global_rank


def test_every_episode_runs_once_over_the_ranks():
    dm = FarMapEpisodesDataModule(map_ids=[150, 151, 152], seeds=[0, 1, 2], num_steps=10)
    seen = []
    for rank in range(4):  # 9 episodes on 4 ranks: 3 + 2 + 2 + 2, no padding
        dm.trainer = FakeTrainer(4, rank)
        seen += [(int(b["map_id"]), int(b["seed"])) for b in dm.test_dataloader()]
    assert sorted(seen) == [(m, s) for m in (150, 151, 152) for s in (0, 1, 2)]


def test_an_episode_is_the_same_world_and_start_for_every_agent_and_run():
    a = FarMapEpisodesDataModule(map_ids=[150], seeds=[3])
    b = FarMapEpisodesDataModule(map_ids=[150], seeds=[3])
    (wa, sa), (wb, sb) = a.world(150, 3), b.world(150, 3)
    assert sa == sb and np.array_equal(wa.classes, wb.classes)
    (_, other_start) = a.world(150, 4)
    assert other_start != sa or not np.array_equal(a.world(150, 4)[0].classes, wa.classes)
    a.setup()
    batch = next(iter(a.test_dataloader()))
    study = FarMapStudy()
    first, second = study.run_agents(batch), study.run_agents(batch)
    for agent in ("farmap", "frontier"):
        assert tuple(first[agent].poses[0]) == sa  # both agents start at the episode's pose
        assert np.array_equal(first[agent].poses, second[agent].poses)  # seeded: the same trajectory
        assert first[agent].fragmentations == second[agent].fragmentations


def test_experiment_logs_both_agents_and_the_paired_comparison(make_cfg, tmp_path):
    cfg = make_cfg(["experiment=farmap", *QUIET, "data.map_ids=[150,151]", "data.seeds=[0]", "data.num_steps=300"])
    metrics, objects = train(cfg)
    for agent in ("farmap", "frontier"):
        for key in INTERFACE:
            assert np.isfinite(metrics[f"{agent}/{key}"]), key
        assert 0 < metrics[f"{agent}/coverage_auc"] <= 1
    assert metrics["frontier/fragmentations"] == 0 and metrics["frontier/recalls"] == 0
    expected = metrics["farmap/memory_mean"] / metrics["frontier/memory_mean"]
    assert metrics["farmap/memory_vs_frontier"] == pytest.approx(expected, rel=1e-6)
    out = objects["trainer"].logger.log_dir  # without MLflow: beside the CSV logger's files (plugins/figures.py)
    assert out == str(tmp_path / "output" / "csv" / "version_0")
    records = json.loads(open(f"{out}/farmap/episodes.json").read())
    assert sorted((r["map_id"], r["agent"]) for r in records) == [(150, "farmap"), (150, "frontier"),
                                                                   (151, "farmap"), (151, "frontier")]
    mean_auc = np.mean([r["coverage_auc"] for r in records if r["agent"] == "farmap"])
    assert metrics["farmap/coverage_auc"] == pytest.approx(mean_auc, rel=1e-5)
    figures = sorted(p.name for p in (Path(out) / "figures" / "farmap").iterdir())
    assert "curves.png" in figures and "episode_150_0_farmap.png" in figures and "episode_150_0_frontier.png" in figures
    from PIL import Image

    with Image.open(Path(out) / "figures" / "farmap" / "episode_150_0_farmap.gif") as gif:
        assert gif.n_frames > 10  # the animation of the first episode


def _bad_maps_file(tmp_path):
    path = tmp_path / "maps.npz"
    np.savez(path, grids=np.zeros((2, 5, 5), dtype=np.uint8))  # no `maps` / `shapes` arrays
    return path


@pytest.mark.parametrize("override, match", [
    pytest.param("data.map_ids=[150,300]", r"map_ids must be a non-empty list of map ids in \[0, 299\] or 'all'.*got 300",
                 id="unknown-map-id"),
    pytest.param("data.num_steps=0", r"num_steps must be an integer >= 1, got 0", id="num-steps-0"),
    pytest.param("data.start=[0,0,0]", r"start must be a free cell .* got \[0, 0, 0\]: a wall cell of map 150",
                 id="start-on-a-wall"),
    pytest.param("model.agents=[farmap,rrt]", r"agents must be one of \('farmap', 'frontier'\), got 'rrt'",
                 id="unknown-agent"),
    pytest.param("model.frag_mode=magic", r"frag_mode must be one of \('z', 'ratio', 'random', 'uniform'\), got 'magic'",
                 id="unknown-fragmentation-mode"),
    pytest.param("maps_file", r"maps\.npz.*maps", id="maps-file-of-the-wrong-format"),
])
def test_bad_input_names_the_field(make_cfg, tmp_path, override, match):
    if override == "maps_file":
        override = f"data.maps_file={_bad_maps_file(tmp_path)}"
    cfg = make_cfg(["experiment=farmap", *QUIET, override])
    with pytest.raises(ConfigError, match=match):
        build(cfg)
