"""The light version of the GGS reproduction (CI; the full one is `make reproduce` /
tests/test_ggs_reproduction.py): the method's chain on a planted landscape small enough for seconds.

Sequences of length 12 over the 20 letters with a planted additive fitness (one weight per position and
letter), a low-fitness start set (the lowest fifth of 4,000 random sequences), a BaseCNN predictor fitted
to noisy labels, graph smoothing of its predictions, a fresh CNN on the smoothed labels, and GWG with
clustering rounds on it, scored by the exact planted function. The claims a user relies on:

- sampling finds sequences fitter than every sequence of the start set (the point of the method:
  the top 32 selected, median exact fitness above the start set's maximum), and
- every selected sequence is new: none equals a start sequence.

Measured when written (this machine, landscape seeds 0-4, one thread): the median selected fitness lies
1.0-4.3 above the start set's maximum (-0.38 vs -2.37, -1.37 vs -2.33, 0.77 vs -2.17, -0.73 vs -2.85,
0.59 vs -3.71; bar: above it). The same sampler on the unsmoothed predictor selected 1-32 sequences and
a lower median in 4 of the 5 seeds (not asserted: one seed's single selected sequence was the best)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from lightning.pytorch import Trainer

from neurobolts.datamodules.ggs.datamodule import FitnessDataModule
from neurobolts.datamodules.ggs.sequences import decode, encode
from neurobolts.lightning_modules.ggs.cnn import FitnessRegressor, predict_fitness
from neurobolts.lightning_modules.ggs.evaluation import select_top
from neurobolts.lightning_modules.ggs.gwg import GWGSampler
from neurobolts.lightning_modules.ggs.rounds import run_gwg_rounds
from neurobolts.lightning_modules.ggs.smoothing import graph_smooth

LENGTH, STATES = 12, 20


def fit(tokens: torch.Tensor, targets: torch.Tensor, epochs: int, seed: int) -> FitnessRegressor:
    from functools import partial

    torch.manual_seed(seed)
    model = FitnessRegressor(optimizer=partial(torch.optim.Adam, lr=3e-3, weight_decay=1e-4))
    trainer = Trainer(accelerator="cpu", max_epochs=epochs, logger=False, enable_checkpointing=False,
                      enable_progress_bar=False, enable_model_summary=False, limit_val_batches=0)
    trainer.fit(model, datamodule=FitnessDataModule(tokens, targets, batch_size=128, seed=seed))
    return model.eval()


@pytest.mark.parametrize("seed", [0, 1])
def test_ggs_finds_sequences_fitter_than_the_start_set(seed, one_torch_thread):
    generator = torch.Generator().manual_seed(seed)
    weights = torch.randn(LENGTH, STATES, generator=generator)

    def exact(tokens: torch.Tensor) -> torch.Tensor:
        return weights[torch.arange(LENGTH), tokens].sum(1)

    pool = torch.randint(0, STATES, (4000, LENGTH), generator=generator)
    values = exact(pool)
    start = pool[values <= values.quantile(0.2)]
    start_values = exact(start)
    noisy = start_values + 0.5 * torch.randn(len(start), generator=generator)
    predictor = fit(start, noisy, epochs=30, seed=seed)
    smoothing = graph_smooth(start, lambda t: predict_fitness(predictor, t), num_nodes=2000, gamma=1.0,
                             generator=torch.Generator().manual_seed(seed))
    smoothed = fit(smoothing.tokens, torch.as_tensor(smoothing.smoothed, dtype=torch.float32), epochs=10, seed=seed)
    sampler = GWGSampler(smoothed, temperature=0.1, num_proposals=20)
    result = run_gwg_rounds(sampler, start, start_values, start, num_rounds=6, num_clusters=32,
                            generator=torch.Generator().manual_seed(seed))
    selected = select_top(result.records, top_k=32)
    assert len(selected) >= 8
    assert not set(selected) & set(decode(start))
    selected_values = exact(encode(selected, LENGTH)).numpy()
    assert np.median(selected_values) > float(start_values.max()), (np.median(selected_values), float(start_values.max()))
