"""The reproduction report (`make reproduce`, `python -m neurobolts.reproduce`): a seconds-scale
`--quick` run of one paper end to end, the table and results it writes, a claim that does not hold
written as such, a bad paper name, the README's short summary between the reproduction markers, and
the documentation hook (docs/hooks.py) that renders the report's rows on the site's pages."""

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
    # through the command: the summary, its date and machine land between the markers, nothing else changes
    readme = tmp_path / "README.md"
    readme.write_text(README)
    monkeypatch.setitem(PAPERS, "fake", _fake([True, False]))
    monkeypatch.setitem(PAPERS, "fake_two", _fake([True, True, True]))
    assert main(["--papers", "fake", "fake_two", "--out", str(tmp_path / "reproduction"), "--readme", str(readme)]) == 0
    text = readme.read_text()
    assert text.startswith(head + "<!-- reproduction:start -->\n") and text.endswith("<!-- reproduction:end -->" + tail)
    section = text[len(head):-len(tail)]
    assert "old table" not in section and report.machine() in section and "Latest report: " in section
    # short: one line per paper (claims holding / total, linked to its page), no table of the rows
    assert HEADER not in section and "claim 0" not in section
    assert "- [fake](docs/experiments/fake.md): 1 of 2 claims hold" in section
    assert "- [fake_two](docs/experiments/fake_two.md): 3 of 3 claims hold" in section
    assert "In all 4 of 5 claims hold." in section
    assert "[reproduction/REPORT.md](reproduction/REPORT.md)" in section
    # the full table is in the report the README links
    assert [r[1] for r in table_rows((tmp_path / "reproduction" / "REPORT.md").read_text())] == \
        ["claim 0", "claim 1", "claim 0", "claim 1", "claim 2"]
    # a README without the markers fails before anything runs
    readme.write_text("# no markers\n")
    with pytest.raises(SystemExit):
        main(["--papers", "fake", "--out", str(tmp_path / "other"), "--readme", str(readme)])
    assert not (tmp_path / "other").exists()


def test_the_project_readme_has_the_section_and_every_paper_a_documented_function():
    readme = (PROJECT_ROOT / "README.md").read_text()
    report.replace_section(readme, "x")  # the markers, once each
    for name in PAPERS:
        function = reproducer(name)
        assert function.__doc__ and function.__module__ == f"neurobolts.reproduce.{name}", name
        # its documentation page exists, shows its rows, and the README's summary links it
        page = PROJECT_ROOT / "docs" / "experiments" / report.docs_page(name)
        assert page.is_file(), page
        assert f"<!-- reproduction-rows: {name} -->" in page.read_text(), page
        assert f"[{name}](docs/experiments/{report.docs_page(name)})" in readme, name


def load_hooks():
    """docs/hooks.py as MkDocs loads it (a module from its path)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("neurobolts_docs_hooks", PROJECT_ROOT / "docs" / "hooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_docs_hook_renders_a_papers_rows_and_the_whole_report():
    from mkdocs.exceptions import PluginError

    hooks = load_hooks()
    entries = {
        "dsa": report.entry([Row("dsa", "claim a", "paper a", "ours a", True, "0", 2.0, ["figures/dsa_x.png"]),
                             Row("dsa", "claim b", "paper b", "ours b", False, "0", 3.0)],
                            {}, ["figures/dsa_x.png"], 5.0, False, "python -m neurobolts.reproduce --papers dsa"),
        "farmap": report.entry([Row("farmap", "claim c", "paper c", "ours c", True, "0", 1.0)], {}, [], 1.0, False,
                               "python -m neurobolts.reproduce"),
    }
    page = "# DSA\n\nIntro.\n\n<!-- reproduction-rows: dsa -->\n\nAfter.\n"
    out = hooks.render(page, "experiments/dsa.md", entries)
    assert out.startswith("# DSA\n\nIntro.\n\n") and out.endswith("\n\nAfter.\n") and "reproduction-rows" not in out
    assert [r[1] for r in table_rows(out)] == ["claim a [fig](../reproduction/figures/dsa_x.png)", "claim b"]
    assert report.summary_line({"dsa": entries["dsa"]}) in out and "claim c" not in out  # this paper's rows only
    assert "![dsa: dsa_x](../reproduction/figures/dsa_x.png)" in out  # its figure, linked into the site
    # the whole report at the top level: every row, the rows that do not hold, figures linked from there
    out = hooks.render("# Report\n\n<!-- reproduction-report -->\n", "reproduction.md", entries)
    assert [r[1] for r in table_rows(out)] == ["claim a [fig](reproduction/figures/dsa_x.png)", "claim b", "claim c"]
    assert "## Rows that do not hold\n\n- dsa: claim b" in out and "(reproduction/figures/dsa_x.png)" in out
    assert "# Reproduction report" not in out  # the page has its own title
    # a page without markers is returned as it is; an unknown paper name stops the build, naming it
    assert hooks.render("no marker here", "index.md", entries) == "no marker here"
    with pytest.raises(PluginError, match="unknown paper 'dsaa'; choose from: diffusion_bumps, dsa"):
        hooks.render("<!-- reproduction-rows: dsaa -->", "experiments/x.md", entries)
    with pytest.raises(PluginError, match="results.json has no entry for 'ggs'"):
        hooks.render("<!-- reproduction-rows: ggs -->", "experiments/ggs.md", entries)


def test_docs_hook_reads_the_projects_report_and_puts_its_figures_in_the_site(tmp_path):
    from mkdocs.config.defaults import MkDocsConfig
    from mkdocs.structure.files import Files

    hooks = load_hooks()
    entries = hooks.load_entries()
    assert list(entries) == [name for name in PAPERS if name in entries] and entries
    for name in entries:
        assert f"| {name} |" in hooks.render(f"<!-- reproduction-rows: {name} -->", "experiments/x.md")
    config = MkDocsConfig()
    config.load_dict({"site_name": "t", "docs_dir": str(tmp_path), "site_dir": str(tmp_path / "site")})
    config.validate()
    files = hooks.on_files(Files([]), config)
    uris = {f.src_uri for f in files}
    figures = {f"reproduction/{f}" for entry in entries.values() for f in entry["figures"]}
    assert figures and figures <= uris and "reproduction/results.json" in uris
    assert all((PROJECT_ROOT / uri).is_file() for uri in uris)
