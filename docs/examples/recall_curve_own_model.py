"""RecallCurve on your own associative memory: a Hopfield network with the projection (pseudo-inverse)
learning rule, whose stored patterns stay fixed points up to K close to N. At the end of testing the
callback measures P(exact recall) against the fraction of flipped cue bits for several network
sizes, beside the classical Hebbian Hopfield network it asks the same module to build.

Runs in a few seconds on a CPU: `python docs/examples/recall_curve_own_model.py`.
"""

import csv
import json
import math
import tempfile
from pathlib import Path

import lightning as L
import torch
from lightning.pytorch.loggers import CSVLogger
from torch.utils.data import DataLoader, TensorDataset

from neurobolts.callbacks import RecallCurve
from neurobolts.callbacks.recall_curve.recall import run_to_fixed_point
from neurobolts.lightning_modules.expander_hopfield.hebbian import HebbianHopfieldNetwork


class ProjectionHopfield(torch.nn.Module):
    """Your memory. The recall core needs: `n_neurons`, `step(x)` (one parallel update of 0/1 states),
    `is_stored(x)`, `sample_cues(n_cues, flip_fraction, generator) -> (targets, cues)` and
    `log2_stored_states`; `n_patterns` is reported when present."""

    def __init__(self, n_neurons: int, n_patterns: int, seed: int) -> None:
        super().__init__()
        self.n_neurons, self.n_patterns = n_neurons, n_patterns
        generator = torch.Generator().manual_seed(seed)
        patterns = torch.randint(0, 2, (n_patterns, n_neurons), generator=generator).float()
        spins = 2 * patterns - 1  # (K, N)
        self.register_buffer("patterns", patterns)
        self.register_buffer("weights", torch.linalg.pinv(spins) @ spins)  # projection onto the patterns

    @property
    def log2_stored_states(self) -> float:
        return math.log2(self.n_patterns)

    def step(self, x: torch.Tensor) -> torch.Tensor:
        field = (2 * x - 1) @ self.weights
        return torch.where(field > 0, 1.0, torch.where(field < 0, 0.0, x))  # a zero field keeps the bit

    def is_stored(self, x: torch.Tensor) -> torch.Tensor:
        return (x[:, None, :] == self.patterns[None]).all(dim=2).any(dim=1)

    def sample_cues(self, n_cues: int, flip_fraction: float, generator: torch.Generator):
        targets = self.patterns[torch.randint(0, self.n_patterns, (n_cues,), generator=generator)]
        flips = math.floor(flip_fraction * self.n_neurons + 1e-9)  # exactly floor(p N) bits per cue
        positions = torch.rand(n_cues, self.n_neurons, generator=generator).argsort(dim=1)[:, :flips]
        mask = torch.zeros_like(targets, dtype=torch.bool).scatter_(1, positions, True)
        return targets, torch.where(mask, 1 - targets, targets)


class MemoryModule(L.LightningModule):
    """Your LightningModule. RecallCurve calls `build_memory(n)` for the model's curves (with a
    variant's overrides as keywords) and `build_memory(n, kind="hopfield", n_patterns=K, seed=s)` for
    the Hebbian baseline, so the module builds both kinds."""

    def __init__(self, n_neurons: int = 128, load: float = 0.25, seed: int = 0) -> None:
        super().__init__()
        self.save_hyperparameters()

    def build_memory(self, n_neurons: int, kind: str = "projection", n_patterns: int | None = None,
                     seed: int | None = None, load: float | None = None) -> torch.nn.Module:
        seed = self.hparams.seed if seed is None else seed
        if kind == "hopfield":
            return HebbianHopfieldNetwork(n_neurons, n_patterns, torch.Generator().manual_seed(seed))
        if kind != "projection":
            raise ValueError(f"kind must be 'projection' or 'hopfield', got {kind!r}")
        n_patterns = max(1, round((self.hparams.load if load is None else load) * n_neurons))
        return ProjectionHopfield(n_neurons, n_patterns, seed)

    def setup(self, stage: str) -> None:
        self.memory = self.build_memory(self.hparams.n_neurons)

    def test_step(self, batch, batch_idx: int) -> None:
        (pattern_index, flip_mask) = batch  # the module's own test: recall at its configured size
        targets = self.memory.patterns[pattern_index]
        result = run_to_fixed_point(self.memory, torch.where(flip_mask, 1 - targets, targets))
        exact = (result.final == targets).all(dim=1).float().mean()
        self.log("test/exact_recall", exact, on_epoch=True, batch_size=len(targets))


class CueDataModule(L.LightningDataModule):
    def __init__(self, n_neurons: int = 128, n_patterns: int = 32, flip_fraction: float = 0.1) -> None:
        super().__init__()
        generator = torch.Generator().manual_seed(1)
        index = torch.randint(0, n_patterns, (256,), generator=generator)
        flips = math.floor(flip_fraction * n_neurons)
        positions = torch.rand(256, n_neurons, generator=generator).argsort(dim=1)[:, :flips]
        mask = torch.zeros(256, n_neurons, dtype=torch.bool).scatter_(1, positions, True)
        self.test_set = TensorDataset(index, mask)

    def test_dataloader(self) -> DataLoader:
        return DataLoader(self.test_set, batch_size=128)


def main() -> None:
    with tempfile.TemporaryDirectory() as root:
        curve = RecallCurve(
            sizes=[64, 128], flip_fractions=[0.05, 0.1, 0.2], trials=100, seed=0,
            baseline_load=0.1,                     # Hebbian networks storing K = 0.1 N patterns
            capacity_loads=[0.05, 0.1, 0.2], capacity_size=128, capacity_flip_fraction=0.05,
            variants={"load_0.5": {"load": 0.5}},  # the model again, with build_memory(n, load=0.5)
        )
        trainer = L.Trainer(accelerator="cpu", devices=1, default_root_dir=root,
                            logger=CSVLogger(root, name="memory"), callbacks=[curve],
                            enable_progress_bar=False, enable_model_summary=False)
        trainer.test(MemoryModule(), datamodule=CueDataModule())

        with open(Path(trainer.logger.log_dir) / "metrics.csv") as file:
            (row,) = [row for row in csv.DictReader(file) if row.get("curve/model/N128/p0.1/recall")]
        for label in ("model", "load_0.5", "hopfield"):
            values = [float(row[f"curve/{label}/N128/p{p:g}/recall"]) for p in (0.05, 0.1, 0.2)]
            print(f"curve/{label}/N128/p<0.05, 0.1, 0.2>/recall:", values)
        capacity = {k: float(v) for k, v in row.items() if k.startswith("curve/capacity/") and
                    k.endswith("/recall")}
        print("Hebbian capacity sweep at N = 128:", capacity)
        assert float(row["curve/model/N128/p0.05/recall"]) == 1.0
        # the table and the figure, beside the CSV logger's own files
        folder = Path(trainer.logger.log_dir) / "figures"
        table = json.loads((folder / "recall_curve.json").read_text())
        print(f"{(folder / 'recall_curve.json').relative_to(root).as_posix()}: {len(table)} records")
        print(f"figure: {(folder / 'recall_curve.png').relative_to(root).as_posix()}")
        assert len(table) == len(curve.records) == 2 * 3 * 3 + 3 and (folder / "recall_curve.png").is_file()


if __name__ == "__main__":
    main()
