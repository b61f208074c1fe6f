"""The predict entry point (issue 20 item 6): a trained checkpoint applied to new inputs, the outputs saved
and logged. diffusion_bumps: new conditions -> samples and the bump positions the scorer reads from them;
expander_hopfield: new cues -> recalled states and whether each is a stored state."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from conftest import PROJECT_ROOT

from neurobolts.datamodules.common.prediction_inputs import load_inputs
from neurobolts.datamodules.diffusion_bumps.prediction import ConditionsDataModule
from neurobolts.lightning_modules.diffusion_bumps.scoring import score_bumps
from neurobolts.plugins.instantiate import ConfigError
from neurobolts.plugins.pipeline import predict, train

QUIET = ["trainer.enable_progress_bar=false"]


def test_diffusion_bumps_predict_logs_samples_and_positions_in_a_run_nested_under_training(make_cfg, tmp_path):
    from mlflow.tracking import MlflowClient

    uri = f"sqlite:///{tmp_path}/mlflow.db"
    cfg = make_cfg(["experiment=diffusion_bumps", f"logger.mlflow.tracking_uri={uri}", "callbacks.rich_progress_bar=null",
                    "callbacks.latent_manifold=null", "trainer.max_steps=2", "trainer.val_check_interval=2",
                    "model.sampling_steps=2", "test=false", *QUIET])
    _, objects = train(cfg)
    training_run = objects["loggers"][0].run_id
    checkpoint = tmp_path / "output" / "checkpoints" / "last.ckpt"
    inputs = tmp_path / "conditions.csv"
    inputs.write_text("x,y\n3,4\n7.5,2\n12,12.25\n")

    cfg = make_cfg(["experiment=diffusion_bumps", f"ckpt_path={checkpoint}", f"predict.inputs={inputs}",
                    f"logger.mlflow.tracking_uri={uri}", "model.sampling_steps=2",
                    "predict.data.samples_per_condition=2", *QUIET], config_name="predict")
    predictions, summary, objects = predict(cfg)

    requested = torch.tensor([[3, 4], [3, 4], [7.5, 2], [7.5, 2], [12, 12.25], [12, 12.25]])
    assert predictions["samples"].shape == (6, 1, 16, 16)
    assert 0 <= float(predictions["samples"].min()) and float(predictions["samples"].max()) <= 1
    assert torch.equal(predictions["conditions"], requested)
    assert predictions["location"].shape == (6, 2) and predictions["phase"].shape == (6,)
    # the returned positions are what the scorer reads from the returned samples
    scores = score_bumps(predictions["samples"], requested, sigma=1.0)
    assert torch.equal(torch.nan_to_num(scores.location, -1.0), torch.nan_to_num(predictions["location"], -1.0))
    assert torch.equal(scores.phase, predictions["phase"])
    assert summary["predict/frac_A"] + summary["predict/frac_B"] + summary["predict/frac_C"] == pytest.approx(1.0)

    client = MlflowClient(uri)
    run = client.get_run(objects["loggers"][0].run_id)
    saved = np.load(client.download_artifacts(run.info.run_id, "predictions/predictions.npz", str(tmp_path)))
    assert set(saved.files) == set(predictions) and saved["samples"].shape == (6, 1, 16, 16)
    np.testing.assert_array_equal(saved["conditions"], requested.numpy())
    assert not (tmp_path / "output" / "predictions").exists()  # with MLflow, nothing beside it
    assert run.info.run_id != training_run and run.info.status == "FINISHED"
    assert run.data.tags["mlflow.parentRunId"] == training_run  # nested under the training run in `mlflow ui`
    assert run.data.tags["neurobolts.kind"] == "prediction"
    assert run.data.tags["neurobolts.predicts_with_run"] == training_run
    assert run.info.run_name.startswith("predict-last-")
    assert run.data.metrics["predict/frac_C"] == pytest.approx(summary["predict/frac_C"])
    artifacts = {a.path for folder in ("predictions", "config") for a in client.list_artifacts(run.info.run_id, folder)}
    assert {"predictions/predictions.npz", "predictions/samples.png", "predictions/positions.json",
            "config/config.yaml"} <= artifacts
    downloaded = client.download_artifacts(run.info.run_id, "predictions/positions.json", str(tmp_path))
    records = json.loads(open(downloaded).read())
    assert [(r["x"], r["y"]) for r in records] == [tuple(map(float, row)) for row in requested.tolist()]
    for record, location in zip(records, predictions["location"].tolist(), strict=True):
        if record["found_x"] is not None:
            assert (record["found_x"], record["found_y"]) == pytest.approx(location)


def _expander_cues(n_neurons: int = 150, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Five stored states of the seed's network with 2 bits flipped each, then two random vectors;
    and the five stored states."""
    from neurobolts.lightning_modules.expander_hopfield.module import ExpanderHopfieldModule

    module = ExpanderHopfieldModule(n_neurons=n_neurons, graph_seed=seed)
    module.configure_model()
    generator = torch.Generator().manual_seed(1)
    states = module.memory.stored_states(torch.randint(0, 2, (5, n_neurons), generator=generator))
    cues = states.clone()
    cues[torch.arange(5), torch.arange(5) * 7] = 1 - cues[torch.arange(5), torch.arange(5) * 7]
    cues[torch.arange(5), torch.arange(5) * 7 + 3] = 1 - cues[torch.arange(5), torch.arange(5) * 7 + 3]
    noise = torch.randint(0, 2, (2, n_neurons), generator=generator).float()
    return torch.cat([cues, noise]), states


def test_expander_hopfield_predict_recalls_stored_states_with_and_without_a_checkpoint(make_cfg, tmp_path):
    cues, states = _expander_cues()
    inputs = tmp_path / "cues.npy"
    np.save(inputs, cues.numpy().astype(np.int8))
    common = ["experiment=expander_hopfield", "model.n_neurons=150", "logger=none", f"predict.inputs={inputs}", *QUIET]
    # the network the training run builds, saved as a checkpoint
    cfg = make_cfg(["experiment=expander_hopfield", "model.n_neurons=150", "logger=none", "callbacks.recall_curve=null",
                    "data.val_cues=10", "test=false", *QUIET])
    _, objects = train(cfg)
    checkpoint = tmp_path / "network.ckpt"
    objects["trainer"].save_checkpoint(checkpoint)

    results = {}
    for name, extra in (("checkpoint", [f"ckpt_path={checkpoint}"]), ("config", [])):
        predictions, summary, _ = predict(make_cfg([*common, *extra], config_name="predict"))
        results[name] = predictions
        assert predictions["recalled"].shape == (7, 150)
        torch.testing.assert_close(predictions["recalled"][:5], states)  # the flipped bits corrected
        assert predictions["stored"].tolist() == [True] * 5 + [False] * 2
        assert predictions["converged"][:5].all() and predictions["bits_changed"][:5].tolist() == [2] * 5
        assert summary["predict/stored"] == pytest.approx(5 / 7)
        saved = np.load(tmp_path / "output" / "predictions" / "predictions.npz")
        np.testing.assert_array_equal(saved["recalled"], predictions["recalled"].numpy())
        records = json.loads((tmp_path / "output" / "predictions" / "recall.json").read_text())
        assert [r["stored"] for r in records] == predictions["stored"].tolist()
        assert (tmp_path / "output" / "predictions" / "recall.png").is_file()
    torch.testing.assert_close(results["checkpoint"]["recalled"], results["config"]["recalled"])


@pytest.mark.parametrize(("text", "message"), [
    ("0,1,1\n", "must have 150 columns, one bit per neuron (model.n_neurons=150), got 3 columns"),
    ("0," * 149 + "2\n", "row 1, column 150 is 2 (expected a bit"),
])
def test_bad_cues_name_the_field_and_the_value(make_cfg, tmp_path, text, message):
    inputs = tmp_path / "cues.csv"
    inputs.write_text(text)
    cfg = make_cfg(["experiment=expander_hopfield", "model.n_neurons=150", "logger=none", f"predict.inputs={inputs}"],
                   config_name="predict")
    with pytest.raises(ConfigError, match=r"^predict\.inputs .*" + message.replace("(", r"\(").replace(")", r"\)")):
        predict(cfg)
    assert not (tmp_path / "output" / "predictions").exists()


def test_predict_refuses_missing_inputs_checkpoints_and_unsupported_experiments(make_cfg, tmp_path):
    with pytest.raises(ConfigError, match=r"predict.inputs='nope.csv': no such file"):
        predict(make_cfg(["experiment=expander_hopfield", "model.n_neurons=150", "logger=none",
                          "predict.inputs=nope.csv"], config_name="predict"))
    with pytest.raises(ConfigError, match=r"predict.inputs is not set"):
        predict(make_cfg(["experiment=expander_hopfield", "logger=none"], config_name="predict"))
    with pytest.raises(ConfigError, match=r"ckpt_path must point at a trained checkpoint"):
        predict(make_cfg(["experiment=diffusion_bumps", "logger=none", "predict.inputs=[3,4]"], config_name="predict"))
    with pytest.raises(ConfigError, match=r"ckpt_path='/no/such.ckpt' does not exist"):
        predict(make_cfg(["experiment=diffusion_bumps", "logger=none", "predict.inputs=[3,4]",
                          "ckpt_path=/no/such.ckpt"], config_name="predict"))
    with pytest.raises(ConfigError, match=r"experiment=dsa_flipflop does not support predict .*configs/predict/"
                                          r"dsa_flipflop_rnn.yaml.*experiments that do: diffusion_bumps, "
                                          r"diffusion_bumps_imbalanced, diffusion_bumps_paper, expander_hopfield"):
        predict(make_cfg(["experiment=dsa_flipflop", "logger=none", "predict.inputs=[3,4]"], config_name="predict"))


def test_conditions_outside_the_image_or_of_the_wrong_width_are_refused():
    module = ConditionsDataModule([[3, 4], [7.5, 15.5]], image_size=16, samples_per_condition=3, seed=2)
    conditions, noise = next(iter(module.predict_dataloader()))
    assert conditions.tolist() == [[3, 4]] * 3 + [[7.5, 15.5]] * 3 and noise.shape == (6, 1, 16, 16)
    again = ConditionsDataModule([[3, 4], [7.5, 15.5]], image_size=16, samples_per_condition=3, seed=2)
    assert torch.equal(again.noise, module.noise)  # a prediction run repeats exactly
    with pytest.raises(ConfigError, match=r"predict.inputs row 2: \(x, y\) = \(16, 2\) is outside the image: "
                                          r"both must be in \[0, 16\)"):
        ConditionsDataModule([[3, 4], [16, 2]], image_size=16)
    with pytest.raises(ConfigError, match=r"row 1: \(x, y\) = \(-0.5, 2\)"):
        ConditionsDataModule([[-0.5, 2]], image_size=16)
    with pytest.raises(ConfigError, match=r"predict.inputs must have 2 columns, the bump centre \(x, y\) in pixels, "
                                          r"got 3 columns"):
        ConditionsDataModule([[1, 2, 3]], image_size=16)


def test_load_inputs_reads_files_and_lists(tmp_path):
    csv = tmp_path / "a.csv"
    csv.write_text("# new conditions\nx, y\n3, 4  # the first\n\n7.5;2\n")
    assert load_inputs(str(csv)).tolist() == [[3, 4], [7.5, 2]]
    txt = tmp_path / "a.txt"
    txt.write_text("1 0 1\n0 1 1\n")
    assert load_inputs(str(txt)).shape == (2, 3)
    npy = tmp_path / "a.npy"
    np.save(npy, np.array([1, 0, 1], dtype=np.int8))
    assert load_inputs(str(npy)).tolist() == [[1, 0, 1]]  # a 1-D array is one row
    assert load_inputs([3, 4]).tolist() == [[3, 4]] and load_inputs([[3, 4], [5, 6]]).shape == (2, 2)
    ragged = tmp_path / "r.csv"
    ragged.write_text("1,2\n3\n")
    with pytest.raises(ConfigError, match=r"line 2 has 1 values, line 1 has 2"):
        load_inputs(str(ragged))
    words = tmp_path / "w.csv"
    words.write_text("x,y\n1,2\nthree,4\n")
    with pytest.raises(ConfigError, match=r"line 3: 'three,4' is not a row of numbers"):
        load_inputs(str(words))
    with pytest.raises(ConfigError, match=r"row 2, column 1 is nan \(expected finite numbers\)"):
        load_inputs([[1, 2], [float("nan"), 2]])
    with pytest.raises(ConfigError, match=r"predict.inputs='a.json' has an unknown file type"):
        load_inputs("a.json")
    header_only = tmp_path / "h.csv"
    header_only.write_text("x,y\n")
    with pytest.raises(ConfigError, match=r"holds no inputs"):
        load_inputs(str(header_only))


def test_predict_py_on_the_command_line(tmp_path):
    """`python predict.py experiment=expander_hopfield predict.inputs=<file>`: the outputs land in the run
    directory (no MLflow); a bad input is one ConfigError line and exit status 1."""
    cues, _ = _expander_cues()
    inputs = tmp_path / "cues.csv"
    np.savetxt(inputs, cues.numpy(), fmt="%d", delimiter=",")
    env = {k: v for k, v in os.environ.items() if k not in ("MLFLOW_TRACKING_URI", "HYDRA_FULL_ERROR")}
    env["OMP_NUM_THREADS"] = "1"
    base = [sys.executable, "predict.py", "experiment=expander_hopfield", "model.n_neurons=150", "logger=none",
            f"paths.root_dir={tmp_path}", "trainer.enable_progress_bar=false"]
    proc = subprocess.run([*base, f"predict.inputs={inputs}"], cwd=PROJECT_ROOT, env=env, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "cue 0: stored state after 1 steps, 2 bits changed" in proc.stdout
    (run,) = (tmp_path / "logs" / "expander_hopfield" / "predictions").iterdir()
    assert (run / "predict.log").is_file()
    assert np.load(run / "predictions" / "predictions.npz")["recalled"].shape == (7, 150)
    assert {p.name for p in (run / "predictions").iterdir()} == {"predictions.npz", "recall.json", "recall.png"}

    proc = subprocess.run([*base, "predict.inputs=[[0,1,1]]"], cwd=PROJECT_ROOT, env=env, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr and proc.stderr.strip().splitlines()[-2] == (
        "ConfigError: predict.inputs must have 150 columns, one bit per neuron (model.n_neurons=150), got 3 columns")
