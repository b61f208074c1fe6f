"""The records a paper's `reproduce(settings)` returns: one `Row` per claim, and a `PaperResult`
holding the rows with the raw numbers behind them (written to results.json as they are)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class Row:
    """One claim of a paper against our measurement.

    paper: the registry name; claim: what is claimed, in a sentence; paper_value: the paper's (or the
    specification's) number or statement; ours: what we measured, with the per-seed values; holds:
    whether ours meets the claim at the stated bar; seeds: the seeds (or graphs / clips) behind it, as
    text; wall_s: seconds of the runs behind this row (rows sharing runs share the time); figures:
    PNG paths relative to the report's folder."""

    paper: str
    claim: str
    paper_value: str
    ours: str
    holds: bool
    seeds: str
    wall_s: float
    figures: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class PaperResult:
    """What a paper's `reproduce` returns: its rows and the raw numbers (JSON-serialisable: plain
    numbers, strings, lists and dicts)."""

    rows: list[Row]
    raw: dict[str, Any] = field(default_factory=dict)


@dataclass
class Settings:
    """How a paper is reproduced. quick: the seconds-scale smoke version (tiny runs, the numbers mean
    nothing); root_dir: the project root (mlflow.db, mlartifacts/ and logs/ live there unless
    MLFLOW_TRACKING_URI is set); figures_dir: where PNG figures go (out/figures); tag: the id of this
    report, set as the MLflow tag `neurobolts.reproduce` on every run."""

    quick: bool
    root_dir: Path
    figures_dir: Path
    tag: str

    def figure_path(self, name: str) -> Path:
        self.figures_dir.mkdir(parents=True, exist_ok=True)
        return self.figures_dir / name

    def relative_figure(self, path: Path) -> str:
        """A figure's path as the report links it (relative to the report's folder)."""
        return f"{self.figures_dir.name}/{Path(path).name}"
