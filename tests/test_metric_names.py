"""Metric names short enough for MLflow's chart titles (`MAX_METRIC_NAME` in plugins/mlflow_tracking.py).

Every test runs under the check of tests/conftest.py (`metric_names_fit_mlflow_charts`: a name longer
than the limit given to `LightningModule.log` or to a logger's `log_metrics` fails the test). These tests
show that the check catches long names, and cover the names whose length comes from an experiment's
full configuration (network sizes, variants, world names), which the seconds-long test runs shrink.
"""

from __future__ import annotations

import math

import lightning as L
import pytest
import torch
from lightning.pytorch.loggers import CSVLogger

from neurobolts.plugins.mlflow_tracking import MAX_METRIC_NAME, too_long_metric_names

FAST = ["logger=none", "trainer.fast_dev_run=true", "trainer.enable_progress_bar=false",
        "trainer.enable_model_summary=false", "callbacks.rich_progress_bar=null"]


class LongNames(L.LightningModule):
    def __init__(self) -> None:
        super().__init__()
        self.layer = torch.nn.Linear(2, 1)

    def training_step(self, batch, batch_idx):
        loss = self.layer(batch[0]).pow(2).mean()
        self.log("group/a_name_of_forty_one_characters_xxxxx", loss)
        return loss

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)


@pytest.mark.long_metric_names
def test_the_check_records_names_logged_by_modules_and_loggers(metric_names_fit_mlflow_charts, tmp_path):
    names = metric_names_fit_mlflow_charts  # the autouse fixture's record of this test's names
    data = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.randn(4, 2)), batch_size=2)
    L.Trainer(fast_dev_run=1, logger=False, enable_progress_bar=False, enable_model_summary=False,
              enable_checkpointing=False).fit(LongNames(), data)
    CSVLogger(tmp_path).log_metrics({"curve/spec_majority/N2400/p0.06/spurious": 0.0,
                                     "curve/spec_majority/N2400/p0.060/spurious": 0.0}, step=0)
    assert MAX_METRIC_NAME == 40
    assert too_long_metric_names(names) == ["curve/spec_majority/N2400/p0.060/spurious",
                                            "group/a_name_of_forty_one_characters_xxxxx"]
    assert "curve/spec_majority/N2400/p0.06/spurious" in names  # 40 characters: within the limit


def test_recall_curve_names_of_the_full_expander_hopfield_config_fit(make_cfg):
    """Every name `RecallCurve` logs with the experiment's own sizes, p values, variants and capacity
    sweep (the test runs shrink them to N = 30)."""
    from neurobolts.callbacks.recall_curve.callback import curve_metrics

    curve = make_cfg(["experiment=expander_hopfield"]).callbacks.recall_curve
    labels = ["model", *curve.get("variants", {}), *(["hopfield"] if curve.baseline_load is not None else [])]
    scores = {"exact_recall": 1.0, "bit_accuracy": 1.0, "spurious": 0.0}
    records = [{"label": label, "n_neurons": n, "flip_fraction": p, "n_patterns": 0, **scores}
               for label in labels for n in curve.sizes for p in curve.flip_fractions]
    records += [{"label": "hopfield_capacity", "n_neurons": curve.capacity_size,
                 "flip_fraction": curve.capacity_flip_fraction,
                 "n_patterns": max(1, math.ceil(load * curve.capacity_size - 1e-9)), **scores}
                for load in curve.capacity_loads]
    names = curve_metrics(records)
    assert len(names) == 3 * len(records) and "curve/spec_majority/N2400/p0.1/spurious" in names
    assert too_long_metric_names(names) == []


def test_map_induction_names_of_its_longest_world_fit(make_cfg):
    """A seconds-long run on the configured world with the longest name (its per-world comparisons are
    `<world>/<agent>_vs_uniform` and `<world>/<agent>_p_value`), under the conftest check."""
    from neurobolts.plugins.pipeline import train

    world = max(make_cfg(["experiment=map_induction"]).data.worlds, key=len)
    assert world == "repeated_2x2_reflected"
    metrics, _ = train(make_cfg(["experiment=map_induction", *FAST, f"data.worlds=[{world}]", "data.seeds=[0]",
                                 "model.tree_queries=20", "model.max_depth=6"]))
    assert f"{world}/dpomcp_vs_uniform" in metrics and f"{world}/dpomcp_p_value" in metrics
    assert len(f"{world}/dpomcp_vs_uniform") == MAX_METRIC_NAME
