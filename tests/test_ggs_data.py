"""GGS data: the fitness CSVs, the task splits and the regression DataModule (docs/papers/ggs.md
sections 2.1-2.3, 3 and 7 items 1-2). The data is found at <checkout>/../shared/data/ggs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from neurobolts.datamodules.ggs.datamodule import FitnessDataModule
from neurobolts.datamodules.ggs.sequences import ALPHABET, encode
from neurobolts.datamodules.ggs.tasks import (
    TASKS,
    FitnessTable,
    derive_split,
    load_task,
    negative_examples,
    read_fitness_csv,
    resolve_data_root,
)

GFP_LENGTH = 237


@pytest.fixture(scope="module")
def root() -> Path:
    return resolve_data_root(None)


@pytest.fixture(scope="module")
def aav(root) -> FitnessTable:
    return read_fitness_csv(root / "AAV" / "ground_truth.csv")


@pytest.fixture(scope="module")
def aav_tasks(root):
    return {name: load_task(name, root) for name in ("aav_medium", "aav_hard")}


# ---------------------------------------------------------------- section 7 items 1-2

def test_aav_statistics(aav):
    assert len(aav) == 44128
    assert len(set(aav.sequences)) == 42340
    assert all(len(s) == 28 for s in aav.sequences)
    assert aav.scores.dtype == np.float64
    assert aav.scores.min() == 0.0
    assert aav.scores.max() == pytest.approx(19.536, abs=1e-3)
    assert aav.scores.max() == pytest.approx(TASKS["aav_hard"].fitness_range[1], abs=1e-5)
    quantiles = np.quantile(aav.scores, [0.2, 0.3, 0.4, 0.99])
    np.testing.assert_allclose(quantiles, [5.643, 6.432, 7.488, 14.833], atol=1e-3)


def test_aav_splits_levenshtein_match_the_paper(aav_tasks, aav):
    medium, hard = aav_tasks["aav_medium"], aav_tasks["aav_hard"]
    assert len(medium.train) == 2139
    assert len(hard.train) == 3448
    for task, (low, high) in ((medium, (0.2, 0.4)), (hard, (0.0, 0.3))):
        q_low, q_high = np.quantile(aav.scores, [low, high])
        assert task.train.scores.min() >= q_low and task.train.scores.max() <= q_high
        assert task.train_tokens.shape == (len(task.train), 28)
        assert task.train_tokens.dtype == torch.long
        assert task.length == 28 and task.num_states == 20
        assert task.fitness_range == (0.0, 19.53646)
        assert task.oracle_data is not None and len(task.oracle_data) == 44128
        assert task.negative_mean == 0.0 and task.exact_oracle is None
        # the holdout: measured sequences outside the training set
        assert len(task.holdout) == 2000
        assert not set(task.holdout.sequences) & set(task.train.sequences)
        assert len(set(task.holdout.sequences)) == 2000


def test_aav_split_hamming_differs(aav):
    medium = derive_split(aav, (0.2, 0.4), 6, metric="hamming")
    hard = derive_split(aav, (0.0, 0.3), 7, metric="hamming")
    assert (len(medium), len(hard)) == (2145, 3453)  # VLGPO's files: not the paper's sets


def test_split_gap_holds_on_a_small_table():
    # top sequence AAAA (score 10); CCCC is 4 edits away, AAAC one edit away
    table = FitnessTable(["AAAA", "AAAC", "CCCC", "CCCC", "DDDA"] + ["GGGG"] * 95,
                         np.array([10.0, 1.0, 1.0, 1.0, 1.0] + [0.5] * 95))
    kept = derive_split(table, (0.0, 1.0), 3)
    # the 0.99 quantile is interpolated between 1.0 and 10.0, so only AAAA is in X99; duplicates kept
    assert kept.tolist() == [2, 3, 4] + list(range(5, 100))
    assert derive_split(table, (0.0, 1.0), 4).tolist() == [2, 3] + list(range(5, 100))
    # Levenshtein < Hamming: ACGT vs CGTA is 2 edits but 4 substitutions
    shifted = FitnessTable(["ACGT", "CGTA"] + ["WWWW"] * 98, np.array([10.0, 1.0] + [0.0] * 98))
    assert 1 not in derive_split(shifted, (0.0, 1.0), 3).tolist()
    assert 1 in derive_split(shifted, (0.0, 1.0), 3, metric="hamming").tolist()


def test_gfp_training_files(root):
    medium = read_fitness_csv(root / TASKS["gfp_medium"].train_file)  # v1 columns: target -> score
    hard = read_fitness_csv(root / TASKS["gfp_hard"].train_file)
    assert (len(medium), len(hard)) == (2828, 2426)
    assert {len(s) for s in medium.sequences} == {len(s) for s in hard.sequences} == {GFP_LENGTH}


def _write_csv(path: Path, header: str, rows: list[str]) -> Path:
    path.write_text("\n".join([header, *rows]) + "\n")
    return path


def test_gfp_task_with_a_generated_ground_truth(root, tmp_path):
    generator = np.random.default_rng(0)
    train = read_fitness_csv(root / TASKS["gfp_hard"].train_file)
    letters = np.array(list(ALPHABET))
    random_rows = ["".join(generator.choice(letters, GFP_LENGTH)) + f",{generator.normal(2.5, 1):.4f}"
                   for _ in range(300)]
    known_rows = [f"{s},{v}" for s, v in zip(train.sequences[:50], train.scores[:50], strict=True)]
    ground_truth = _write_csv(tmp_path / "ground_truth.csv", "sequence,score", known_rows + random_rows)
    task = load_task("gfp_hard", root, gfp_ground_truth=str(ground_truth), holdout_size=100, seed=3)
    assert len(task.train) == 2426 and task.train_tokens.shape == (2426, GFP_LENGTH)
    assert task.fitness_range == (1.28342, 4.12311) and task.negative_mean == 1.0
    assert len(task.oracle_data) == 350
    assert len(task.holdout) == 100 and not set(task.holdout.sequences) & set(task.train.sequences)
    again = load_task("gfp_hard", root, gfp_ground_truth=str(ground_truth), holdout_size=100, seed=3)
    assert again.holdout.sequences == task.holdout.sequences
    other = load_task("gfp_hard", root, gfp_ground_truth=str(ground_truth), holdout_size=100, seed=4)
    assert other.holdout.sequences != task.holdout.sequences
    medium = load_task("gfp_medium", root, gfp_ground_truth=str(ground_truth), holdout_size=10)
    assert len(medium.train) == 2828 and len(medium.holdout) == 10
    # a ground truth of another length is refused
    short = _write_csv(tmp_path / "short.csv", "sequence,score", ["ACDE,1.0", "ACDF,2.0"])
    with pytest.raises(ValueError, match="length"):
        load_task("gfp_hard", root, gfp_ground_truth=str(short))


# ---------------------------------------------------------------- bad input

def test_csv_without_expected_columns(tmp_path):
    path = _write_csv(tmp_path / "bad.csv", "seq,fitness", ["ACDE,1.0"])
    with pytest.raises(ValueError, match=r"bad\.csv.*'sequence', 'score'.*found \['seq', 'fitness'\]"):
        read_fitness_csv(path)


def test_csv_bad_values(tmp_path):
    with pytest.raises(ValueError, match=r"row 1 .*score must be a number, got 'abc'"):
        read_fitness_csv(_write_csv(tmp_path / "a.csv", "sequence,score", ["ACDE,1.0", "ACDF,abc"]))
    with pytest.raises(ValueError, match=r"row 0 .*finite number, got 'nan'"):
        read_fitness_csv(_write_csv(tmp_path / "b.csv", "sequence,score", ["ACDE,nan"]))
    with pytest.raises(ValueError, match=r"c\.csv: sequence\[1\].*letter 'X' at position 2"):
        read_fitness_csv(_write_csv(tmp_path / "c.csv", "sequence,score", ["ACDE,1.0", "ACXE,2.0"]))
    with pytest.raises(ValueError, match=r"d\.csv: sequence\[2\] must have length 4"):
        read_fitness_csv(_write_csv(tmp_path / "d.csv", "sequence,score", ["ACDE,1", "ACDF,2", "ACD,3"]))
    with pytest.raises(FileNotFoundError, match="missing.csv"):
        read_fitness_csv(tmp_path / "missing.csv")
    v1 = read_fitness_csv(_write_csv(tmp_path / "v1.csv", "sequence,target,augmented,source",
                                     ["ACDE,1.5,0,true", "ACDF,2.5,0,true"]))
    assert v1.sequences == ["ACDE", "ACDF"] and v1.scores.tolist() == [1.5, 2.5]


def test_unknown_task_and_missing_inputs(root, tmp_path, monkeypatch):
    with pytest.raises(ValueError, match=r"aav_medium.*aav_hard.*gfp_medium.*gfp_hard.*ehrlich"):
        load_task("aav_easy", root)
    with pytest.raises(ValueError, match=r"GFP ground truth.*data\.gfp_ground_truth="):
        load_task("gfp_medium", root)
    with pytest.raises(FileNotFoundError, match=r"data\.gfp_ground_truth"):
        load_task("gfp_medium", root, gfp_ground_truth=str(tmp_path / "nowhere.csv"))
    with pytest.raises(FileNotFoundError, match=r"data\.root.*does not exist"):
        load_task("aav_hard", str(tmp_path / "no_such_folder"))
    with pytest.raises(FileNotFoundError, match=r"data\.root.*lacks the file 'AAV/ground_truth\.csv'"):
        load_task("aav_hard", str(tmp_path))
    with pytest.raises(ValueError, match="ehrlich task only"):
        load_task("aav_hard", root, num_motifs=2)
    # no root anywhere: the error says what is needed and how to pass it
    monkeypatch.setenv("NEUROBOLTS_GGS_DATA", str(tmp_path / "absent"))
    monkeypatch.setattr("neurobolts.datamodules.ggs.tasks._default_roots", lambda: [tmp_path / "absent"])
    with pytest.raises(FileNotFoundError, match=r"AAV/ground_truth\.csv.*sequence,score.*data\.root=/path/to/ggs"):
        resolve_data_root(None)


def test_resolve_data_root_env_var(root, monkeypatch):
    monkeypatch.setenv("NEUROBOLTS_GGS_DATA", str(root))
    assert resolve_data_root(None) == root


def test_negative_examples_are_seeded_random_sequences():
    tokens, targets = negative_examples(5000, 28, 20, 1.0, 0.1, torch.Generator().manual_seed(0))
    assert tokens.shape == (5000, 28) and tokens.dtype == torch.long
    assert tokens.min() == 0 and tokens.max() == 19
    counts = torch.bincount(tokens.flatten(), minlength=20).double() / tokens.numel()
    assert (counts - 0.05).abs().max() < 0.005  # 140k uniform draws: the std of a frequency is ~6e-4
    assert targets.dtype == torch.float32
    assert abs(targets.mean().item() - 1.0) < 0.01 and abs(targets.std().item() - 0.1) < 0.01
    again = negative_examples(5000, 28, 20, 1.0, 0.1, torch.Generator().manual_seed(0))
    assert torch.equal(again[0], tokens) and torch.equal(again[1], targets)


# ---------------------------------------------------------------- DataModule

def _data(n: int = 300, length: int = 10) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    return torch.randint(20, (n, length), generator=generator), torch.rand(n, generator=generator) * 10


def test_datamodule_batches_and_validation_split():
    tokens, targets = _data()
    module = FitnessDataModule(tokens, targets.double(), batch_size=64, val_size=50, seed=1)
    batches = list(module.train_dataloader())
    assert [len(b[0]) for b in batches] == [64, 64, 64, 58]
    x, y = batches[0]
    assert x.shape == (64, 10) and x.dtype == torch.long and y.dtype == torch.float32
    assert len(module.val_indices) == 50 and len(module.train_indices) == 250
    assert not set(module.val_indices.tolist()) & set(module.train_indices.tolist())
    val_x, val_y = (torch.cat(parts) for parts in zip(*module.val_dataloader(), strict=True))
    assert torch.equal(val_x, tokens[module.val_indices])
    assert torch.equal(val_y, targets[module.val_indices].float())
    # every training row once per epoch, none of the validation rows
    seen = torch.cat([b[1] for b in batches])
    assert torch.equal(seen.sort().values, targets[module.train_indices].float().sort().values)
    assert FitnessDataModule(tokens, targets, val_size=0).val_dataloader() == []


def test_datamodule_is_seeded():
    tokens, targets = _data()

    def first_epochs(seed: int, weighted: bool) -> list[torch.Tensor]:
        loader = FitnessDataModule(tokens, targets, batch_size=32, val_size=20, seed=seed,
                                   weighted_sampling=weighted).train_dataloader()
        return [torch.cat([b[1] for b in loader]) for _ in range(2)]

    for weighted in (False, True):
        first, second = first_epochs(5, weighted), first_epochs(5, weighted)
        assert all(torch.equal(a, b) for a, b in zip(first, second, strict=True))
        assert not torch.equal(first[0], first[1])  # epochs differ
        assert not torch.equal(first[0], first_epochs(6, weighted)[0])


def test_weighted_sampler_favours_low_fitness():
    # half the rows at y = 0, half at y = 9: weights 1 and 1/10, so ~10/11 of draws are low
    tokens = torch.randint(20, (2000, 8), generator=torch.Generator().manual_seed(0))
    targets = torch.cat([torch.zeros(1000), torch.full((1000,), 9.0)])
    module = FitnessDataModule(tokens, targets, batch_size=500, weighted_sampling=True, seed=0)
    drawn = torch.cat([b[1] for _ in range(5) for b in module.train_dataloader()])
    assert len(drawn) == 5 * 2000
    low_share = (drawn == 0).double().mean().item()
    assert abs(low_share - 10 / 11) < 0.02  # 10,000 draws: binomial std ~0.003
    uniform = torch.cat([b[1] for b in FitnessDataModule(tokens, targets, batch_size=500).train_dataloader()])
    assert (uniform == 0).double().mean().item() == 0.5


def test_datamodule_argument_checks():
    tokens, targets = _data(20)
    with pytest.raises(ValueError, match="batch_size"):
        FitnessDataModule(tokens, targets, batch_size=0)
    with pytest.raises(ValueError, match="val_size"):
        FitnessDataModule(tokens, targets, val_size=20)
    with pytest.raises(ValueError, match="val_size"):
        FitnessDataModule(tokens, targets, val_size=-1)
    with pytest.raises(ValueError, match="targets must be a vector with one value per sequence"):
        FitnessDataModule(tokens, targets[:-1])
    with pytest.raises(ValueError, match="tokens must be an integer tensor"):
        FitnessDataModule(tokens.float(), targets)
    with pytest.raises(ValueError, match="finite"):
        FitnessDataModule(tokens, torch.full((20,), float("nan")))
    with pytest.raises(ValueError, match="together"):
        FitnessDataModule(tokens, targets, val_tokens=tokens)
    with pytest.raises(ValueError, match="not both"):
        FitnessDataModule(tokens, targets, val_size=2, val_tokens=tokens[:3], val_targets=targets[:3])
    with pytest.raises(ValueError, match="training length"):
        FitnessDataModule(tokens, targets, val_tokens=tokens[:3, :5], val_targets=targets[:3])


def test_datamodule_explicit_validation_set():
    tokens, targets = _data(100)
    module = FitnessDataModule(tokens[:80], targets[:80], batch_size=16, val_tokens=tokens[80:],
                               val_targets=targets[80:].double())
    assert len(module.train_set) == 80
    val_x, val_y = (torch.cat(parts) for parts in zip(*module.val_dataloader(), strict=True))
    assert torch.equal(val_x, tokens[80:]) and val_y.dtype == torch.float32


def test_aav_task_feeds_the_datamodule(aav_tasks):
    task = aav_tasks["aav_hard"]
    scores = torch.from_numpy(task.train.scores)
    module = FitnessDataModule(task.train_tokens, scores, batch_size=1024, val_size=200, seed=420)
    x, y = next(iter(module.train_dataloader()))
    assert x.shape == (1024, 28) and y.shape == (1024,)
    assert torch.equal(encode(task.train.sequences[:3]), task.train_tokens[:3])
