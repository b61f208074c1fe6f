"""DataModule for `experiment=dsa_attractors`: the saddle / line / point attractor family as one test batch.

Nothing is trained: the test loader yields the whole family once (a dict of tensors, see
`attractor_dynamics.attractor_family`), and the study module compares every pair of systems.
"""

from __future__ import annotations

import torch
from lightning.pytorch import LightningDataModule
from torch.utils.data import DataLoader

from neurobolts.datamodules.dsa.attractor_dynamics import attractor_family, validate_family_args


class AttractorSystemsDataModule(LightningDataModule):
    """Families of saddle / line / point attractor systems whose condition averages match.

    Args:
        n_models: triples of systems (one of each kind).
        n_trials: trials per condition.
        steps: time steps per trial.
        dt: integration step.
        noise: sigma of the noise.
        input_strength: the input u = +/- input_strength.
        seed: seed of the family.

    A batch is a dict of tensors {"trials", "averages", "kind", "model"}.
    """

    def __init__(self, n_models: int = 4, n_trials: int = 15, steps: int = 300, dt: float = 0.01,
                 noise: float = 0.05, input_strength: float = 0.1, seed: int = 0) -> None:
        super().__init__()
        validate_family_args(n_models, n_trials, steps, dt, noise, input_strength)
        self.save_hyperparameters(logger=False)
        self.family: dict[str, torch.Tensor] | None = None

    def setup(self, stage: str | None = None) -> None:
        if self.family is None:
            arrays = attractor_family(**self.hparams)
            self.family = {key: torch.as_tensor(arrays[key]) for key in ("trials", "averages", "kind", "model")}

    def test_dataloader(self) -> DataLoader:
        return DataLoader([self.family], batch_size=None)

    def probe_batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(single trials (systems, trials, time, 2), kind labels (systems,))."""
        self.setup()
        return self.family["trials"], self.family["kind"]
