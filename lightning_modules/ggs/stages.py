"""The stages of a GGS experiment before sampling (docs/papers/ggs.md sections 2.3, 2.4, 6): the oracle,
the predictor on the task's training set, graph-based smoothing of its predictions, and a fresh
predictor on the smoothed labels. Each trains (or computes) in an MLflow run of its own nested under
the task's run (plugins/stages.py) and is cached under `paths.cache_dir` by its settings, so a rerun
with the same settings reuses it (the oracle is shared by every task of its dataset and every seed:
it is the measuring instrument, trained with its own fixed seed)."""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch

from neurobolts.datamodules.ggs.datamodule import FitnessDataModule
from neurobolts.datamodules.ggs.sequences import decode, encode
from neurobolts.datamodules.ggs.tasks import GGSTask, negative_examples
from neurobolts.lightning_modules.ggs.cnn import FitnessRegressor, predict_fitness
from neurobolts.lightning_modules.ggs.smoothing import graph_smooth

log = logging.getLogger(__name__)

STAGES = ("oracle", "predictor", "smoothing", "smoothed_predictor")


@dataclass
class TrainedStages:
    """What sampling needs: the oracle (a CNN, or the exact function of a synthetic task), the
    unsmoothed and smoothed predictors, and the holdout errors."""

    oracle: Any
    predictor: FitnessRegressor
    smoothed_predictor: FitnessRegressor | None
    metrics: dict[str, float]


def _task_identity(task: GGSTask) -> dict[str, Any]:
    """What makes two tasks' training sets the same (for cache keys)."""
    digest = task.train_tokens.numpy().tobytes()
    return {"task": task.name, "n": len(task.train), "sequences": hashlib.sha1(digest).hexdigest(),
            "scores": hashlib.sha1(np.asarray(task.train.scores, dtype=np.float64).tobytes()).hexdigest()}


def _fast_dev_run(runner) -> bool:
    return bool(runner.cfg.trainer.get("fast_dev_run", False))


def train_regressor(runner, stage: str, tokens: torch.Tensor, targets: torch.Tensor, settings: dict, *,
                    seed: int, val: tuple[torch.Tensor, torch.Tensor] | None = None) -> FitnessRegressor:
    """Fit a fresh BaseCNN regressor (spec 2.3: MSE, Adam lr 1e-4, L2 1e-4, batch 1024) in the stage's
    own Trainer; with `val`, keep the epoch of best validation Spearman (the oracle, spec 2.3)."""
    from lightning.pytorch.callbacks import ModelCheckpoint

    from neurobolts.plugins.mlflow_tracking import log_checkpoints

    optimizer = partial(torch.optim.Adam, lr=float(settings.get("lr", 1e-4)),
                        weight_decay=float(settings.get("weight_decay", 1e-4)), betas=(0.9, 0.999))
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        model = FitnessRegressor(num_states=int(settings.get("num_states", 20)), optimizer=optimizer)
    datamodule = FitnessDataModule(tokens, targets, batch_size=int(settings["batch_size"]),
                                   weighted_sampling=bool(settings.get("weighted_sampling", False)),
                                   val_tokens=None if val is None else val[0],
                                   val_targets=None if val is None else val[1], seed=seed)
    callbacks = []
    if val is not None:
        callbacks.append(ModelCheckpoint(monitor="val/spearman", mode="max", save_top_k=1, filename="best"))
    overrides = {"max_epochs": int(settings["epochs"]), "max_steps": -1, "val_check_interval": 1.0,
                 "check_val_every_n_epoch": 1, "num_sanity_val_steps": 0}
    if val is None:
        overrides["limit_val_batches"] = 0
    trainer = runner.trainer(stage, callbacks=callbacks, **overrides)
    log.info("GGS stage %s: training a BaseCNN on %d sequences for %d epochs", stage, len(tokens), settings["epochs"])
    trainer.fit(model, datamodule=datamodule)
    best = callbacks[0].best_model_path if callbacks else ""
    if best:
        state = torch.load(best, map_location="cpu", weights_only=True)["state_dict"]
        model.load_state_dict(state)
        log.info("GGS stage %s: best validation Spearman %.4f (%s)", stage, float(callbacks[0].best_model_score), best)
    log_checkpoints(trainer)
    model.eval()
    return model.cpu()


def cached_regressor(runner, stage: str, key_parts: dict, train, rerun: set[str], num_states: int = 20,
                     extra_files: dict | None = None) -> tuple[FitnessRegressor, Path, bool]:
    """(model, cache dir, reused): the cached weights for these settings, or `train()` then cache them."""
    path = runner.cache_path(stage, key_parts)
    if runner.is_complete(path) and stage not in rerun:
        model = FitnessRegressor(num_states=num_states)
        model.load_state_dict(torch.load(path / "model.pt", map_location="cpu", weights_only=True))
        log.info("GGS stage %s: reusing %s", stage, path)
        runner.log_parent(params={f"ggs/{stage}_reused_from": str(path)})
        return model.eval(), path, True
    model = train()
    if not _fast_dev_run(runner):  # a fast_dev_run's weights are not worth reusing
        files = {"model.pt": lambda target: torch.save(model.state_dict(), target), **(extra_files or {})}
        runner.commit(path, files, {"stage": stage, "settings": key_parts})
    return model, path, False


def mean_absolute_error(model, tokens: torch.Tensor, targets: np.ndarray) -> float:
    predictions = predict_fitness(model, tokens).double().numpy()
    return float(np.mean(np.abs(predictions - np.asarray(targets, dtype=np.float64))))


def run_training_stages(runner, task: GGSTask, settings: dict, *, seed: int, rerun: set[str],
                        smooth: bool = True) -> TrainedStages:
    """Oracle -> predictor -> smoothing -> smoothed predictor (module docstring)."""
    metrics: dict[str, float] = {}
    identity = _task_identity(task)
    num_states = task.num_states

    # oracle: the exact function of a synthetic task, else a CNN on all measured data (+ negatives)
    if task.exact_oracle is not None:
        oracle = task.exact_oracle
    else:
        oracle = _oracle(runner, task, settings["oracle"], rerun)

    # predictor on the task's training set (the run's seed)
    train_tokens, train_scores = task.train_tokens, torch.as_tensor(task.train.scores, dtype=torch.float32)
    predictor_key = {"task": identity, "settings": settings["predictor"], "seed": seed}

    def train_predictor():
        return train_regressor(runner, "predictor", train_tokens, train_scores, settings["predictor"], seed=seed)

    predictor, predictor_path, _ = cached_regressor(runner, "predictor", predictor_key, train_predictor, rerun,
                                                    num_states)
    metrics["ggs/train_mae_unsmoothed"] = mean_absolute_error(predictor, train_tokens, task.train.scores)
    if task.holdout is not None and len(task.holdout):
        holdout_tokens = encode(task.holdout.sequences, task.length)
        metrics["ggs/holdout_mae_unsmoothed"] = mean_absolute_error(predictor, holdout_tokens, task.holdout.scores)
    runner.log("predictor", metrics={k.replace("ggs/", ""): v for k, v in metrics.items()})
    runner.finish("predictor")
    if not smooth:
        return TrainedStages(oracle, predictor, None, metrics)

    # graph-based smoothing of the predictor's labels (spec 2.4)
    smoothing = settings["smoothing"]
    smoothing_key = {"predictor": predictor_key, "settings": {k: v for k, v in smoothing.items()
                                                              if k not in ("epochs", "batch_size")}}
    smoothing_path = runner.cache_path("smoothing", smoothing_key)
    if runner.is_complete(smoothing_path) and "smoothing" not in rerun:
        table = np.genfromtxt(smoothing_path / "smoothed.csv", delimiter=",", dtype=None, names=True, encoding=None)
        node_tokens = encode([str(s) for s in table["sequence"]], task.length)
        smoothed = np.asarray(table["score"], dtype=np.float64)
        runner.log_parent(params={"ggs/smoothing_reused_from": str(smoothing_path)})
        log.info("GGS stage smoothing: reusing %s", smoothing_path)
    else:
        start = time.perf_counter()
        generator = torch.Generator().manual_seed(seed)
        result = graph_smooth(train_tokens, lambda tokens: predict_fitness(predictor, tokens),
                              num_nodes=int(smoothing["num_nodes"]), gamma=float(smoothing["gamma"]),
                              k=smoothing.get("k"), metric=smoothing["metric"], weights=smoothing["weights"],
                              laplacian_kind=smoothing["laplacian"], augmentation=smoothing["augmentation"],
                              generator=generator, device=smoothing.get("device", "cpu"))
        node_tokens, smoothed = result.tokens, np.asarray(result.smoothed, dtype=np.float64)
        labels = np.asarray(result.labels, dtype=np.float64)
        seconds = time.perf_counter() - start

        def write_csv(target: Path) -> None:
            rows = zip(decode(node_tokens), smoothed, labels, strict=False)
            with open(target, "w") as handle:
                handle.write("sequence,score,unsmoothed_score\n")
                handle.writelines(f"{s},{y:.6f},{u:.6f}\n" for s, y, u in rows)

        stage_metrics = {"nodes": float(len(node_tokens)), "k": float(result.k), "edges": float(result.num_edges),
                         "seconds": seconds, "label_std_before": float(labels.std()),
                         "label_std_after": float(smoothed.std())}
        if not _fast_dev_run(runner):
            runner.commit(smoothing_path, {"smoothed.csv": write_csv}, {"stage": "smoothing", "settings": smoothing_key})
        artifacts = [smoothing_path / "smoothed.csv"] if runner.is_complete(smoothing_path) else []
        runner.log("smoothing", metrics=stage_metrics, params={k: str(v) for k, v in smoothing.items()},
                   artifacts=artifacts, artifact_dir="smoothed_labels")
        runner.finish("smoothing")
        log.info("GGS stage smoothing: %d nodes, k %d, %d edges, %.1f s", len(node_tokens), result.k,
                 result.num_edges, seconds)

    # a fresh predictor on the smoothed labels
    smoothed_key = {"smoothing": smoothing_key, "epochs": smoothing["epochs"], "batch_size": smoothing["batch_size"]}
    smoothed_settings = {**settings["predictor"], "epochs": smoothing["epochs"], "batch_size": smoothing["batch_size"],
                         "weighted_sampling": False}

    def train_smoothed():
        return train_regressor(runner, "smoothed_predictor", node_tokens, torch.as_tensor(smoothed, dtype=torch.float32),
                               smoothed_settings, seed=seed)

    smoothed_predictor, _, _ = cached_regressor(runner, "smoothed_predictor", smoothed_key, train_smoothed, rerun,
                                                num_states)
    smoothed_metrics = {"ggs/train_mae_smoothed": mean_absolute_error(smoothed_predictor, train_tokens,
                                                                        task.train.scores)}
    if task.holdout is not None and len(task.holdout):
        smoothed_metrics["ggs/holdout_mae_smoothed"] = mean_absolute_error(smoothed_predictor, holdout_tokens,
                                                                            task.holdout.scores)
    runner.log("smoothed_predictor", metrics={k.replace("ggs/", ""): v for k, v in smoothed_metrics.items()})
    runner.finish("smoothed_predictor")
    metrics.update(smoothed_metrics)
    return TrainedStages(oracle, predictor, smoothed_predictor, metrics)


def _oracle(runner, task: GGSTask, settings: dict, rerun: set[str]) -> FitnessRegressor:
    """The oracle CNN of spec 2.3: all measured data, `val_size` true examples held out for choosing
    the epoch (best Spearman), plus as many uniformly random negative sequences as training rows with
    targets N(negative_mean, negative_std) when `negative_data`."""
    if task.oracle_data is None:
        raise ValueError(f"task {task.name!r} has no measured data to train an oracle on (data.gfp_ground_truth)")
    data = task.oracle_data
    seed = int(settings["seed"])
    digest = encode(data.sequences, task.length).numpy().tobytes()
    key = {"dataset": hashlib.sha1(digest).hexdigest(), "n": len(data), "settings": settings}

    def train():
        tokens = encode(data.sequences, task.length)
        scores = torch.as_tensor(data.scores, dtype=torch.float32)
        generator = torch.Generator().manual_seed(seed)
        order = torch.randperm(len(tokens), generator=generator)
        val_index, train_index = order[: int(settings["val_size"])], order[int(settings["val_size"]):]
        train_tokens, train_scores = tokens[train_index], scores[train_index]
        if settings.get("negative_data", True):
            negatives, negative_scores = negative_examples(len(train_tokens), task.length, task.num_states,
                                                           task.negative_mean, float(settings["negative_std"]),
                                                           generator)
            train_tokens = torch.cat([train_tokens, negatives])
            train_scores = torch.cat([train_scores, negative_scores.float()])
        val = (tokens[val_index], scores[val_index]) if len(val_index) else None
        return train_regressor(runner, "oracle", train_tokens, train_scores, settings, seed=seed, val=val)

    oracle, _, reused = cached_regressor(runner, "oracle", key, train, rerun, task.num_states)
    if not reused:
        runner.finish("oracle")
    return oracle
