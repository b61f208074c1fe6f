"""`experiment=dsa_attractors`: DSA separates saddle, line and point attractors whose condition averages
match; Procrustes on the condition averages does not (docs/papers/dsa.md 4, case 2).

Nothing is trained (the experiment sets `train: false`): the test step receives the whole family from
`AttractorSystemsDataModule`, computes

- DSA between every pair of systems on their single trials (`neurobolts.callbacks.dsa.dsa`) -- by
  default on the single-trial fluctuations around the condition averages (`subtract_condition_mean`):
  the averages are identical across kinds by construction, and at this CPU scale they dominate the
  raw single-trial variance (raw trials give silhouettes near 0) -- and
- angular Procrustes between every pair of condition-average trajectories (`callbacks/dsa/procrustes.py`),

and logs, for each, the silhouette score of the attractor kinds on the precomputed distances
(`attractors/silhouette_dsa`, `attractors/silhouette_procrustes`) and the ratio of the mean within-kind
to the mean between-kind distance (`attractors/within_between_dsa`, `..._procrustes`). A figure
`figures/dsa_attractors/distances.png` shows both matrices and their classical-MDS embeddings.
"""

from __future__ import annotations

import numpy as np
from lightning.pytorch import LightningModule

from neurobolts.callbacks.dsa.delay_dmd import check_rank_options
from neurobolts.callbacks.dsa.network_comparison import cluster_separation
from neurobolts.callbacks.dsa.operator_similarity import check_score_method
from neurobolts.callbacks.dsa.procrustes import SCORE_METHODS as PROCRUSTES_SCORES
from neurobolts.callbacks.dsa.procrustes import pairwise_procrustes_distances
from neurobolts.callbacks.dsa.similarity import dsa
from neurobolts.lightning_modules.dsa.figures import attractor_distances_figure
from neurobolts.plugins.checks import check_choice, check_positive_int
from neurobolts.plugins.figures import log_figure


class AttractorSimilarityStudy(LightningModule):
    """DSA vs Procrustes on the attractor family (no parameters, nothing to train).

    Args:
        n_delays, delay_interval, rank, steps_ahead, score_method, seed, n_random_starts: DSA settings
            (steps_ahead > 1 fits the operator over several simulation steps, dt * steps_ahead).
        subtract_condition_mean: compare the single-trial fluctuations around the condition averages.
        procrustes_score: "angular" or "euclidean" for the condition-average baseline.
    """

    def __init__(self, n_delays: int = 5, delay_interval: int = 10, rank: int | str | None = 4,
                 steps_ahead: int = 10, score_method: str = "angular", seed: int = 0, n_random_starts: int = 4,
                 subtract_condition_mean: bool = True, procrustes_score: str = "angular") -> None:
        super().__init__()
        # fail at construction (config time), not in the test step after the data is built
        for name, value in (("n_delays", n_delays), ("delay_interval", delay_interval), ("steps_ahead", steps_ahead)):
            check_positive_int(name, value)
        check_rank_options(rank, None, None)
        check_score_method(score_method)
        check_choice("procrustes_score", procrustes_score, PROCRUSTES_SCORES)
        self.save_hyperparameters(logger=False)
        self.results: dict[str, np.ndarray] = {}

    def test_step(self, batch: dict, batch_idx: int) -> None:
        hp = self.hparams
        trials, averages = batch["trials"], batch["averages"]
        kinds = batch["kind"].cpu().numpy()
        if hp.subtract_condition_mean:
            per_condition = trials.shape[1] // averages.shape[1]
            trials = trials - averages.repeat_interleave(per_condition, dim=1)
        dsa_distances = dsa([trials[s] for s in range(trials.shape[0])], n_delays=hp.n_delays,
                            delay_interval=hp.delay_interval, rank=hp.rank, steps_ahead=hp.steps_ahead,
                            score_method=hp.score_method, seed=hp.seed, n_random_starts=hp.n_random_starts,
                            device=trials.device)
        procrustes = pairwise_procrustes_distances([avg.reshape(-1, avg.shape[-1]) for avg in averages],
                                                   hp.procrustes_score)
        self.results = {"dsa": dsa_distances, "procrustes": procrustes, "kind": kinds}
        for name, distances in (("dsa", dsa_distances), ("procrustes", procrustes)):
            for key, value in cluster_separation(distances, kinds).items():
                # every rank analyses the whole family (one test item): the mean over ranks is the value
                self.log(f"attractors/{key}_{name}", value, batch_size=1, sync_dist=True)
        if self.trainer is not None and self.trainer.is_global_zero:
            self._log_figure(dsa_distances, procrustes, kinds)

    def _log_figure(self, dsa_distances: np.ndarray, procrustes: np.ndarray, kinds: np.ndarray) -> None:
        log_figure(self.trainer, attractor_distances_figure(dsa_distances, procrustes, kinds),
                   "figures/dsa_attractors/distances.png")
