"""`experiment=expander_hopfield`: the LightningModule (fit constructs and verifies, test recalls),
the corrupted-cue DataModule, the RecallCurve callback and their config errors."""

from __future__ import annotations

import json

import pytest
import torch

from neurobolts.callbacks.recall_curve.callback import RecallCurve, curve_metrics, hopfield_builder
from neurobolts.datamodules.expander_hopfield.datamodule import CorruptedCuesDataModule
from neurobolts.lightning_modules.expander_hopfield.module import ExpanderHopfieldModule
from neurobolts.plugins.instantiate import ConfigError
from neurobolts.plugins.pipeline import build, train

QUIET = ["logger=none", "callbacks.rich_progress_bar=null", "callbacks.model_summary=null",
         "trainer.enable_progress_bar=false", "trainer.enable_model_summary=false"]
SMALL_CURVE = ["callbacks.recall_curve.sizes=[30,60]", "callbacks.recall_curve.flip_fractions=[0.0,0.05]",
               "callbacks.recall_curve.trials=20", "callbacks.recall_curve.capacity_loads=[0.05,0.3]",
               "callbacks.recall_curve.capacity_size=60"]


def test_experiment_fits_verifies_tests_and_logs_the_recall_curve(make_cfg, tmp_path):
    cfg = make_cfg(["experiment=expander_hopfield", *QUIET, *SMALL_CURVE, "model.n_neurons=150",
                    "data.flip_fraction=0.01", "data.test_cues=200", "seed=1"])
    assert cfg.data.n_neurons == 150 and cfg.model.graph_seed == 1
    metrics, objects = train(cfg)
    assert metrics["fit/fixed_point_fraction"] == 1.0
    assert metrics["fit/log2_stored_states"] == 30 and metrics["fit/rate"] == pytest.approx(0.2)
    assert metrics["fit/rate_bound"] == pytest.approx(0.2)
    # one flipped bit at N = 150: every cue is corrected (oracle 4)
    assert metrics["test/exact_recall"] == 1.0 and metrics["test/spurious"] == 0.0
    assert metrics["test/steps"] == 1.0 and metrics["test/unconverged"] == 0.0
    assert 0.0 <= metrics["val/exact_recall"] <= 1.0
    figure = tmp_path / "output" / "figures" / "recall_curve.png"
    assert figure.exists() and figure.stat().st_size > 10_000
    table = json.loads((tmp_path / "output" / "figures" / "recall_curve.json").read_text())
    assert {(r["label"], r["n_neurons"], r["flip_fraction"]) for r in table if r["label"] != "hopfield_capacity"} == {
        (label, n, p) for label in ("model", "spec_majority", "hopfield") for n in (30, 60) for p in (0.0, 0.05)}
    clean = [r for r in table if r["label"] in ("model", "spec_majority") and r["flip_fraction"] == 0.0]
    assert all(r["exact_recall"] == 1.0 and r["trials"] == 20 for r in clean)
    assert [r["n_patterns"] for r in table if r["label"] == "hopfield_capacity"] == [3, 18]


def test_hopfield_baseline_through_the_same_module(make_cfg):
    cfg = make_cfg(["experiment=expander_hopfield", *QUIET, "callbacks.recall_curve=null", "model.kind=hopfield",
                    "model.n_patterns=15", "model.n_neurons=300", "data.flip_fraction=0.01"])
    metrics, _ = train(cfg)
    assert metrics["fit/log2_stored_states"] == pytest.approx(torch.log2(torch.tensor(15.0)).item())
    assert metrics["fit/fixed_point_fraction"] > 0.9
    assert metrics["test/exact_recall"] > 0.9  # 0.05 N patterns: well inside the capacity


def test_saved_checkpoint_restores_the_same_network(make_cfg, tmp_path):
    cfg = make_cfg(["experiment=expander_hopfield", *QUIET, "callbacks.recall_curve=null", "model.n_neurons=150",
                    "test=false"])
    _, objects = train(cfg)
    path = tmp_path / "network.ckpt"
    objects["trainer"].save_checkpoint(path)
    ckpt = torch.load(path, weights_only=True)
    assert torch.equal(ckpt["state_dict"]["memory.windows"], objects["model"].memory.windows)
    other = ExpanderHopfieldModule(n_neurons=150, graph_seed=99)
    other.configure_model()
    assert not torch.equal(other.memory.windows, objects["model"].memory.windows)
    restored = ExpanderHopfieldModule.load_from_checkpoint(path, weights_only=True)
    assert torch.equal(restored.memory.windows, objects["model"].memory.windows)


@pytest.mark.parametrize(
    "override, match",
    [
        ("model.n_neurons=601", r"`model`.*n_neurons \* degree must be divisible by the window size z=15"),
        ("model.kind=dense_associative", r"`model`.*kind must be one of \('expander', 'hopfield'\)"),
        ("model.kind=hopfield", r"`model`.*n_patterns must be an integer >= 1 for kind='hopfield', got None"),
        ("model.self_coupling=-0.5", r"`model`.*self_coupling must be a finite number >= 0, got -0.5"),
        ("model.max_steps=0", r"`model`.*max_steps must be an integer >= 1, got 0"),
        ("data.flip_fraction=1.5", r"`data`.*flip_fraction must be a finite number in \[0, 1\], got 1.5"),
        ("data.test_cues=0", r"`data`.*test_cues must be an integer >= 1, got 0"),
        ("callbacks.recall_curve.trials=0", r"`callbacks.recall_curve`.*trials must be an integer >= 1, got 0"),
    ],
)
def test_bad_values_fail_before_fit_naming_the_field(make_cfg, override, match):
    cfg = make_cfg(["experiment=expander_hopfield", *QUIET, override])
    with pytest.raises(ConfigError, match=match):
        build(cfg)


def test_mismatched_sizes_of_data_and_model_are_named(make_cfg):
    cfg = make_cfg(["experiment=expander_hopfield", *QUIET, "callbacks.recall_curve=null", "model.n_neurons=150",
                    "data.n_neurons=300"])
    with pytest.raises(ValueError, match=r"data.n_neurons=300 does not match model.n_neurons=150"):
        train(cfg)


def test_datamodule_splits_are_seeded_and_hold_exact_flip_counts():
    dm = CorruptedCuesDataModule(n_neurons=600, flip_fraction=0.02, verify_states=5, val_cues=7, test_cues=9,
                                 batch_size=4, seed=3)
    dm.setup()
    messages, flips = dm.split("train").tensors
    assert messages.shape == (5, 600) and not flips.any()
    messages, flips = dm.split("test").tensors
    assert messages.shape == (9, 600) and (flips.sum(dim=1) == 12).all() and dm.flips_per_cue == 12
    again = CorruptedCuesDataModule(n_neurons=600, flip_fraction=0.02, verify_states=5, val_cues=7, test_cues=9,
                                    seed=3)
    assert torch.equal(again.split("test").tensors[1], flips)
    assert not torch.equal(again.split("val").tensors[0][:5], dm.split("test").tensors[0][:5])
    assert [len(b[0]) for b in dm.test_dataloader()] == [4, 4, 1]


def test_recall_curve_callback_needs_build_memory_and_names_its_metrics():
    callback = RecallCurve(sizes=[30], flip_fractions=[0.0], trials=4, baseline_load=None, capacity_loads=[])
    records = callback.measure(lambda n: ExpanderHopfieldModule(n_neurons=n).build_memory())
    assert [r["label"] for r in records] == ["model"] and records[0]["exact_recall"] == 1.0
    assert set(curve_metrics(records)) == {"curve/model/N30/p0/recall", "curve/model/N30/p0/bit_acc",
                                           "curve/model/N30/p0/spurious"}
    capacity = dict(records[0], label="hopfield_capacity", n_neurons=600, n_patterns=180)
    assert curve_metrics([dict(records[0], flip_fraction=0.02), capacity]) == {
        "curve/model/N30/p0.02/recall": 1.0, "curve/model/N30/p0.02/bit_acc": records[0]["bit_accuracy"],
        "curve/model/N30/p0.02/spurious": records[0]["spurious"], "curve/capacity/N600/K180/recall": 1.0,
        "curve/capacity/N600/K180/bit_acc": records[0]["bit_accuracy"],
        "curve/capacity/N600/K180/spurious": records[0]["spurious"]}
    assert hopfield_builder(ExpanderHopfieldModule().build_memory, 0.14, 0)(100).n_patterns == 14
    with pytest.raises(ValueError, match=r"variants may not be named \['hopfield'\]"):
        RecallCurve(variants={"hopfield": {"dynamics": "majority"}})
    module = ExpanderHopfieldModule(n_neurons=150, dynamics="adaptive")
    assert module.build_memory(60, dynamics="majority").dynamics == "majority"
    assert module.build_memory(60).dynamics == "adaptive" and module.build_memory(60).n_neurons == 60

    class NoMemory:
        pass

    class FakeTrainer:
        is_global_zero = True

    with pytest.raises(TypeError, match="needs a module with build_memory"):
        callback.on_test_end(FakeTrainer(), NoMemory())
