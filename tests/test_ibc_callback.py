"""The InductiveBiasComplexity callback on a classification DataModule written here (not one of
neurobolts'), its checkpointed state, and the `ibc_tasks` experiment's MLflow record."""

from __future__ import annotations

import math
import warnings

import pytest
import torch
from lightning.pytorch import Callback, LightningDataModule, LightningModule, Trainer
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.loggers import Logger
from torch import nn
from torch.nn import functional as F
from torch.utils.data import DataLoader, Dataset

from neurobolts.callbacks import InductiveBiasComplexity
from neurobolts.callbacks.inductive_bias.difficulty import task_difficulty_bits
from neurobolts.callbacks.inductive_bias.intrinsic_dimension import mle_intrinsic_dim
from neurobolts.callbacks.inductive_bias.task_resolution import sample_resolution
from neurobolts.plugins.pipeline import train


class BlobDataset(Dataset):
    """Dict samples {"image": (2, 3) tensor, "label": int}: a layout the callback must be told about."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor) -> None:
        self.x, self.y = x, y

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, i: int) -> dict:
        return {"image": self.x[i].reshape(2, 3), "label": self.y[i]}


class BlobsDataModule(LightningDataModule):
    """Three Gaussian blobs in R^6; optionally declares statistics like a paper's DataModule would."""

    def __init__(self, n_train: int = 300, declare: bool = False, corrupt: str | None = None) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(0)
        centres = torch.randn(3, 6, generator=g) * 4
        y = torch.arange(n_train + 90) % 3
        x = centres[y] + torch.randn(len(y), 6, generator=g)
        if corrupt == "nan":
            x[5, 2] = float("nan")
        if corrupt == "one_class":
            y = torch.zeros_like(y)
        self.train_set = BlobDataset(x[:n_train], y[:n_train])
        self.val_set = BlobDataset(x[n_train:], y[n_train:])
        if declare:
            self.intrinsic_dim, self.resolution, self.num_classes = 2, 0.75, 3

    def train_dataloader(self):
        return DataLoader(self.train_set, batch_size=32, shuffle=True)

    def val_dataloader(self):
        return DataLoader(self.val_set, batch_size=90)


class LinearClassifier(LightningModule):
    """Logs only `val/acc` (the callback falls back to 1 - accuracy)."""

    def __init__(self) -> None:
        super().__init__()
        self.layer = nn.Linear(6, 3)

    def training_step(self, batch, batch_idx):
        return F.cross_entropy(self.layer(batch["image"].flatten(1)), batch["label"])

    def validation_step(self, batch, batch_idx):
        acc = (self.layer(batch["image"].flatten(1)).argmax(1) == batch["label"]).float().mean()
        self.log("val/acc", acc, on_epoch=True, batch_size=len(acc.reshape(-1)))

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.05)


class MemoryLogger(Logger):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[tuple[int, dict]] = []

    @property
    def name(self):
        return "memory"

    @property
    def version(self):
        return 0

    def log_hyperparams(self, params, *args, **kwargs):
        pass

    def log_metrics(self, metrics, step=None):
        self.records.append((step, dict(metrics)))

    def values(self, key: str) -> list[float]:
        return [m[key] for _, m in self.records if key in m]


def make_trainer(tmp_path, callbacks, max_steps=20, logger=None):
    return Trainer(
        default_root_dir=tmp_path, max_steps=max_steps, val_check_interval=10, check_val_every_n_epoch=None,
        accelerator="cpu", devices=1, logger=logger or False, enable_progress_bar=False,
        enable_model_summary=False, num_sanity_val_steps=0, callbacks=callbacks,
        enable_checkpointing=any(isinstance(c, ModelCheckpoint) for c in callbacks),
    )


def blob_callback(**kwargs) -> InductiveBiasComplexity:
    return InductiveBiasComplexity(target_error=0.05, input_key="image", target_key="label", num_queries=None,
                                   **kwargs)


def test_callback_estimates_logs_and_tracks_the_model(tmp_path):
    dm = BlobsDataModule()
    callback = blob_callback(cross_check=True)
    logger = MemoryLogger()
    trainer = make_trainer(tmp_path, [callback], logger=logger)
    trainer.fit(LinearClassifier(), datamodule=dm)

    s = callback.statistics
    assert callback.estimated_here
    assert s["n"] == 300 and s["num_classes"] == 3 and s["intrinsic_dim_source"] == "mle"
    assert s["intrinsic_dim"] == round(s["intrinsic_dim_mle"]) and s["intrinsic_dim_twonn"] > 0
    x = dm.train_set.x.double()
    assert s["radius"] == pytest.approx(float(x.norm(dim=1).max()), rel=1e-9)
    expected_delta = min(
        (x[i] - x[j]).norm().item() for i in range(300) for j in range(i + 1, 300) if i % 3 != j % 3
    )
    assert s["resolution"] == pytest.approx(expected_delta, rel=1e-9)

    task_bits = task_difficulty_bits(n=300, intrinsic_dim=s["intrinsic_dim"], radius=s["radius"],
                                     resolution=s["resolution"], target_error=0.05, num_classes=3)
    assert logger.values("ibc/task_bits")[0] == pytest.approx(task_bits, rel=1e-12)
    assert logger.values("ibc/resolution")[0] == s["resolution"]

    err = 1.0 - float(trainer.callback_metrics["val/acc"])
    clipped = min(max(err, 1e-4), 1 - 1e-4)
    model_bits = task_difficulty_bits(n=300, intrinsic_dim=s["intrinsic_dim"], radius=s["radius"],
                                      resolution=s["resolution"], target_error=clipped, num_classes=3)
    assert float(trainer.callback_metrics["ibc/model_error"]) == pytest.approx(clipped, rel=1e-9)
    assert float(trainer.callback_metrics["ibc/model_log10_bits"]) == pytest.approx(math.log10(model_bits), rel=1e-9)
    assert logger.values("ibc/model_bits")[-1] == pytest.approx(model_bits, rel=1e-9)
    assert callback.history["step"] == [10.0, 20.0]
    assert (tmp_path / "figures" / "ibc" / "scaling.png").stat().st_size > 10_000


def test_declared_statistics_are_taken_from_the_datamodule(tmp_path, monkeypatch):
    import neurobolts.callbacks.inductive_bias.task_statistics as ts

    def no_estimation(*args, **kwargs):
        raise AssertionError("the MLE must not run when the DataModule declares the intrinsic dimension")

    monkeypatch.setattr(ts, "mle_intrinsic_dim", no_estimation)
    callback = blob_callback(plot=False)
    make_trainer(tmp_path, [callback], max_steps=10).fit(LinearClassifier(), datamodule=BlobsDataModule(declare=True))
    s = callback.statistics
    assert (s["intrinsic_dim"], s["resolution"], s["num_classes"]) == (2.0, 0.75, 3)
    assert s["intrinsic_dim_source"] == "given" and s["resolution_source"] == "given"
    # arguments win over the DataModule's declarations
    callback = blob_callback(plot=False, intrinsic_dim=5, resolution=0.5)
    make_trainer(tmp_path, [callback], max_steps=10).fit(LinearClassifier(), datamodule=BlobsDataModule(declare=True))
    assert (callback.statistics["intrinsic_dim"], callback.statistics["resolution"]) == (5.0, 0.5)


def test_resumed_run_restores_statistics_without_recomputing(tmp_path, monkeypatch):
    import neurobolts.callbacks.inductive_bias.callback as module

    ckpt = ModelCheckpoint(dirpath=tmp_path / "ckpt", save_last=True, save_on_train_epoch_end=False)
    first = blob_callback(plot=False)
    make_trainer(tmp_path, [first, ckpt], max_steps=20).fit(LinearClassifier(), datamodule=BlobsDataModule())
    last = tmp_path / "ckpt" / "last.ckpt"
    saved = torch.load(last, weights_only=True)["callbacks"][first.state_key]
    assert saved["statistics"] == first.statistics and saved["history"]["step"] == [10.0, 20.0]

    def no_estimation(*args, **kwargs):
        raise AssertionError("statistics must come from the checkpoint")

    monkeypatch.setattr(module, "estimate_task_statistics", no_estimation)
    second = blob_callback(plot=False)
    ckpt2 = ModelCheckpoint(dirpath=tmp_path / "ckpt2", save_last=True)
    trainer = make_trainer(tmp_path, [second, ckpt2], max_steps=30)
    trainer.fit(LinearClassifier(), datamodule=BlobsDataModule(), ckpt_path=last, weights_only=True)
    assert not second.estimated_here and second.statistics == first.statistics
    assert second.history["step"] == [10.0, 20.0, 30.0]


def test_cross_check_warns_when_a_declared_statistic_disagrees_with_its_estimate(tmp_path):
    """BlobsDataModule(declare=True) declares m = 2 for full-rank 6-D Gaussian blobs: the MLE on the
    data disagrees, so the callback warns and logs the mismatch; the declared delta 0.75 is below the
    blobs' minimum class distance (a lower bound, not contradicted)."""
    dm = BlobsDataModule(declare=True)
    callback = blob_callback(plot=False, cross_check=True)
    logger = MemoryLogger()
    with pytest.warns(UserWarning, match=r"declared intrinsic_dim=2 disagrees with the estimate [0-9.]+ "
                                         r"\(relative gap [0-9.]+ > tolerance 0\.25\)") as record:
        make_trainer(tmp_path, [callback], max_steps=10, logger=logger).fit(LinearClassifier(), datamodule=dm)
    assert not [w for w in record if "declared resolution" in str(w.message)]
    # the estimate, computed here on the same data, independently of the callback
    mle = mle_intrinsic_dim(dm.train_set.x.double(), 5, None, seed=0)
    assert callback.statistics["intrinsic_dim_mle"] == pytest.approx(mle, rel=1e-9)
    assert abs(mle - 2) / 2 > 0.25  # measured: MLE 5.61 on the blobs (gap 1.81)
    assert logger.values("ibc/intrinsic_dim_mismatch") == [1.0]
    assert logger.values("ibc/intrinsic_dim_rel_gap")[0] == pytest.approx(abs(mle - 2) / 2, rel=1e-9)
    assert logger.values("ibc/resolution_mismatch") == [0.0]
    # the declared values are still the ones the bound uses
    assert callback.statistics["intrinsic_dim"] == 2.0 and callback.statistics["intrinsic_dim_source"] == "given"
    # a tolerance wider than the gap silences it; without cross_check nothing is estimated or compared
    wide = blob_callback(plot=False, cross_check=True, cross_check_tolerance=2.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        warnings.filterwarnings("ignore", message="(?!InductiveBiasComplexity cross-check)")
        make_trainer(tmp_path, [wide], max_steps=10).fit(LinearClassifier(), datamodule=BlobsDataModule(declare=True))
    assert wide.cross_check_mismatches()["intrinsic_dim"][3] is False
    assert blob_callback(plot=False).cross_check_mismatches() == {}


@pytest.mark.parametrize(
    "corrupt, match",
    [("nan", r"data contains NaN or infinite values"), ("one_class", r"labels must contain at least 2 classes")],
)
def test_bad_training_data_fails_at_train_start(tmp_path, corrupt, match):
    trainer = make_trainer(tmp_path, [blob_callback(plot=False)], max_steps=5)
    with pytest.raises(ValueError, match=match):
        trainer.fit(LinearClassifier(), datamodule=BlobsDataModule(corrupt=corrupt))


def test_wrong_batch_key_and_tiny_training_set_are_named(tmp_path):
    trainer = make_trainer(tmp_path, [InductiveBiasComplexity(target_error=0.05, plot=False)], max_steps=5)
    with pytest.raises(ValueError, match=r"input_key=0 does not select an element of the train batch \(a dict\)"):
        trainer.fit(LinearClassifier(), datamodule=BlobsDataModule())
    trainer = make_trainer(tmp_path, [blob_callback(plot=False)], max_steps=1)
    with pytest.raises(ValueError, match=r"at least 2 samples, got n=1"):
        trainer.fit(LinearClassifier(), datamodule=BlobsDataModule(n_train=1))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"target_error": 1.5}, r"target_error must be a finite number in \(0, 1\), got 1.5"),
        ({"target_error": 0.0}, r"target_error must be a finite number in \(0, 1\), got 0.0"),
        ({"target_error": 0.1, "resolution": -1}, r"resolution must be a finite number > 0 or None, got -1"),
        ({"target_error": 0.1, "num_classes": 1}, r"num_classes must be an integer >= 2 or None, got 1"),
        ({"target_error": 0.1, "neighbours": 1}, r"neighbours must be an integer >= 2, got 1"),
        ({"target_error": 0.1, "neighbours": True}, r"neighbours must be an integer >= 2, got True"),
        ({"target_error": 0.1, "resolution_method": "kde"}, r"resolution_method must be one of"),
        ({"target_error": 0.1, "error_floor": 0.7}, r"error_floor must be a finite number in \(0, 0.5\), got 0.7"),
        ({"target_error": 0.1, "cross_check_tolerance": 0.0}, r"cross_check_tolerance must be a finite number > 0, got 0.0"),
    ],
)
def test_bad_callback_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        InductiveBiasComplexity(**kwargs)


def test_ibc_tasks_run_is_recorded_in_mlflow(make_cfg, tmp_path):
    from mlflow.tracking import MlflowClient

    uri = f"sqlite:///{tmp_path}/mlflow.db"
    cfg = make_cfg([
        "experiment=ibc_tasks", f"logger.mlflow.tracking_uri={uri}", "logger.mlflow.log_model=false",
        "callbacks.rich_progress_bar=null", "trainer.enable_progress_bar=false", "trainer.max_steps=40",
        "trainer.val_check_interval=20", "data.num_train=1000", "data.num_val=200", "data.num_test=200",
        "callbacks.inductive_bias_complexity.num_queries=500", "test=false", "callbacks.model_summary=null",
    ])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        metrics, objects = train(cfg)
    run_id = objects["loggers"][0].run_id
    client = MlflowClient(uri)
    task = client.get_metric_history(run_id, "ibc/task_bits")
    assert task and task[0].value > 0
    steps = [m.step for m in client.get_metric_history(run_id, "ibc/model_log10_bits")]
    assert len(steps) == 2 and steps[0] < steps[1]  # one value per validation (Lightning's logging step)
    logged = {key: client.get_metric_history(run_id, f"ibc/{key}")[0].value
              for key in ("intrinsic_dim", "intrinsic_dim_mle", "resolution", "resolution_estimate",
                          "intrinsic_dim_mismatch", "resolution_mismatch", "intrinsic_dim_rel_gap")}
    # the declared statistics (m = sphere_dim = 4, delta = 2 margin = 0.6) against estimates computed
    # here on the training data, independently of the callback (the callback's own cross-check must agree)
    x, y = objects["datamodule"].train_set.tensors
    mle = mle_intrinsic_dim(x.double(), 5, 500, seed=0)
    assert logged["intrinsic_dim_mle"] == pytest.approx(mle, rel=1e-9)
    # measured: MLE 3.86 for m = 4 (n = 1000; relative gap 0.035): within the callback's default 25 %
    assert abs(logged["intrinsic_dim"] - mle) <= 0.25 * logged["intrinsic_dim"], (logged, mle)
    assert logged["intrinsic_dim_rel_gap"] == pytest.approx(abs(mle - logged["intrinsic_dim"]) / 4, rel=1e-9)
    # delta is the minimum different-class distance of the task, so a sample can only over-estimate
    # it (measured 0.79 on these 1000 points against 0.6): the declared value is a lower bound
    delta = sample_resolution(x.double(), y, subset=None)
    assert delta == pytest.approx(logged["resolution_estimate"], rel=1e-9)
    assert logged["resolution"] <= delta and logged["resolution"] == pytest.approx(0.6)
    assert logged["intrinsic_dim_mismatch"] == 0.0 and logged["resolution_mismatch"] == 0.0
    assert not [w for w in caught if "cross-check" in str(w.message)]
    artifacts = [a.path for a in client.list_artifacts(run_id, "figures/ibc")]
    assert "figures/ibc/scaling.png" in artifacts
    assert metrics["ibc/model_log10_bits"] <= metrics["ibc/task_log10_bits"] + 1.0


class RecordStatistics(Callback):
    """Writes each rank's view of the IBC callback to a JSON file (ddp_spawn children cannot
    update the parent's objects)."""

    def __init__(self, ibc: InductiveBiasComplexity, out_dir) -> None:
        self.ibc, self.out_dir = ibc, out_dir

    def on_train_end(self, trainer, pl_module) -> None:
        import json

        path = self.out_dir / f"rank{trainer.global_rank}.json"
        path.write_text(json.dumps({"statistics": self.ibc.statistics, "estimated": trainer.is_global_zero}))


@pytest.mark.slow
def test_statistics_are_identical_on_all_ranks_under_ddp(tmp_path):
    import json

    ibc = blob_callback(plot=False)
    trainer = Trainer(
        default_root_dir=tmp_path, max_steps=10, val_check_interval=10, check_val_every_n_epoch=None,
        accelerator="cpu", devices=2, strategy="ddp_spawn", logger=False, enable_progress_bar=False,
        enable_model_summary=False, num_sanity_val_steps=0, enable_checkpointing=False,
        callbacks=[ibc, RecordStatistics(ibc, tmp_path)],
    )
    trainer.fit(LinearClassifier(), datamodule=BlobsDataModule())
    views = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert views[0]["statistics"] == views[1]["statistics"] and views[0]["statistics"]["n"] == 300
    assert "ibc/model_log10_bits" in trainer.callback_metrics
