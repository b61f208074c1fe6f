"""The reproduction report (`make reproduce`, `python -m neurobolts.reproduce`): each paper's headline
claims at CPU scale, with the same functions as the slow tests, written to `reproduction/REPORT.md`
(one table), `reproduction/results.json` (raw numbers) and `reproduction/figures/`, every experiment
in MLflow, and a short summary in the README section between the reproduction markers (per paper the
claims that hold, linked to its documentation page; the site renders the rows with `report`).

One module per paper (`diffusion_bumps`, `dsa`, `inductive_bias`, `align`, `expander_hopfield`,
`farmap`, `far_curiosity`, `map_induction`, `ggs`), each with a documented `reproduce(settings) -> PaperResult`, registered by name in `registry.PAPERS`;
`results` holds the records, `runner` the experiment plumbing (Hydra composition, MLflow, timing),
`report` the writers. This package is an entry point: it may import every other part of the project,
and nothing else imports it (tests/test_layout.py)."""
