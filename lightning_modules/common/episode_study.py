"""The base of the studies that train nothing (FARMap vs Frontier, Map Induction's agents): each test
(or validation) batch is one episode, run by `run_episode_batch`; the epoch's numbers are logged by
`log_epoch` (torchmetrics states reduced over ranks, so they do not depend on how the episodes were
shared out). Subclasses implement those two methods; the Lightning hooks are wired here once."""

from __future__ import annotations

from lightning.pytorch import LightningModule


class EpisodeStudy(LightningModule):
    """A LightningModule whose test and validation steps run one episode each (module docstring)."""

    def run_episode_batch(self, batch: dict) -> None:
        raise NotImplementedError(f"{type(self).__name__} must implement run_episode_batch(batch)")

    def log_epoch(self) -> dict[str, float]:
        raise NotImplementedError(f"{type(self).__name__} must implement log_epoch()")

    def test_step(self, batch: dict, batch_idx: int) -> None:
        self.run_episode_batch(batch)

    def validation_step(self, batch: dict, batch_idx: int) -> None:
        self.run_episode_batch(batch)

    def on_test_epoch_end(self) -> None:
        self.log_epoch()

    def on_validation_epoch_end(self) -> None:
        self.log_epoch()
