"""Writing the reproduction report: `REPORT.md` (one table of every claim, the rows that do not hold,
the figures), `results.json` (rows and raw numbers per paper) and the README's short summary between
`<!-- reproduction:start -->` and `<!-- reproduction:end -->` (per paper the claims that hold, linked
to its documentation page). The documentation site renders its tables from results.json with the same
functions (`docs/hooks.py`: `table`, `summary_line`, `figures_markdown`, `report_markdown`).

A run that reproduces some papers keeps the other papers' entries of an earlier results.json in the
same folder (each entry carries its own date and machine), so adding or rerunning one paper updates
its rows and leaves the rest of the report as it was."""

from __future__ import annotations

import json
import math
import os
import platform
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

from neurobolts.reproduce.results import Row

START_MARKER = "<!-- reproduction:start -->"
END_MARKER = "<!-- reproduction:end -->"
COLUMNS = ("Paper", "Claim", "Paper's number or statement", "Ours", "Holds", "Seeds", "Wall time")
HOLDS, DOES_NOT_HOLD = "holds", "does not hold"
# The documentation page of each paper, docs/experiments/<page>.md, where it is not named after the
# paper's registry name (tests/test_reproduce.py checks that every registered paper has its page).
DOCS_PAGES = {"inductive_bias": "inductive_bias_complexity"}


def docs_page(name: str) -> str:
    """The file name of paper `name`'s documentation page in docs/experiments/ (e.g. "dsa.md")."""
    return f"{DOCS_PAGES.get(name, name)}.md"


def now() -> str:
    return datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")


def machine() -> str:
    """One line: OS, CPU model, the CPU cores this process may use, Python and torch versions."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    try:
        import torch

        torch_version = f"torch {torch.__version__}"
    except ImportError:  # pragma: no cover - torch is a dependency
        torch_version = "no torch"
    return f"{platform.system()} {platform.machine()}, {cpu}, {cores} CPU cores, Python {platform.python_version()}, {torch_version}"


def format_seconds(seconds: float) -> str:
    if seconds < 1:
        return f"{seconds:.2f} s"
    if seconds < 90:
        return f"{seconds:.1f} s"
    if seconds < 5400:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.2f} h"


def _cell(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def table(entries: dict[str, dict], link_figures: str | None = None) -> str:
    """The markdown table of every row of `entries` (results.json's "papers"). A quick entry is marked
    "(quick)" after the paper's name. `link_figures`: prefix for figure links in the Claim cell (None:
    no links)."""
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for name, entry in entries.items():
        for row in entry["rows"]:
            paper = f"{name} (quick)" if entry.get("quick") else name
            claim = row["claim"]
            if link_figures is not None and row.get("figures"):
                claim += " " + " ".join(f"[fig]({link_figures}{f})" for f in row["figures"])
            cells = (paper, claim, row["paper_value"], row["ours"], HOLDS if row["holds"] else DOES_NOT_HOLD,
                     row["seeds"], format_seconds(row["wall_s"]))
            lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    return "\n".join(lines)


def failing_rows(entries: dict[str, dict]) -> list[str]:
    return [f"{name}: {row['claim']} (ours: {row['ours']}; paper: {row['paper_value']})"
            for name, entry in entries.items() for row in entry["rows"] if not row["holds"]]


def _run_lines(entries: dict[str, dict]) -> list[str]:
    return [f"- {name}: {entry['date']}, {format_seconds(entry['wall_s'])}{' (quick)' if entry.get('quick') else ''}, "
            f"`{entry['command']}`, on {entry['machine']}"
            + (f" (load average {entry['load_1min']:.1f} at the end)" if entry.get("load_1min") is not None else "")
            for name, entry in entries.items()]


def figures_markdown(entries: dict[str, dict], prefix: str = "") -> list[str]:
    """Markdown lines showing every figure of `entries`, each under its paper's name and path;
    `prefix` goes before each path (the figures' folder as seen from the page that shows them)."""
    lines = []
    for name, entry in entries.items():
        for path in entry.get("figures", []):
            lines += [f"**{name}**: `{path}`", "", f"![{name}: {Path(path).stem}]({prefix}{path})", ""]
    return lines


def summary_line(entries: dict[str, dict]) -> str:
    """When and where `entries` were measured: "Latest report: <date or first to last date> on
    <machine(s)>; total wall time <time>." """
    dates = sorted({e["date"] for e in entries.values()})
    machines = sorted({e["machine"] for e in entries.values()})
    when = dates[0] if len(dates) == 1 else f"{dates[0]} to {dates[-1]}"
    return (f"Latest report: {when} on {'; '.join(machines)}; total wall time "
            f"{format_seconds(sum(e['wall_s'] for e in entries.values()))}.")


def report_markdown(entries: dict[str, dict], prefix: str = "", title: bool = True) -> str:
    """The full report: the table of every row, the rows that do not hold, the figures, the runs.
    `prefix`: the report's folder as seen from where the text is shown ("" in REPORT.md itself), put
    before every link to a figure or to results.json; `title`: begin with the heading and the paragraph
    saying what the report is (False where a page says so itself, as the documentation site does)."""
    failing = failing_rows(entries)
    quick = any(e.get("quick") for e in entries.values())
    parts = [
        "# Reproduction report",
        "",
        "Written by `python -m neurobolts.reproduce` (`make reproduce`). Each row is a headline claim of a "
        "paper, measured at CPU scale by the same functions as the slow tests (`make test-slow`); every "
        "experiment is also an MLflow run tagged `neurobolts.reproduce` (`mlflow ui`). Raw numbers: "
        f"[results.json]({prefix}results.json).",
        "",
    ] if title else []
    if quick:
        parts += ["**Quick (smoke) entries are marked (quick): tiny runs that check the machinery; their "
                  "numbers are not a reproduction.**", ""]
    parts += [f"Total wall time: {format_seconds(sum(e['wall_s'] for e in entries.values()))} "
              f"({len(entries)} paper(s), {sum(len(e['rows']) for e in entries.values())} rows).", "",
              table(entries, link_figures=prefix), "", "## Rows that do not hold", ""]
    parts += [f"- {line}" for line in failing] if failing else ["Every row holds."]
    parts += ["", "## Figures", "", *figures_markdown(entries, prefix)]
    parts += ["## Runs", "", *_run_lines(entries), ""]
    return "\n".join(parts)


def readme_section(entries: dict[str, dict], report_link: str, docs_link: str = "docs/experiments") -> str:
    """The README's section body, kept short: date and machine, one line per paper (how many of its
    claims hold, linked to its documentation page `docs_link/<page>`), the total, and a link to the
    full report (`report_link`: every row, the rows that do not hold, the figures)."""
    lines = [summary_line(entries), ""]
    for name, entry in entries.items():
        holding = sum(bool(row["holds"]) for row in entry["rows"])
        lines.append(f"- [{name}]({docs_link}/{docs_page(name)}){' (quick)' if entry.get('quick') else ''}: "
                     f"{holding} of {len(entry['rows'])} claims hold")
    total = sum(len(e["rows"]) for e in entries.values())
    failing = failing_rows(entries)
    lines += ["", f"In all {total - len(failing)} of {total} claims hold. Every claim with the paper's number "
                  f"and ours, the rows that do not hold and the figures: [{report_link}]({report_link})."]
    return "\n".join(lines)


def replace_section(text: str, body: str) -> str:
    """`text` with everything between the reproduction markers replaced by `body` (the markers stay;
    the rest of the text is untouched). Fails, naming the markers, unless each occurs exactly once and
    in order."""
    starts, ends = text.count(START_MARKER), text.count(END_MARKER)
    if starts != 1 or ends != 1 or text.index(START_MARKER) > text.index(END_MARKER):
        raise ValueError(f"the README must hold {START_MARKER} and then {END_MARKER}, once each "
                         f"(found {starts} start and {ends} end markers)")
    head, rest = text.split(START_MARKER)
    _, tail = rest.split(END_MARKER)
    return f"{head}{START_MARKER}\n{body.strip()}\n{END_MARKER}{tail}"


def update_readme(readme: Path, entries: dict[str, dict], report: Path) -> None:
    link = os.path.relpath(report, readme.resolve().parent)
    readme.write_text(replace_section(readme.read_text(), readme_section(entries, Path(link).as_posix())))


def merged_entries(out: Path, new: dict[str, dict], order: list[str]) -> dict[str, dict]:
    """The papers of an earlier `out/results.json` updated with `new`, in registry order (`order`),
    then any other paper of the earlier file."""
    previous: dict[str, dict] = {}
    path = out / "results.json"
    if path.is_file():
        try:
            previous = json.loads(path.read_text()).get("papers", {})
        except (json.JSONDecodeError, AttributeError):
            print(f"warning: {path} is not a results file; it is replaced", file=sys.stderr)
    merged = {**previous, **new}
    return {name: merged[name] for name in [*order, *sorted(set(merged) - set(order))] if name in merged}


def write(out: Path, new: dict[str, dict], order: list[str], readme: Path | None = None) -> dict[str, dict]:
    """Write out/results.json and out/REPORT.md from `new` (entries of the papers just run) merged into
    the earlier results, and the README section when `readme` is given. Returns the merged entries."""
    out.mkdir(parents=True, exist_ok=True)
    entries = merged_entries(out, new, order)
    (out / "results.json").write_text(json.dumps(_finite({"updated": now(), "papers": entries}), indent=1,
                                                 default=_jsonable, allow_nan=False) + "\n")
    (out / "REPORT.md").write_text(report_markdown(entries))
    if readme is not None:
        update_readme(readme, entries, out / "REPORT.md")
    return entries


def entry(rows: list[Row], raw: dict, figures: list[str], wall_s: float, quick: bool, command: str,
          error: str | None = None) -> dict[str, Any]:
    """A paper's results.json entry."""
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None  # other work slows the wall times
    return {"date": now(), "machine": machine(), "load_1min": load, "command": command, "quick": quick, "wall_s": wall_s,
            "rows": [r.to_dict() for r in rows], "figures": figures, "error": error, "raw": raw}


def _finite(value: Any) -> Any:
    """NaN and infinities as null (strict JSON), through dicts, lists and tuples; dict keys as strings."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    if hasattr(value, "tolist"):  # numpy / torch
        return _finite(value.tolist())
    return value


def _jsonable(value: Any) -> Any:
    """numpy / torch scalars and arrays, paths and sets as JSON values."""
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, (set, tuple)):
        return list(value)
    return str(value)
