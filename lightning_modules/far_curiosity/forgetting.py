"""`experiment=far_curiosity_forgetting`: does a curiosity module forget room A while it learns room B
(docs/papers/far_curiosity.md; docs/papers/far_curiosity.md section 6A and oracle 7.9)?

One agent walks a scripted path (`ForgettingWalkDataModule`: a random walk in room A, the shortest
path through the door, a random walk in room B, optionally back to A). At every step of the walk

1. the active module's raw RND error e_t on the new observation is the surprisal;
2. `FARCuriosity.observe` decides on it (a 1-step batch: a fragmentation or recall takes effect at
   the next step; the 25-sample minimum is what prevents a cascade of fragmentations);
3. the active module takes one Adam step on a batch of `batch_size` observations drawn from the last
   `buffer_size` observations seen while it was active (each module its own buffer; spec 6A).

Conditions (`curiosity`): `rnd` (one predictor for the whole walk), `far` (fragmentation, a new module
per fragment), `far_recall` (fragmentation and recall). Every `eval_every` steps and at the end of
every phase the study scores e_A = mean error over every room-A cell under ROOM A'S MODULE (the module
that was active at the end of the first phase); the forgetting ratio is

    F = e_A(end of phase 2) / e_A(end of phase 1)      (spec section 4 (ii))

so F >> 1 means the predictor that learnt room A lost it. Logged at the end of the walk (one value
each, against the last step): `forgetting/F`, `forgetting/e_A_end_A`, `forgetting/e_A_end_B`,
`forgetting/fragmentations` (`forgetting/fragmentations_A_to_B`: those up to the end of phase B),
`forgetting/recalls`, `forgetting/first_fragmentation_step`,
`forgetting/fragmentation_door_distance` (shortest-path cells from the first fracture to the nearest
door; nan without a fracture), `forgetting/modules`, and with a return phase `forgetting/reuse_A`:
the fraction of the return phase's steps in room A that ran with room A's module (FAR + recall
should re-use it). During the walk, against the walk step (the logger's step): `forgetting/e_A` and
`forgetting/surprisal` (mean raw error of the chunk). Rank zero logs `forgetting/history.json` and two figures: e_A(t) with the phases and
fractures marked (`figures/far_curiosity/e_A.png`), and the error per cell at the end of each phase
under the module that owns the cell's room (`figures/far_curiosity/reward_maps.png`).

The walk is one stream: under DDP every rank runs the same walk with the same seed (the study is a
single-agent measurement; nothing is shared out or synchronised), so the numbers do not depend on
the number of processes.
"""

from __future__ import annotations

from collections import deque

import numpy as np
import torch
from lightning.pytorch import LightningModule

from neurobolts.lightning_modules.far_curiosity.far import CURIOSITY_MODES, FARCuriosity
from neurobolts.lightning_modules.far_curiosity.figures import error_curve_figure, reward_maps_figure
from neurobolts.plugins.checks import check_choice, check_int, check_positive
from neurobolts.plugins.figures import log_figure, log_table


class ForgettingStudy(LightningModule):
    """RND / FAR / FAR + recall on the scripted walk of `ForgettingWalkDataModule` (module docstring).

    Args:
        curiosity: "rnd", "far" or "far_recall".
        criterion, threshold, min_history, recall_threshold: the fragmentation and recall rules
            (spec 2.2-2.3: ratio e >= 10 x mean after 25 samples; recall at cosine >= 0.99).
        predictor_width, feature_dim: the MLP predictor's hidden width and the feature size (spec 6A:
            target Linear(147 -> 64), predictor 147 -> w -> w -> 64).
        lr, batch_size, buffer_size: Adam 1e-3 on 32 observations from the module's last 256 (spec 6A).
        eval_every: steps between two e_A scores.
        seed: seed of the modules' initialisation and of the batch draws.
    """

    def __init__(self, curiosity: str = "far", criterion: str = "ratio", threshold: float = 10.0,
                 min_history: int = 25, recall_threshold: float = 0.99, predictor_width: int = 128,
                 feature_dim: int = 64, lr: float = 1e-3, batch_size: int = 32, buffer_size: int = 256,
                 eval_every: int = 100, seed: int = 0) -> None:
        super().__init__()
        check_choice("curiosity", curiosity, CURIOSITY_MODES)
        check_int("batch_size", batch_size, 1)
        check_int("buffer_size", buffer_size, 1)
        check_int("eval_every", eval_every, 1)
        check_positive("lr", lr)
        self.save_hyperparameters(logger=False)
        self.automatic_optimization = False
        object.__setattr__(self, "curiosity", None)  # built in `setup`, when the observation size is known
        self._generator = torch.Generator().manual_seed(int(seed))

    # -- set-up -----------------------------------------------------------------------------------
    def setup(self, stage: str) -> None:
        if self.curiosity is not None:
            return
        data = self.trainer.datamodule
        h = self.hparams
        # not a registered submodule: its module list grows during the walk, which DDP's parameter
        # registration (done once, at the start of fit) cannot follow; each rank runs the same walk
        object.__setattr__(self, "curiosity", FARCuriosity(
            (data.obs_dim,), num_envs=1, mode=h.curiosity, criterion=h.criterion, threshold=h.threshold,
            min_history=h.min_history, recall_threshold=h.recall_threshold, lr=h.lr,
            predictor_width=h.predictor_width, feature_dim=h.feature_dim, update_proportion=1.0,
            seed=h.seed))  # observation whitening is never updated here: obs in [0, 1] as in spec 6A
        self.room_a_obs = torch.as_tensor(data.room_observations(0))
        self.cells, cell_obs = data.cell_observations()
        self.cell_obs = torch.as_tensor(cell_obs)
        self.cell_rooms = np.asarray([data.room_at(tuple(c)) for c in self.cells])
        self.door_distance = data.door_distance
        self.floor = data.floor_image()
        self.buffers: dict[int, deque] = {0: deque(maxlen=h.buffer_size)}
        self.history: list[dict] = []
        self.phase_ends: dict[int, dict] = {}
        self.room_owner: dict[int, int] = {}
        self.module_a: int | None = None
        self.fractures: list[dict] = []
        self.reuse_steps = [0, 0]  # [steps in room A of the return phase with room A's module, all such steps]
        self._last = None

    def configure_optimizers(self):
        return None  # each curiosity module owns its optimiser (FARCuriosity.train_step)

    # -- the walk ---------------------------------------------------------------------------------
    def training_step(self, batch: dict, batch_idx: int) -> None:
        obs, rooms = batch["obs"].float(), batch["room"].tolist()
        phases, steps, cells = batch["phase"].tolist(), batch["step"].tolist(), batch["cell"].tolist()
        surprisals = []
        for k in range(len(steps)):
            step, phase, room = int(steps[k]), int(phases[k]), int(rooms[k])
            if self._last is not None and phase != self._last["phase"]:
                self._phase_end(self._last)
            x = obs[k:k + 1]
            active = int(self.curiosity.current[0])
            error = self.curiosity.errors(x, self.curiosity.current)
            surprisals.append(float(error[0]))
            events = self.curiosity.observe(error.view(1, 1), x.view(1, 1, -1))
            for event in events:
                if event["kind"] == "fragment":
                    self.fractures.append({"step": step, "cell": tuple(cells[k]), "old": event["old"],
                                           "new": event["new"]})
            active = int(self.curiosity.current[0])
            if room >= 0:
                self.room_owner[room] = active
            if phase >= 2 and room == 0 and self.module_a is not None:
                self.reuse_steps[0] += int(active == self.module_a)
                self.reuse_steps[1] += 1
            buffer = self.buffers.setdefault(active, deque(maxlen=self.hparams.buffer_size))
            buffer.append(x[0])
            draw = torch.randint(len(buffer), (self.hparams.batch_size,), generator=self._generator)
            sample = torch.stack([buffer[int(i)] for i in draw])
            self.curiosity.train_step(sample, torch.full((len(sample),), active, dtype=torch.long))
            self._last = {"step": step, "phase": phase}
            if (step + 1) % self.hparams.eval_every == 0:
                self._score(step, phase)
        self._log_at_walk_step({"forgetting/surprisal": float(np.mean(surprisals))}, int(steps[-1]))

    def _module_a(self) -> int:
        return self.module_a if self.module_a is not None else int(self.curiosity.current[0])

    @torch.no_grad()
    def _score(self, step: int, phase: int, log: bool = True) -> float:
        if self.history and self.history[-1]["step"] == step:  # a phase ending on a scored step
            return self.history[-1]["e_A"]
        module = self._module_a()
        ids = torch.full((len(self.room_a_obs),), module, dtype=torch.long)
        e_a = float(self.curiosity.errors(self.room_a_obs, ids).mean())
        active = int(self.curiosity.current[0])
        self.history.append({"step": step, "phase": phase, "e_A": e_a, "module_A": module, "active": active,
                             "modules": self.curiosity.n_modules})
        if log:
            self._log_at_walk_step({"forgetting/e_A": e_a}, step)
        return e_a

    def _log_at_walk_step(self, values: dict[str, float], step: int) -> None:
        """Log against the walk step. (`self.log` would put every value at step 0: nothing here steps a
        Lightning optimiser, so Lightning's logging step never advances.) Rank zero only: every rank
        walks the same walk."""
        if self.trainer.is_global_zero:
            for logger in self.loggers:
                logger.log_metrics(values, step=step)

    @torch.no_grad()
    def _cell_errors(self) -> np.ndarray:
        """Error per free cell under the module that owns the cell's room (room A's module before any
        visit; doors under the active module)."""
        active = int(self.curiosity.current[0])
        ids = torch.as_tensor([self.room_owner.get(int(r), self._module_a()) if r >= 0 else active
                               for r in self.cell_rooms], dtype=torch.long)
        return self.curiosity.errors(self.cell_obs, ids).numpy()

    def _phase_end(self, last: dict, log: bool = True) -> None:
        if last["phase"] == 0:
            self.module_a = int(self.curiosity.current[0])
        self.phase_ends[last["phase"]] = {"step": last["step"], "e_A": self._score(last["step"], last["phase"], log),
                                          "cell_errors": self._cell_errors()}

    def on_train_epoch_end(self) -> None:
        if self._last is not None and self._last["phase"] not in self.phase_ends:
            self._phase_end(self._last, log=False)
        values = self.summary()
        for name, value in values.items():
            self.log(name, value, on_step=False, on_epoch=True, sync_dist=True)  # the same on every rank
        if self.trainer.is_global_zero:
            log_table(self.trainer, {"summary": values, "history": self.history, "fractures": [
                {**f, "cell": list(f["cell"])} for f in self.fractures]}, "forgetting/history.json")
            title = f"{self.hparams.curiosity} (width {self.hparams.predictor_width})"
            log_figure(self.trainer, error_curve_figure({title: self.history}, {title: self.fractures},
                                                        phase_steps=[v["step"] for v in self.phase_ends.values()]),
                       "figures/far_curiosity/e_A.png")
            log_figure(self.trainer, reward_maps_figure(self.floor, self.cells,
                                                        {f"end of phase {'ABCDEFG'[p]}": v["cell_errors"]
                                                         for p, v in sorted(self.phase_ends.items())}, title),
                       "figures/far_curiosity/reward_maps.png")

    def summary(self) -> dict[str, float]:
        """The walk's numbers (module docstring); needs the ends of the first two phases."""
        ends = self.phase_ends
        e_end_a = ends[0]["e_A"] if 0 in ends else float("nan")
        e_end_b = ends[1]["e_A"] if 1 in ends else float("nan")
        first = self.fractures[0] if self.fractures else None
        end_b = ends[1]["step"] if 1 in ends else float("inf")
        values = {"forgetting/F": e_end_b / e_end_a if e_end_a > 0 else float("nan"),
                  "forgetting/fragmentations_A_to_B": float(sum(f["step"] <= end_b for f in self.fractures)),
                  "forgetting/e_A_end_A": e_end_a, "forgetting/e_A_end_B": e_end_b,
                  "forgetting/fragmentations": float(self.curiosity.fragmentations),
                  "forgetting/recalls": float(self.curiosity.recalls),
                  "forgetting/modules": float(self.curiosity.n_modules),
                  "forgetting/first_fragmentation_step": float(first["step"]) if first else float("nan"),
                  "forgetting/fragmentation_door_distance":
                      float(self.door_distance(first["cell"])) if first else float("nan")}
        if self.reuse_steps[1]:
            values["forgetting/reuse_A"] = self.reuse_steps[0] / self.reuse_steps[1]
        return values
