"""The documentation site cannot rot: it builds in strict mode (every warning, including mkdocstrings'
docstring warnings and broken links or anchors, fails the build), and the complete examples of the
analysis-callback pages run and log what the pages say they log."""

from __future__ import annotations

import html
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "docs" / "examples").glob("*.py"))

# What each example must print: the metric names it reads back from the CSV logger, and its files.
EXPECTED_OUTPUT = {
    "latent_manifold_ordering_own_model": ["step 30: manifold/trustworthiness", "manifold/phase",
                                           "autoencoder/version_0/figures/manifold/summary.png"],
    "dynamical_similarity_own_model": ["epoch 2: dsa/to_previous", "dsa/rank", "snapshot,0,1,2,3",
                                       "integrator/version_0/figures/dsa/distances.csv"],
    "inductive_bias_complexity_own_model": ["ibc/task_bits", "epoch 2: ibc/model_error", "ibc/model_bits_fraction",
                                            "figure: classifier/version_0/figures/ibc/scaling.png"],
    "recall_curve_own_model": ["curve/model/N128/p<0.05, 0.1, 0.2>/recall: [1.0",
                               "curve/hopfield/N128/", "curve/capacity/N128/K13/recall",
                               "memory/version_0/figures/recall_curve.json: 21 records"],
}


def test_site_builds_without_warnings(tmp_path):
    pytest.importorskip("mkdocs", reason="mkdocs is not installed (pip install -e '.[docs]')")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}  # Material's banner about MkDocs 2.0
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-6000:]
    assert "WARNING" not in output, output[-6000:]
    site = tmp_path / "site"
    assert (site / "index.html").is_file()
    # the examples are included in their pages (snippets) and the API reference is rendered from docstrings
    page = html.unescape(re.sub(r"<[^>]+>", "", (site / "callbacks" / "dynamical_similarity" / "index.html").read_text()))
    assert "class Integrator(L.LightningModule):" in page and "def probe_batch(self)" in page
    api = (site / "api" / "callbacks" / "dsa" / "index.html").read_text()
    assert 'id="neurobolts.callbacks.dsa.similarity.dsa"' in api
    assert 'id="neurobolts.callbacks.dsa.callback.DynamicalSimilarity"' in api


def test_every_example_is_shown_and_checked():
    pages = "\n".join(p.read_text() for p in (ROOT / "docs" / "callbacks").glob("*.md"))
    assert EXAMPLES, "docs/examples/ holds no example"
    for example in EXAMPLES:
        assert f'--8<-- "docs/examples/{example.name}"' in pages, f"{example.name} is on no callback page"
    assert {example.stem for example in EXAMPLES} == set(EXPECTED_OUTPUT)


@pytest.mark.parametrize("example", EXAMPLES, ids=[example.stem for example in EXAMPLES])
def test_callback_example_runs(example, tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg"}
    result = subprocess.run([sys.executable, str(example)], cwd=tmp_path, env=env, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, (result.stdout + result.stderr)[-6000:]
    for expected in EXPECTED_OUTPUT[example.stem]:
        assert expected in result.stdout, f"{expected!r} not printed by {example.name}:\n{result.stdout[-3000:]}"
    assert not list(tmp_path.iterdir()), "the example wrote into the current directory"
