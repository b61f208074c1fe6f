"""The GGS fitness data and tasks (docs/papers/ggs.md sections 2.1-2.3, 3 and 7 items 1-2).

- `read_fitness_csv`: a `sequence,score` CSV (or the v1 `sequence,target,...` format, with `target`
  read as the score) into a `FitnessTable`, with errors that name the file, the row and the column.
- `derive_split`: the medium / hard training sets (section 2.2). X^99 = the rows whose score is at
  or above the 0.99 quantile of all scores; keep the rows whose score lies in [q(lo), q(hi)]
  (quantiles with linear interpolation, as pandas' `quantile`; both ends inclusive, as pandas'
  `between`) and whose minimum distance to any X^99 sequence is >= the gap. Repeat measurements
  (duplicate sequences) are all kept, each as its own row, in file order. On AAV/ground_truth.csv
  this gives exactly the paper's |D| with the Levenshtein distance: medium 2139, hard 3448 (the
  Hamming distance gives 2145 / 3453, VLGPO's split files).
- `negative_examples`: the oracle's "use_neg_data" augmentation (section 2.3).
- `load_task`: the four GGS tasks (`aav_medium`, `aav_hard`, `gfp_medium`, `gfp_hard`) and the
  Ehrlich task (`ehrlich`, section 3) as one `GGSTask`: the training set, its tokens, the data for the
  oracle, a holdout set of measured sequences outside the training set, and the normalisation range.

The GFP ground truth (`data/GFP/ground_truth.csv` of kirjner/GGS) is not shipped (section 3): the GFP
tasks take its path from the user (`data.gfp_ground_truth`) and refuse to run without it, since
their oracle is trained on it.
"""

from __future__ import annotations

import csv
import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from neurobolts.datamodules.ggs.sequences import ALPHABET, encode, hamming_distances, min_levenshtein
from neurobolts.plugins.checks import check_choice, check_int, check_number, check_positive_int

DATA_ROOT_ENV = "NEUROBOLTS_GGS_DATA"
AAV_GROUND_TRUTH = "AAV/ground_truth.csv"


@dataclass(frozen=True)
class FitnessTable:
    """Measured sequences and their scores (float64), in file order (duplicates kept)."""

    sequences: list[str]
    scores: np.ndarray

    def __len__(self) -> int:
        return len(self.sequences)


@dataclass(frozen=True)
class TaskSpec:
    """One GGS task (section 2.2): the dataset, the score percentile range and the mutational gap of
    its training set, the training file (relative to the data root; None = derived from the ground
    truth) and the oracle normalisation constants (min, max of the full ground truth, section 2.6)."""

    name: str
    dataset: str
    percentile: tuple[float, float]
    gap: int
    train_file: str | None
    fitness_range: tuple[float, float]


AAV_FITNESS_RANGE = (0.0, 19.53646)
GFP_FITNESS_RANGE = (1.28342, 4.12311)

TASKS: dict[str, TaskSpec] = {
    "aav_medium": TaskSpec("aav_medium", "AAV", (0.2, 0.4), 6, None, AAV_FITNESS_RANGE),
    "aav_hard": TaskSpec("aav_hard", "AAV", (0.0, 0.3), 7, None, AAV_FITNESS_RANGE),
    "gfp_medium": TaskSpec("gfp_medium", "GFP", (0.2, 0.4), 6,
                           "GFP/mutations_6/percentile_0.2_0.4/base_seqs.csv", GFP_FITNESS_RANGE),
    "gfp_hard": TaskSpec("gfp_hard", "GFP", (0.0, 0.3), 7, "VLGPO/data/gfp_hard.csv", GFP_FITNESS_RANGE),
}
TASK_NAMES = (*TASKS, "ehrlich")

# Targets of the random negative examples of the oracle (section 2.3: N(0, 0.1) AAV, N(1, 0.1) GFP).
NEGATIVE_MEAN = {"AAV": 0.0, "GFP": 1.0}


def read_fitness_csv(path: str | os.PathLike, *, alphabet: str = ALPHABET,
                     length: int | None = None) -> FitnessTable:
    """The `sequence,score` CSV at `path` (v1 files `sequence,target,...`: `target` is the score).

    Raises FileNotFoundError for a missing file, ValueError naming the file for missing columns (with
    the columns found), a non-numeric, NaN or infinite score (with the row), a letter outside
    `alphabet` or a sequence whose length differs from `length` (default: the first row's)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"fitness CSV {str(path)!r} does not exist (expected a file with columns "
                                f"sequence,score)")
    with path.open(newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if header is None:
            raise ValueError(f"{path}: the file is empty; expected a header with the columns sequence,score")
        columns = [name.strip() for name in header]
        score_column = "score" if "score" in columns else "target" if "target" in columns else None
        if "sequence" not in columns or score_column is None:
            raise ValueError(f"{path}: expected the columns ['sequence', 'score'] (or the v1 format "
                             f"['sequence', 'target', ...]), found {columns}")
        sequence_at, score_at = columns.index("sequence"), columns.index(score_column)
        sequences: list[str] = []
        scores: list[float] = []
        for row, record in enumerate(reader):
            if not record:
                continue
            where = f"{path}: row {row} (line {reader.line_num})"
            if len(record) <= max(sequence_at, score_at):
                raise ValueError(f"{where} has {len(record)} fields, expected {len(columns)} ({columns})")
            text = record[score_at].strip()
            try:
                value = float(text)
            except ValueError:
                raise ValueError(f"{where}: {score_column} must be a number, got {text!r}") from None
            if not math.isfinite(value):
                raise ValueError(f"{where}: {score_column} must be a finite number, got {text!r}")
            sequences.append(record[sequence_at].strip())
            scores.append(value)
    if not sequences:
        raise ValueError(f"{path}: no data rows after the header {columns}")
    encode(sequences, length, alphabet=alphabet, field=f"{path}: sequence")  # letters and lengths
    return FitnessTable(sequences, np.asarray(scores, dtype=np.float64))


def derive_split(table: FitnessTable, percentile: tuple[float, float], gap: int,
                 metric: str = "levenshtein") -> np.ndarray:
    """Indices (original order) of the rows of `table` whose score lies in the quantile range
    `percentile` (inclusive) and whose minimum `metric` distance to every sequence scoring at or
    above the 0.99 quantile is >= `gap` (section 2.2; see the module docstring)."""
    check_choice("metric", metric, ("levenshtein", "hamming"))
    check_int("gap", gap, 0)
    if len(percentile) != 2:
        raise ValueError(f"percentile must be a pair (low, high), got {percentile!r}")
    low, high = (check_number(f"percentile[{i}]", p, 0.0, 1.0) for i, p in enumerate(percentile))
    if low > high:
        raise ValueError(f"percentile must have low <= high, got {percentile!r}")
    scores = table.scores
    # numpy's default "linear" quantile is pandas' default interpolation.
    q_low, q_high, q_top = np.quantile(scores, [low, high, 0.99])
    candidates = np.flatnonzero((scores >= q_low) & (scores <= q_high))
    top = list(dict.fromkeys(table.sequences[i] for i in np.flatnonzero(scores >= q_top)))
    if gap == 0 or len(candidates) == 0:
        return candidates
    queries = [table.sequences[i] for i in candidates]
    if metric == "levenshtein":
        distances = min_levenshtein(queries, top, workers=-1)
    else:
        distances = hamming_distances(encode(queries), encode(top, len(queries[0]))).min(dim=1).values.numpy()
    return candidates[distances >= gap]


def negative_examples(n: int, length: int, num_states: int, mean: float, std: float,
                      generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """`n` uniformly random sequences (LongTensor (n, length)) with targets ~ N(mean, std) (float32 (n,)):
    the oracle's negative data (section 2.3 `use_neg_data`)."""
    check_int("n", n, 0)
    check_positive_int("length", length)
    check_positive_int("num_states", num_states)
    check_number("mean", mean)
    check_number("std", std, 0.0)
    tokens = torch.randint(num_states, (n, length), generator=generator)
    targets = mean + std * torch.randn(n, generator=generator)
    return tokens, targets.float()


def _default_roots() -> list[Path]:
    roots = []
    if os.environ.get(DATA_ROOT_ENV):
        roots.append(Path(os.environ[DATA_ROOT_ENV]))
    checkout = Path(__file__).resolve().parents[2]
    roots += [checkout.parent / "shared" / "data" / "ggs", Path.cwd().parent / "shared" / "data" / "ggs"]
    return roots


def resolve_data_root(root: str | os.PathLike | None, *, required: Sequence[str] = (AAV_GROUND_TRUTH,)) -> Path:
    """The GGS data folder: `root` if given, else ${NEUROBOLTS_GGS_DATA}, else
    `<checkout>/../shared/data/ggs`, else `<cwd>/../shared/data/ggs` (the first that exists).
    The folder must hold the files `required` (relative paths); errors name `data.root`."""
    if root is not None:
        path = Path(root).expanduser()
        if not path.is_dir():
            raise FileNotFoundError(f"data.root must be an existing folder holding the GGS data "
                                    f"(e.g. {AAV_GROUND_TRUTH}), got {str(root)!r}, which does not exist")
    else:
        candidates = _default_roots()
        path = next((c for c in candidates if c.is_dir()), None)
        if path is None:
            raise FileNotFoundError(
                f"no GGS data folder found (looked at ${DATA_ROOT_ENV} and {[str(c) for c in candidates]}); "
                f"the AAV file {AAV_GROUND_TRUTH} (columns sequence,score) is needed: pass "
                f"data.root=/path/to/ggs (the folder holding AAV/ground_truth.csv) or set ${DATA_ROOT_ENV}")
    for name in required:
        if not (path / name).is_file():
            raise FileNotFoundError(f"data.root={str(path)!r} lacks the file {name!r} "
                                    f"(see section 3 of docs/papers/ggs.md for the expected layout)")
    return path


@dataclass
class GGSTask:
    """Everything a GGS run needs of one task.

    train: the starting set D; train_tokens: its tokens (n, L). oracle_data: all measured data for
    training the oracle CNN (None for Ehrlich, whose oracle is exact). holdout: measured sequences
    outside D (for the holdout MAE of section 4). exact_oracle: tokens -> true fitness (Ehrlich only).
    negative_mean: the mean target of the oracle's random negative examples (section 2.3)."""

    name: str
    train: FitnessTable
    train_tokens: torch.Tensor
    length: int
    num_states: int
    fitness_range: tuple[float, float]
    oracle_data: FitnessTable | None
    holdout: FitnessTable | None
    exact_oracle: Callable[[torch.Tensor], torch.Tensor] | None
    negative_mean: float


_TABLES: dict[tuple[str, int, int], FitnessTable] = {}
_SPLITS: dict[tuple[str, int, int, str], np.ndarray] = {}


def _cached_table(path: Path, length: int | None = None) -> FitnessTable:
    stat = path.stat()
    key = (str(path.resolve()), stat.st_mtime_ns, stat.st_size)
    if key not in _TABLES:
        _TABLES[key] = read_fitness_csv(path, length=length)
    table = _TABLES[key]
    if length is not None and len(table.sequences[0]) != length:
        raise ValueError(f"{path}: sequences have length {len(table.sequences[0])}, expected {length}")
    return table


def _cached_split(path: Path, table: FitnessTable, spec: TaskSpec) -> np.ndarray:
    stat = path.stat()
    key = (str(path.resolve()), stat.st_mtime_ns, stat.st_size, spec.name)
    if key not in _SPLITS:
        _SPLITS[key] = derive_split(table, spec.percentile, spec.gap)
    return _SPLITS[key]


def _subset(table: FitnessTable, indices: np.ndarray) -> FitnessTable:
    return FitnessTable([table.sequences[i] for i in indices], table.scores[indices].copy())


def _holdout(measured: FitnessTable, train: FitnessTable, size: int, seed: int) -> FitnessTable | None:
    """`size` measured rows (first occurrence of each sequence) whose sequence is not in `train`,
    drawn without replacement with `seed`, in file order; None when `size` is 0."""
    if size == 0:
        return None
    excluded = set(train.sequences)
    first_rows: dict[str, int] = {}
    for row, sequence in enumerate(measured.sequences):
        if sequence not in excluded:
            first_rows.setdefault(sequence, row)
    pool = np.fromiter(first_rows.values(), dtype=np.int64, count=len(first_rows))
    if len(pool) == 0:
        return None
    chosen = np.sort(np.random.default_rng(seed).choice(pool, size=min(size, len(pool)), replace=False))
    return _subset(measured, chosen)


def load_task(name: str, root: str | os.PathLike | None = None, *, gfp_ground_truth: str | os.PathLike | None = None,
              holdout_size: int = 2000, seed: int = 0, **ehrlich_kwargs) -> GGSTask:
    """The GGS task `name` (one of TASK_NAMES).

    AAV: the training set derived from `<root>/AAV/ground_truth.csv` (section 2.2; cached in memory per
    file and task), the oracle data = the full ground truth. GFP: the training set from its file under
    `root`, the oracle data = the user's GFP ground truth `gfp_ground_truth` (required).
    `ehrlich`: `ehrlich.ehrlich_task(seed=seed, holdout_size=holdout_size, **ehrlich_kwargs)`.
    The holdout holds `holdout_size` measured sequences outside the training set, drawn with `seed`."""
    check_choice("name", name, TASK_NAMES)
    check_int("holdout_size", holdout_size, 0)
    check_int("seed", seed)
    if name == "ehrlich":
        from neurobolts.datamodules.ggs.ehrlich import ehrlich_task

        return ehrlich_task(seed=seed, holdout_size=holdout_size, **ehrlich_kwargs)
    if ehrlich_kwargs:
        raise ValueError(f"the options {sorted(ehrlich_kwargs)} apply to the ehrlich task only, not to {name!r}")
    spec = TASKS[name]
    if spec.dataset == "AAV":
        data_root = resolve_data_root(root, required=(AAV_GROUND_TRUTH,))
        path = data_root / AAV_GROUND_TRUTH
        measured = _cached_table(path)
        train = _subset(measured, _cached_split(path, measured, spec))
    else:
        if gfp_ground_truth is None or str(gfp_ground_truth) == "":
            raise ValueError(
                "the GFP tasks need the GFP ground truth for their oracle (docs/papers/ggs.md section 3: "
                "data/GFP/ground_truth.csv of kirjner/GGS, columns sequence,score, 237-aa avGFP variants, "
                "~56k rows; not shipped with the project): pass data.gfp_ground_truth=/path/ground_truth.csv")
        data_root = resolve_data_root(root, required=(spec.train_file,))
        train = _cached_table(data_root / spec.train_file)
        ground_truth = Path(gfp_ground_truth).expanduser()
        if not ground_truth.is_file():
            raise FileNotFoundError(f"data.gfp_ground_truth must be the GFP ground-truth CSV (columns "
                                    f"sequence,score), got {str(gfp_ground_truth)!r}, which does not exist")
        measured = _cached_table(ground_truth, length=len(train.sequences[0]))
    tokens = encode(train.sequences)
    return GGSTask(name=name, train=train, train_tokens=tokens, length=tokens.shape[1], num_states=len(ALPHABET),
                   fitness_range=spec.fitness_range, oracle_data=measured,
                   holdout=_holdout(measured, train, holdout_size, seed), exact_oracle=None,
                   negative_mean=NEGATIVE_MEAN[spec.dataset])
