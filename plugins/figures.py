"""Logger-agnostic figure and table logging: MLflow artifacts when an MLFlowLogger is attached, files in
the run's output directory otherwise. Call on global rank zero only (no collectives inside)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

log = logging.getLogger(__name__)


def pyplot():
    """`matplotlib.pyplot` on the non-interactive Agg backend, for figures drawn during training (no
    display on a cluster node, no GUI thread under DDP). A backend the user chose before is kept."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def log_figure(trainer, figure, artifact_path: str) -> list[str]:
    """Log a matplotlib figure under `artifact_path` (e.g. "figures/samples/step_000250.png").

    Returns where it went: "mlflow:<run_id>/<path>" and/or a local file path. The figure is closed.
    """
    import matplotlib.pyplot as plt
    from lightning.pytorch.loggers import MLFlowLogger

    destinations = []
    try:
        figure.tight_layout()
        for logger in trainer.loggers:
            if isinstance(logger, MLFlowLogger) and logger.run_id is not None:
                logger.experiment.log_figure(logger.run_id, figure, artifact_path)
                destinations.append(f"mlflow:{logger.run_id}/{artifact_path}")
        if not destinations:
            path = Path(trainer.default_root_dir) / artifact_path
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


def log_table(trainer, records: list[dict], artifact_path: str) -> str:
    """The records as JSON: an MLflow artifact if an MLFlowLogger is attached, else a file."""
    from lightning.pytorch.loggers import MLFlowLogger

    for logger in trainer.loggers:
        if isinstance(logger, MLFlowLogger) and logger.run_id is not None:
            logger.experiment.log_dict(logger.run_id, records, artifact_path)
            return f"mlflow:{logger.run_id}/{artifact_path}"
    path = Path(trainer.default_root_dir) / artifact_path
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(records, indent=1))
    return str(path)


def log_file(trainer, path, artifact_dir: str) -> str:
    """A file written by the caller (e.g. a GIF) as an MLflow artifact under `artifact_dir` if an
    MLFlowLogger is attached, else copied to <run dir>/<artifact_dir>/."""
    import shutil

    from lightning.pytorch.loggers import MLFlowLogger

    path = Path(path)
    for logger in trainer.loggers:
        if isinstance(logger, MLFlowLogger) and logger.run_id is not None:
            logger.experiment.log_artifact(logger.run_id, str(path), artifact_dir)
            return f"mlflow:{logger.run_id}/{artifact_dir}/{path.name}"
    dest = Path(trainer.default_root_dir) / artifact_dir / path.name
    dest.parent.mkdir(parents=True, exist_ok=True)
    if dest.resolve() != path.resolve():
        shutil.copyfile(path, dest)
    return str(dest)
