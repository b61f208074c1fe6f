"""The reproduction report (`make reproduce`, `python -m neurobolts.reproduce`): a seconds-scale
`--quick` run of one paper end to end, the table and results it writes, a claim that does not hold
written as such, a bad paper name, and the README section between the reproduction markers."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from conftest import PROJECT_ROOT

from neurobolts.reproduce import report
from neurobolts.reproduce.__main__ import main
from neurobolts.reproduce.registry import PAPERS, reproducer
from neurobolts.reproduce.results import PaperResult, Row

HEADER = "| Paper | Claim | Paper's number or statement | Ours | Holds | Seeds | Wall time |"


def table_rows(markdown: str) -> list[list[str]]:
    """The cells of every body row of the first markdown table in `markdown`."""
    lines = markdown[markdown.index(HEADER):].splitlines()[2:]
    rows = []
    for line in lines:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip("|").split(" | ")])
    return rows


def test_quick_run_of_one_paper_writes_the_report(tmp_path):
    """The CLI as a user runs it (a fresh interpreter), quick, one cheap paper."""
    out = tmp_path / "report"
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    proc = subprocess.run([sys.executable, "-m", "neurobolts.reproduce", "--quick", "--papers", "expander_hopfield",
                           "--out", str(out), "--root", str(tmp_path)], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    text = (out / "REPORT.md").read_text()
    assert HEADER in text and "(quick)" in text
    rows = table_rows(text)
    assert len(rows) == 6 and all(len(r) == 7 and r[0] == "expander_hopfield (quick)" for r in rows), rows
    assert {r[4] for r in rows} <= {"holds", "does not hold"}
    assert all(r[6].endswith((" s", " min", " h")) for r in rows)
    results = json.loads((out / "results.json").read_text())
    entry = results["papers"]["expander_hopfield"]
    assert entry["quick"] is True and entry["error"] is None and entry["wall_s"] > 0
    assert entry["command"].startswith("python -m neurobolts.reproduce --quick --papers expander_hopfield")
    assert [r["claim"] for r in entry["rows"]] == [r[1].split(" [fig]")[0] for r in rows]
    assert set(entry["rows"][0]) == {"paper", "claim", "paper_value", "ours", "holds", "seeds", "wall_s", "figures"}
    assert {"stored_states", "several_graphs", "experiment"} <= set(entry["raw"])
    # the key figure exists and the report links it
    assert entry["figures"] == ["figures/expander_hopfield_recall_curve.png"]
    assert (out / entry["figures"][0]).stat().st_size > 1000 and f"]({entry['figures'][0]})" in text
    # the experiment went to MLflow, under its experiment name, tagged with the report
    from mlflow.tracking import MlflowClient

    client = MlflowClient(f"sqlite:///{tmp_path}/mlflow.db")
    run = client.get_run(entry["raw"]["experiment"]["run_id"])
    assert client.get_experiment(run.info.experiment_id).name == "expander_hopfield"
    assert run.data.tags["neurobolts.reproduce"].endswith("-quick") and "test/exact_recall" in run.data.metrics
    assert client.get_experiment_by_name("reproduce_expander_hopfield") is not None


def _fake(rows_holding: list[bool]):
    def reproduce(settings):
        rows = [Row("fake", f"claim {i}", "paper says 1", f"we got {i}", holds, "0", 0.5) for i, holds in
                enumerate(rows_holding)]
        return PaperResult(rows, {"numbers": [1.0, float("nan")]})

    return reproduce


def test_a_claim_that_does_not_hold_is_written_as_such(tmp_path, monkeypatch):
    monkeypatch.setitem(PAPERS, "fake", _fake([True, False]))
    assert main(["--papers", "fake", "--out", str(tmp_path), "--no-readme"]) == 0  # a result, not an error
    text = (tmp_path / "REPORT.md").read_text()
    verdicts = {r[1]: r[4] for r in table_rows(text)}
    assert verdicts == {"claim 0": "holds", "claim 1": "does not hold"}
    failing = text[text.index("## Rows that do not hold"):text.index("## Figures")]
    assert "claim 1" in failing and "claim 0" not in failing
    entry = json.loads((tmp_path / "results.json").read_text())["papers"]["fake"]
    assert [r["holds"] for r in entry["rows"]] == [True, False]
    assert entry["raw"]["numbers"] == [1.0, None]  # NaN is written as null (strict JSON)


def test_a_failing_run_is_a_row_and_exit_status_1_and_other_papers_are_kept(tmp_path, monkeypatch):
    def crash(settings):
        raise RuntimeError("boom")

    monkeypatch.setitem(PAPERS, "fake", _fake([True]))
    monkeypatch.setitem(PAPERS, "crash", crash)
    assert main(["--papers", "fake", "--out", str(tmp_path), "--no-readme"]) == 0
    assert main(["--papers", "crash", "--out", str(tmp_path), "--no-readme"]) == 1
    rows = table_rows((tmp_path / "REPORT.md").read_text())
    # the earlier paper's entry stays (each run updates its own papers), in registry order
    assert [r[0] for r in rows] == ["fake", "crash"], rows
    assert rows[1][3] == "failed: RuntimeError: boom" and rows[1][4] == "does not hold"


def test_bad_paper_name_names_the_choices(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--papers", "diffusion_bumps", "nope", "--no-readme"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "unknown paper(s) 'nope' for --papers; choose from: " + ", ".join(PAPERS) in err
    with pytest.raises(KeyError, match="unknown paper 'nope'; choose from: diffusion_bumps, dsa"):
        reproducer("nope")


README = """# Project

Intro.

## Reproduction report

`make reproduce`

<!-- reproduction:start -->
old table
<!-- reproduction:end -->

## Later section

Text after.
"""


def test_readme_section_replaces_exactly_the_marked_text(tmp_path, monkeypatch):
    updated = report.replace_section(README, "new table")
    head, tail = README.split("<!-- reproduction:start -->")[0], README.split("<!-- reproduction:end -->")[1]
    assert updated == f"{head}<!-- reproduction:start -->\nnew table\n<!-- reproduction:end -->{tail}"
    assert report.replace_section(updated, "third") == report.replace_section(README, "third")  # idempotent shape
    for broken in (README.replace("<!-- reproduction:end -->", ""), README + "<!-- reproduction:start -->\n",
                   "<!-- reproduction:end -->\n<!-- reproduction:start -->\n"):
        with pytest.raises(ValueError, match="must hold <!-- reproduction:start --> and then <!-- reproduction:end -->"):
            report.replace_section(broken, "x")
    # through the command: the table, its date and machine land between the markers, nothing else changes
    readme = tmp_path / "README.md"
    readme.write_text(README)
    monkeypatch.setitem(PAPERS, "fake", _fake([True, False]))
    assert main(["--papers", "fake", "--out", str(tmp_path / "reproduction"), "--readme", str(readme)]) == 0
    text = readme.read_text()
    assert text.startswith(head + "<!-- reproduction:start -->\n") and text.endswith("<!-- reproduction:end -->" + tail)
    section = text[len(head):-len(tail)]
    assert "old table" not in section and HEADER in section and report.machine() in section
    assert "[reproduction/REPORT.md](reproduction/REPORT.md)" in section and "Rows that do not hold: 1." in section
    # a README without the markers fails before anything runs
    readme.write_text("# no markers\n")
    with pytest.raises(SystemExit):
        main(["--papers", "fake", "--out", str(tmp_path / "other"), "--readme", str(readme)])
    assert not (tmp_path / "other").exists()


def test_the_project_readme_has_the_section_and_every_paper_a_documented_function():
    report.replace_section((PROJECT_ROOT / "README.md").read_text(), "x")  # the markers, once each
    for name in PAPERS:
        function = reproducer(name)
        assert function.__doc__ and function.__module__ == f"neurobolts.reproduce.{name}", name
