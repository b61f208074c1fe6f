"""Logger-agnostic figure, table and file logging. Call on global rank zero only (no collectives inside).

Where the outputs go (`output_dir` picks the folder):

1. an MLflow run: with an `MLFlowLogger` attached (and its run started), figures, tables and files
   are MLflow artifacts of the run under the given artifact path, and nothing is written elsewhere;
2. else the log folder of the first attached logger that has one, beside the logger's own files:
   `CSVLogger` / `TensorBoardLogger` -> `<save_dir>/<name>/version_<n>/` (e.g. the pipeline's
   `logger=csv` -> `<run dir>/csv/version_0/figures/...`);
3. else (no logger, or loggers without a folder such as the muted loggers of `fast_dev_run`) the
   run's own folder: `trainer.default_root_dir` when it is not the current directory (the pipeline
   sets it to the run directory, `logs/<task_name>/runs/<date>_<time>/`); a Trainer left at the
   current directory gets a new numbered folder `lightning_logs/version_<n>/` there (the next free n,
   as Lightning's loggers number theirs), so a second run never overwrites the first.

The folder is chosen at the first output of a run and logged once.
"""

from __future__ import annotations

import json
import logging
import os
import weakref
from pathlib import Path

log = logging.getLogger(__name__)

# the folder chosen for each trainer (weak keys: a finished run's trainer is not kept alive)
_OUTPUT_DIRS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _mlflow_loggers(trainer) -> list:
    from lightning.pytorch.loggers import MLFlowLogger

    return [lg for lg in trainer.loggers if isinstance(lg, MLFlowLogger) and lg.run_id is not None]


def _next_version_dir(root: Path) -> Path:
    """Create and return `root/version_<n>` for the first n after the versions already there."""
    root.mkdir(parents=True, exist_ok=True)
    taken = [int(p.name[len("version_"):]) for p in root.glob("version_*") if p.name[len("version_"):].isdigit()]
    version = max(taken, default=-1) + 1
    while True:
        folder = root / f"version_{version}"
        try:
            folder.mkdir()
            return folder
        except FileExistsError:  # another run took it meanwhile
            version += 1


def output_dir(trainer) -> Path:
    """The folder for this run's figures, tables and files when no MLflow run takes them (rules 2 and 3
    of the module docstring). Chosen once per trainer, logged once."""
    try:
        cached = _OUTPUT_DIRS.get(trainer)
    except TypeError:  # a stand-in trainer that cannot be weakly referenced: chosen on every call
        cached = None
    if cached is not None:
        return cached
    folder = None
    for logger in trainer.loggers:
        log_dir = getattr(logger, "log_dir", None)
        if isinstance(log_dir, (str, os.PathLike)):
            folder, reason = Path(log_dir), f"the log folder of {type(logger).__name__}"
            break
    if folder is None:
        root = Path(trainer.default_root_dir)
        if root.resolve() != Path.cwd().resolve():
            folder, reason = root, "trainer.default_root_dir"
        else:
            folder = _next_version_dir(root / "lightning_logs")
            reason = "a new folder of this run (no logger with a folder, default_root_dir is the current directory)"
    try:
        _OUTPUT_DIRS[trainer] = folder
    except TypeError:
        pass
    log.info("Figures, tables and files of this run go to %s (%s)", folder, reason)
    return folder


def pyplot():
    """`matplotlib.pyplot` on the non-interactive Agg backend, for figures drawn during training (no
    display on a cluster node, no GUI thread under DDP). A backend the user chose before is kept."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def log_figure(trainer, figure, artifact_path: str) -> list[str]:
    """Log a matplotlib figure under `artifact_path` (e.g. "figures/samples/step_000250.png"), where the
    module docstring says.

    Returns where it went: "mlflow:<run_id>/<path>" per MLflow run, or the local file path. The figure
    is closed.
    """
    import matplotlib.pyplot as plt

    destinations = []
    try:
        figure.tight_layout()
        for logger in _mlflow_loggers(trainer):
            logger.experiment.log_figure(logger.run_id, figure, artifact_path)
            destinations.append(f"mlflow:{logger.run_id}/{artifact_path}")
        if not destinations:
            path = output_dir(trainer) / artifact_path
            path.parent.mkdir(parents=True, exist_ok=True)
            figure.savefig(path, dpi=100, bbox_inches="tight")
            destinations.append(str(path))
    finally:
        plt.close(figure)
    return destinations


def image_mosaic(images, columns: int, gap: int = 0):
    """Tile (n, H, W) arrays into one array with `gap` NaN pixels between cells (blank cells NaN).

    Cell k's top-left corner is at (row * (H + gap), col * (W + gap)) with row, col = divmod(k, columns).
    """
    import numpy as np

    images = np.asarray(images, dtype=np.float32)
    n, h, w = images.shape
    rows = -(-n // columns)
    canvas = np.full((rows * (h + gap) - gap, columns * (w + gap) - gap), np.nan, dtype=np.float32)
    for k in range(n):
        r, c = divmod(k, columns)
        canvas[r * (h + gap) : r * (h + gap) + h, c * (w + gap) : c * (w + gap) + w] = images[k]
    return canvas


def log_table(trainer, records: list[dict] | dict, artifact_path: str) -> str:
    """The records as JSON under `artifact_path`: an MLflow artifact if an MLflow run is attached, else a
    file in `output_dir(trainer)`. Returns "mlflow:<run_id>/<path>" or the file path."""
    for logger in _mlflow_loggers(trainer):
        logger.experiment.log_dict(logger.run_id, records, artifact_path)
        return f"mlflow:{logger.run_id}/{artifact_path}"
    path = output_dir(trainer) / artifact_path
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(records, indent=1))
    return str(path)


def log_text(trainer, text: str, artifact_path: str) -> str:
    """`text` (e.g. a CSV table) under `artifact_path`: an MLflow artifact if an MLflow run is attached,
    else a file in `output_dir(trainer)`. Returns "mlflow:<run_id>/<path>" or the file path."""
    for logger in _mlflow_loggers(trainer):
        logger.experiment.log_text(logger.run_id, text, artifact_path)
        return f"mlflow:{logger.run_id}/{artifact_path}"
    path = output_dir(trainer) / artifact_path
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return str(path)


def log_file(trainer, path, artifact_dir: str) -> str:
    """A file written by the caller (e.g. a GIF) as an MLflow artifact under `artifact_dir` if an MLflow
    run is attached, else copied to `output_dir(trainer)/<artifact_dir>/`. The caller's file is left
    where it is (write it to a temporary folder)."""
    import shutil

    path = Path(path)
    for logger in _mlflow_loggers(trainer):
        logger.experiment.log_artifact(logger.run_id, str(path), artifact_dir)
        return f"mlflow:{logger.run_id}/{artifact_dir}/{path.name}"
    dest = output_dir(trainer) / artifact_dir / path.name
    dest.parent.mkdir(parents=True, exist_ok=True)
    if dest.resolve() != path.resolve():
        shutil.copyfile(path, dest)
    return str(dest)
