# Two commands do all the set-up on a fresh machine (see README):
#   make train   -> creates .venv if missing, then `python train.py experiment=diffusion_bumps`
#   make test    -> creates .venv if missing, then runs the test suite
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# torch is installed first and pinned, so pip never swaps in a CUDA build on a CPU-only machine.
# Elsewhere, pass e.g. TORCH_PIP_ARGS="--index-url https://download.pytorch.org/whl/cpu".
TORCH_SPEC ?= torch==2.13.0
TORCH_PIP_ARGS ?=
STAMP := $(VENV)/.neurobolts-installed
ARGS ?=
PYTEST_ARGS ?=

.PHONY: install train test test-slow reproduce lint bench docs clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet "$(TORCH_SPEC)" $(TORCH_PIP_ARGS)
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

train: $(STAMP)
	$(BIN)/python train.py experiment=diffusion_bumps $(ARGS)

test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

test-slow: $(STAMP)
	$(BIN)/python -m pytest -m slow $(PYTEST_ARGS)

# the reproduction report: reproduction/REPORT.md, results.json, figures/ and the README section
# (e.g. make reproduce ARGS="--papers diffusion_bumps dsa")
reproduce: $(STAMP)
	$(BIN)/python -m neurobolts.reproduce $(ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .

bench: $(STAMP)
	$(BIN)/python benchmarks/diffusion_bumps.py $(ARGS)

# the documentation site (mkdocs.yml) into site/, warnings as errors (tests/test_docs.py builds it too);
# NO_MKDOCS_2_WARNING silences Material's banner about MkDocs 2.0
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

clean:
	rm -rf $(VENV) logs mlflow.db mlartifacts .pytest_cache
