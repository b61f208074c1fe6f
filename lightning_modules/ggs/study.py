"""`GGSStudy`: one GGS experiment (docs/papers/ggs.md sections 2.5, 2.6, 4, 6).

`run_stages` trains the oracle, the predictor, the smoothed predictor (stages.py, each its own nested
MLflow run, cached by settings); the test then samples every seed (one seed per test batch, seeds
shared over DDP ranks) with every method:
- `ggs`: GWG with clustering rounds on the smoothed predictor (the paper's method);
- `gwg`: the same sampler on the unsmoothed predictor (the paper's "GWG (unsmoothed)" row);
- `random`: uniform random point mutations with the same rounds, clustering and acceptance on the
  unsmoothed predictor (a simple baseline);
selects each seed's top 128 (spec 2.6), scores them with the oracle, and logs on the task's run
`<method>/median_fitness`, `diversity`, `novelty` (e.g. `ggs/median_fitness`, `gwg/novelty`; means
over seeds; `_std` their spread over seeds), the holdout errors of both predictors, a figure, and the sampled sequences as CSV artefacts of
a nested `sampling` run.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path

import numpy as np
import torch
from torchmetrics import CatMetric

from neurobolts.datamodules.ggs.sequences import encode
from neurobolts.lightning_modules.common.episode_study import EpisodeStudy
from neurobolts.lightning_modules.ggs.cnn import predict_fitness
from neurobolts.lightning_modules.ggs.evaluation import select_top, summarise
from neurobolts.lightning_modules.ggs.gwg import GWGSampler
from neurobolts.lightning_modules.ggs.rounds import run_gwg_rounds
from neurobolts.lightning_modules.ggs.stages import STAGES, run_training_stages
from neurobolts.plugins.checks import check_choice, check_int, check_number

log = logging.getLogger(__name__)

METHODS = ("ggs", "gwg", "random")
ACCEPTANCE = ("textbook", "code")
# per seed and method: the columns of the gathered records
COLUMNS = ("seed", "method", "median_fitness", "mean_fitness", "max_fitness", "diversity", "novelty",
           "novelty_mean", "num_selected", "acceptance", "feasible_fraction")
SUMMARY = ("median_fitness", "mean_fitness", "max_fitness", "diversity", "novelty", "acceptance",
           "num_selected", "feasible_fraction")
# the paper's Tables 3 and 4 (median normalised fitness, diversity, novelty; 5 seeds)
PAPER_TABLE = {
    "aav_medium": {"ggs": (0.51, 4.0, 5.4), "gwg": (0.43, 6.6, 7.7)},
    "aav_hard": {"ggs": (0.60, 4.5, 7.0), "gwg": (0.33, 12.0, 12.2)},
    "gfp_medium": {"ggs": (0.76, 3.7, 5.0), "gwg": (0.1, 33.0, 12.8)},
    "gfp_hard": {"ggs": (0.74, 3.6, 8.0), "gwg": (0.0, 4.2, 7.6)},
}


class GGSStudy(EpisodeStudy):
    """Oracle, predictors, smoothing and sampling of one GGS task (module docstring).

    Args:
        oracle: epochs, batch_size, val_size (true examples held out to pick the epoch), negative_data,
            negative_std, seed (fixed: one oracle for every task of a dataset and every seed).
        predictor: epochs (spec: 50), batch_size (1024), weighted_sampling (v2 code: true; default false).
        smoothing: num_nodes, gamma, k (null: floor(sqrt(N) + 1)), metric (hamming | levenshtein), weights
            (inverse | distance), laplacian (normalized | combinatorial), augmentation (code | paper),
            epochs and batch_size of the smoothed predictor, device of the kNN search.
        sampler: temperature, rounds, clusters, proposals (per parent per round, smoothed model),
            unsmoothed_proposals (the `gwg` and `random` methods), acceptance (textbook | code).
        methods: which of ggs, gwg, random to run.
        top_k: sequences selected per seed (spec 2.6: 128).
        rerun: stages recomputed even when cached (oracle, predictor, smoothing, smoothed_predictor).
    """

    def __init__(self, oracle: dict, predictor: dict, smoothing: dict, sampler: dict,
                 methods: tuple[str, ...] = ("ggs", "gwg"), top_k: int = 128, rerun: tuple[str, ...] = ()) -> None:
        super().__init__()
        methods = [methods] if isinstance(methods, str) else list(methods)
        if not methods or len(set(methods)) != len(methods):
            raise ValueError(f"methods must be a non-empty list of distinct names from {METHODS}, got {methods!r}")
        for method in methods:
            check_choice("methods", method, METHODS)
        for stage in rerun:
            check_choice("rerun", stage, STAGES)
        check_int("top_k", top_k, 1)
        sampler, smoothing = dict(sampler), dict(smoothing)
        check_number("sampler.temperature", sampler["temperature"], 0, low_open=True)
        check_int("sampler.rounds", sampler["rounds"], 1)
        check_int("sampler.clusters", sampler["clusters"], 1)
        check_int("sampler.proposals", sampler["proposals"], 1)
        check_int("sampler.unsmoothed_proposals", sampler["unsmoothed_proposals"], 1)
        check_choice("sampler.acceptance", sampler["acceptance"], ACCEPTANCE)
        check_number("smoothing.gamma", smoothing["gamma"], 0)
        check_int("smoothing.num_nodes", smoothing["num_nodes"], 1)
        self.settings = {"oracle": dict(oracle), "predictor": dict(predictor), "smoothing": smoothing,
                         "sampler": sampler}
        self.save_hyperparameters(logger=False)
        self.methods = methods
        self.top_k = top_k
        self.rerun = set(rerun)
        self.records = CatMetric(nan_strategy="disable")  # NaN (e.g. no feasible sequence) kept in place
        self.stages = None
        self.runner = None
        self.task = None

    # --- stages before the test ----------------------------------------------------------------------
    def run_stages(self, runner, datamodule) -> None:
        """Oracle, predictor, smoothing and smoothed predictor (stages.py), before the test samples."""
        self.runner = runner
        self.task = datamodule.task
        smooth = "ggs" in self.methods
        self.stages = run_training_stages(runner, self.task, self.settings, seed=int(datamodule.seeds[0]),
                                          rerun=self.rerun, smooth=smooth)
        log.info("GGS stages done: %s", {k: round(v, 4) for k, v in self.stages.metrics.items()})

    def _require_stages(self) -> None:
        if self.stages is None:
            raise RuntimeError("GGSStudy samples after its stages: run it with train.py / pipeline.train "
                               "(which calls run_stages), not with trainer.test alone")

    # --- sampling ------------------------------------------------------------------------------------
    def oracle_scores(self, tokens: torch.Tensor) -> torch.Tensor:
        oracle = self.stages.oracle
        if isinstance(oracle, torch.nn.Module):
            return predict_fitness(oracle, tokens).double()
        return torch.as_tensor(oracle(tokens), dtype=torch.float64)

    def sample(self, method: str, seed: int):
        """One method's sampling run for one seed: (records table, summary dict)."""
        sampler_settings = self.settings["sampler"]
        model = self.stages.smoothed_predictor if method == "ggs" else self.stages.predictor
        proposals = sampler_settings["proposals"] if method == "ggs" else sampler_settings["unsmoothed_proposals"]
        sampler = GWGSampler(model, num_states=self.task.num_states, temperature=float(sampler_settings["temperature"]),
                             num_proposals=int(proposals), acceptance=sampler_settings["acceptance"],
                             proposal="uniform" if method == "random" else "gradient")
        generator = torch.Generator().manual_seed(int(seed) * len(METHODS) + METHODS.index(method))
        result = run_gwg_rounds(sampler, self.task.train_tokens,
                                torch.as_tensor(self.task.train.scores, dtype=torch.float32), self.task.train_tokens,
                                num_rounds=int(sampler_settings["rounds"]), num_clusters=int(sampler_settings["clusters"]),
                                generator=generator)
        selected = select_top(result.records, top_k=self.top_k)
        if selected:
            scores = self.oracle_scores(encode(selected, self.task.length)).numpy()
        else:
            scores = np.zeros(0)
        feasible = np.isfinite(scores)
        # Ehrlich: an infeasible sequence scores -inf; counted as 0 in the fitness statistics
        summary = summarise(selected, np.where(feasible, scores, 0.0), self.task.train.sequences,
                            self.task.fitness_range) if selected else {}
        summary["feasible_fraction"] = float(feasible.mean()) if len(scores) else float("nan")
        rates = [float(r) for r in result.acceptance_rate]
        summary["acceptance"] = float(np.mean(rates)) if rates else float("nan")
        return result, selected, scores, summary

    def run_episode_batch(self, batch: dict) -> None:
        self._require_stages()
        seed = int(batch["seed"])
        for method in self.methods:
            with torch.inference_mode(False), torch.enable_grad():
                result, selected, scores, summary = self.sample(method, seed)
            log.info("GGS seed %d %s: median fitness %.3f, diversity %.2f, novelty %.1f, acceptance %.2f",
                     seed, method, summary.get("median_fitness", float("nan")), summary.get("diversity", float("nan")),
                     summary.get("novelty", float("nan")), summary["acceptance"])
            self._write_samples(method, seed, result, selected, scores)
            row = [seed, METHODS.index(method)] + [float(summary.get(key, float("nan"))) for key in COLUMNS[2:]]
            self.records.update(torch.tensor([row], dtype=torch.float64))

    def _write_samples(self, method: str, seed: int, result, selected: list[str], scores: np.ndarray) -> None:
        """The sampled pairs (spec 2.5 output) and the selected top-k with oracle scores, as CSV files in
        the run directory (logged as artefacts of the `sampling` run at the end)."""
        folder = Path(self.trainer.default_root_dir if self.trainer is not None else ".") / "ggs_samples"
        folder.mkdir(parents=True, exist_ok=True)
        pairs = folder / f"{method}_seed{seed}_pairs.csv"
        result.records.to_csv(pairs, index=False)
        top = folder / f"{method}_seed{seed}_top{self.top_k}.csv"
        with open(top, "w") as handle:
            handle.write("sequence,oracle_score,normalised_fitness\n")
            low, high = self.task.fitness_range
            for sequence, score in zip(selected, scores, strict=False):
                handle.write(f"{sequence},{score:.6f},{(score - low) / (high - low):.6f}\n")

    def on_test_start(self) -> None:
        self._require_stages()

    # --- summary -------------------------------------------------------------------------------------
    def log_epoch(self) -> dict[str, float]:
        rows = self.records.compute().cpu().numpy().reshape(-1, len(COLUMNS))
        self.records.reset()
        logged: dict[str, float] = {}
        for method in self.methods:
            mine = rows[rows[:, 1] == METHODS.index(method)]
            for key in SUMMARY:
                values = mine[:, COLUMNS.index(key)]
                values = values[np.isfinite(values)]
                if len(values):
                    logged[f"{method}/{key}"] = float(values.mean())
                    logged[f"{method}/{key}_std"] = float(values.std())
        logged.update(self.stages.metrics)
        logged["ggs/seeds"] = float(len(np.unique(rows[:, 0])))
        # the same on every rank (the records are gathered, the stages' models are the same): the mean over
        # ranks is the value, and marks it as the global one
        for name, value in logged.items():
            self.log(name, value, sync_dist=True)
        if self.trainer.is_global_zero:
            self._log_sampling_run(rows)
            self._log_figure(rows)
        return logged

    def _log_sampling_run(self, rows: np.ndarray) -> None:
        """The nested `sampling` run: per-seed numbers (step = seed) and the CSV files."""
        runner = self.runner
        if runner is None:
            return
        runner.log("sampling", params={k: str(v) for k, v in self.settings["sampler"].items()} | {
            "methods": ",".join(self.methods), "top_k": self.top_k})
        for row in rows:
            method = METHODS[int(row[1])]
            metrics = {f"{method}/{key}": float(row[COLUMNS.index(key)]) for key in SUMMARY
                       if math.isfinite(row[COLUMNS.index(key)])}
            runner.log("sampling", metrics=metrics, step=int(row[0]))
        # every rank wrote its seeds' files into the run directory (_write_samples)
        files = sorted((Path(self.trainer.default_root_dir) / "ggs_samples").glob("*.csv"))
        runner.log("sampling", artifacts=files, artifact_dir="samples")
        runner.finish("sampling")

    def _log_figure(self, rows: np.ndarray) -> None:
        from neurobolts.lightning_modules.ggs.figures import fitness_figure
        from neurobolts.plugins.figures import log_figure

        figure = fitness_figure(rows, COLUMNS, self.methods, METHODS, PAPER_TABLE.get(self.task.name), self.task.name)
        log_figure(self.trainer, figure, "figures/ggs_fitness.png")

