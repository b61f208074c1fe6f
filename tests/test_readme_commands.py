"""Every command the README and the documentation pages document, checked as a new user would meet it.

The commands are read from the README and from the pages of the documentation site (docs/*.md and
docs/**/*.md, except the paper specifications under docs/papers/, which quote the reference code's
commands): fenced bash blocks and inline `python ...` spans, so a command added there is checked
without touching this file. `neurobolts-train` / `neurobolts-eval` (the installed scripts) are checked
as `train.py` / `eval.py`.

- Always (CI): every `train.py` / `eval.py` / `predict.py` command, including the multi-GPU, torchrun,
  srun and SLURM-launcher ones, composes with its exact overrides (an unknown key, group or choice
  fails here); every CPU `train.py` / `eval.py` command builds all its objects (datamodule, model,
  callbacks, loggers, trainer), which runs every config check; every `benchmarks/` script and `make`
  target it names exists. (`predict.py` commands read the user's inputs and checkpoints: they are
  composed here and run by the prediction tests.)
- `-m slow`: every CPU command runs to the end in a subprocess with the smallest settings appended
  (steps, sizes), `eval.py` on the checkpoint of a `train.py` run, and each benchmark answers `--help`.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import PROJECT_ROOT, compose_config
from hydra.core.global_hydra import GlobalHydra
from omegaconf import open_dict

README = PROJECT_ROOT / "README.md"
DOCS = PROJECT_ROOT / "docs"
ENTRY_POINTS = {"train.py": "train", "eval.py": "eval", "predict.py": "predict", "neurobolts-train": "train",
                "neurobolts-eval": "eval", "neurobolts-predict": "predict"}


def documented_pages() -> list[Path]:
    """The README and every page of the documentation site but the specifications (docs/papers/)."""
    pages = sorted(p for p in DOCS.rglob("*.md") if DOCS / "papers" not in p.parents)
    return [README, *pages]


def page_name(path: Path) -> str:
    return path.relative_to(PROJECT_ROOT).as_posix()
GPU_TRAINERS = {"trainer=gpu", "trainer=ddp", "trainer=multinode"}
GGS_SMALLEST = ["data.num_seeds=1", "data.holdout_size=50", "model.oracle.epochs=1", "model.predictor.epochs=1",
                "trainer.limit_train_batches=2",
                "model.smoothing.num_nodes=4000", "model.smoothing.epochs=1", "model.sampler.rounds=2",
                "model.sampler.clusters=8", "model.sampler.proposals=5", "model.sampler.unsmoothed_proposals=5",
                "model.top_k=8"]
# appended to a command to make it a seconds-long CPU run (later overrides win over the README's own)
SMALLEST = {
    "diffusion_bumps": ["trainer.max_steps=3", "model.sampling_steps=2", "callbacks.latent_manifold.k=3"],
    "diffusion_bumps_imbalanced": ["trainer.max_steps=3", "model.sampling_steps=2"],
    "diffusion_bumps_paper": ["trainer.max_steps=2", "trainer.accelerator=cpu", "trainer.precision=32-true",
                              "data.batch_size=4", "data.eval_batch_size=8", "model.sampling_steps=2",
                              "data.eval_margin=12"],
    "dsa_flipflop": ["trainer.max_steps=3", "data.n_train=64", "data.n_val=16", "data.steps=30", "data.n_probe=4"],
    "dsa_attractors": ["data.n_models=2", "data.n_trials=4", "data.steps=200"],
    "expander_hopfield": ["callbacks.recall_curve.sizes=[30]", "callbacks.recall_curve.trials=4",
                          "callbacks.recall_curve.capacity_loads=[0.1]", "callbacks.recall_curve.capacity_size=30"],
    "ibc_tasks": ["trainer.max_steps=3", "callbacks.inductive_bias_complexity.num_queries=400"],
    "align_wide": ["trainer.max_steps=3"],
    "align_add": ["trainer.max_steps=3", "data.steps=10"],
    # two episodes, so that trainer=ddp_cpu has one per process
    "farmap": ["data.map_ids=[150,151]", "data.seeds=[0]", "data.num_steps=50"],
    "farmap_paper": ["data.map_ids=[0,1]", "data.seeds=[0]", "data.num_steps=50"],
    "far_curiosity_forgetting": ["data.steps_per_phase=60", "data.chunk=30", "model.eval_every=30"],
    "map_induction": ["data.worlds=[repeated_2x2]", "data.seeds=[0]", "model.tree_queries=30", "model.max_depth=8"],
    "map_induction_paper": ["data.worlds=[repeated_3x3]", "data.seeds=[0]", "model.tree_queries=30",
                            "model.max_depth=8", "model.max_steps=100"],
    "far_curiosity": ["data.iterations=2", "data.num_envs=2", "model.num_steps=32", "model.obs_norm_init_steps=0"],
    "ggs_aav_hard": GGS_SMALLEST,
    "ggs_aav_medium": GGS_SMALLEST,
    "ggs_ehrlich": GGS_SMALLEST,
    "far_curiosity_atari": ["data.iterations=1", "data.num_envs=2", "model.num_steps=16", "model.num_minibatches=2",
                            "model.obs_norm_init_steps=32", "model.lstm_hidden=64"],
}
# experiments whose default trainer is a GPU one (runnable here only with trainer.accelerator=cpu)
GPU_EXPERIMENTS = {"far_curiosity_atari"}
COMMON_SMALL = ["trainer.enable_progress_bar=false", "trainer.enable_model_summary=false"]


def commands_in(text: str) -> list[str]:
    """Shell commands of a Markdown text: fenced bash blocks (continuations joined, comments dropped)
    and inline code spans that start with `python `."""
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", text, flags=re.S):
        for line in block.replace("\\\n", " ").splitlines():
            line = line.split("  #")[0].split(" # ")[0].strip()
            if line and not line.startswith("#"):
                commands.append(" ".join(line.split()))
    for span in re.findall(r"`(python [^`]+)`", text):
        commands.append(" ".join(span.split()))
    return list(dict.fromkeys(commands))


def documented_commands() -> dict[str, str]:
    """Every command of the README and the documentation pages -> the first page that has it."""
    found: dict[str, str] = {}
    for page in documented_pages():
        for command in commands_in(page.read_text()):
            found.setdefault(command, page_name(page))
    return found


def readme_commands() -> list[str]:
    """The commands of the README alone."""
    return commands_in(README.read_text())


def hydra_command(command: str) -> tuple[str, list[str]] | None:
    """('train' | 'eval' | 'predict', overrides) for a command that runs train.py / eval.py / predict.py
    or the installed neurobolts-train / -eval / -predict (directly, after `cd ... &&`, under torchrun or
    srun), else None."""
    words = shlex.split(re.sub(r"<[^>]*>", "PLACEHOLDER", command))
    for i, word in enumerate(words):
        if word in ENTRY_POINTS:
            return ENTRY_POINTS[word], [w for w in words[i + 1:]]
    return None


def is_cpu_runnable(command: str, overrides: list[str]) -> bool:
    """False for what needs GPUs, a cluster or the user's own files: GPU trainers, `_paper` experiments
    (GPU by default), torchrun / srun launches, the SLURM launcher, and a `/path/to/...` placeholder
    (e.g. data that is not shipped)."""
    gpu_default = experiment_of(overrides) in GPU_EXPERIMENTS and "trainer.accelerator=cpu" not in overrides
    return (not any(o in GPU_TRAINERS for o in overrides) and "hydra/launcher=slurm" not in overrides
            and not command.startswith(("torchrun", "srun")) and not experiment_of(overrides).endswith("_paper")
            and not gpu_default and "/path/to/" not in command)


def experiment_of(overrides: list[str]) -> str:
    return next((o.split("=", 1)[1] for o in overrides if o.startswith("experiment=")), "diffusion_bumps")


def sweep_point(overrides: list[str]) -> list[str]:
    """One job of a `-m` sweep: the first value of every comma list (`seed=0,1,2` -> `seed=0`)."""
    out = []
    for o in overrides:
        if o == "-m":
            continue
        key, _, value = o.partition("=")
        out.append(f"{key}={value.split(',')[0]}" if "," in value and "[" not in value else o)
    return out


DOCUMENTED = documented_commands()
# The page on third-party experiments runs experiments that other packages add (its example package is
# installed and run by tests/test_third_party_experiments.py): those commands compose only with that
# package installed, so they are left out here; its commands for neurobolts' own experiments are checked.
THIRD_PARTY_PAGE = "docs/guides/third_party.md"
OWN_EXPERIMENTS = {p.stem for p in (PROJECT_ROOT / "configs" / "experiment").glob("*.yaml")}
HYDRA_COMMANDS = [(c, *hydra_command(c)) for c in DOCUMENTED if hydra_command(c)
                  and not (DOCUMENTED[c] == THIRD_PARTY_PAGE and experiment_of(hydra_command(c)[1]) not in OWN_EXPERIMENTS)]


def with_placeholders(overrides: list[str], ckpt: Path) -> list[str]:
    """`ckpt_path=...<run>...` -> a real checkpoint; `hydra.run.dir=<output dir>` -> its run folder."""
    out = []
    for o in overrides:
        if o.startswith("ckpt_path="):
            o = f"ckpt_path={ckpt}"
        elif o.startswith("hydra.run.dir="):
            o = f"hydra.run.dir={ckpt.parent.parent}"
        out.append(o)
    return out


def test_the_readme_and_the_pages_document_the_main_commands():
    readme = readme_commands()
    assert {"make train", "make test", "make docs"} <= set(readme), readme
    assert any(hydra_command(c) == ("train", ["experiment=diffusion_bumps"]) for c in readme), readme
    scripts = {c.split()[1] if c.startswith("python ") else c.split()[0] for c in DOCUMENTED}
    assert {"train.py", "eval.py", "make"} <= scripts, scripts
    assert any(c.split("&&")[-1].split()[0] == "neurobolts-train" for c in DOCUMENTED)  # the pip-install path
    kinds = {kind for _, kind, _ in HYDRA_COMMANDS}
    assert {"train", "eval"} <= kinds and len(HYDRA_COMMANDS) >= 10


def test_every_experiment_has_a_command_on_a_paper_page():
    """Each paper page shows commands, and together they run every experiment of configs/experiment/."""
    shown = set()
    for page in sorted((DOCS / "experiments").glob("*.md")):
        if page.name == "index.md":
            continue
        mine = {experiment_of(hydra_command(c)[1]) for c in commands_in(page.read_text()) if hydra_command(c)}
        assert mine, f"{page_name(page)} shows no train.py command"
        shown |= mine
    assert OWN_EXPERIMENTS - shown == set(), f"experiments without a command on a paper page: {OWN_EXPERIMENTS - shown}"


@pytest.mark.parametrize(("command", "kind", "overrides"), HYDRA_COMMANDS,
                         ids=[f"{DOCUMENTED[c]}: {c}" for c, *_ in HYDRA_COMMANDS])
def test_readme_command_composes_and_builds(command, kind, overrides, tmp_path):
    from neurobolts.plugins.pipeline import build

    ckpt = tmp_path / "output" / "checkpoints" / "last.ckpt"
    point = with_placeholders(sweep_point(overrides), ckpt)
    point = [o for o in point if not o.startswith("hydra.run.dir=")]  # the test's own run folder
    cfg = compose_config(kind, point, tmp_path)
    try:
        if not is_cpu_runnable(command, overrides) or kind == "predict":
            return  # composed: the multi-GPU / cluster settings (or the prediction's) exist and resolve
        with open_dict(cfg):
            cfg.logger = None
            cfg.ckpt_path = None  # no checkpoint exists yet: building is what is checked here
        objects = build(cfg, training=kind == "train")
        assert objects["trainer"] is not None
    finally:
        GlobalHydra.instance().clear()


def readme_benchmarks() -> list[str]:
    """Every `benchmarks/<name>.py` the README and the documentation pages mention."""
    return sorted({b for page in documented_pages() for b in re.findall(r"benchmarks/[\w/]+\.py", page.read_text())})


def test_readme_files_and_make_targets_exist():
    assert len(readme_benchmarks()) >= 5
    for script in readme_benchmarks():
        assert (PROJECT_ROOT / script).is_file(), script
    makefile = (PROJECT_ROOT / "Makefile").read_text()
    for command, page in DOCUMENTED.items():
        words = command.split()
        if words[0] == "make":
            assert re.search(rf"^{re.escape(words[1])}:", makefile, flags=re.M), f"{page}: {command}"
        for word in words:
            if word.endswith(".py") and "/" in word and not word.startswith("/"):
                assert (PROJECT_ROOT / word).is_file(), f"{page}: {command}"


def run(args: list[str], root: Path, timeout: float = 600) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    env["PYTHONWARNINGS"] = "ignore"
    return subprocess.run([sys.executable, *args, f"paths.root_dir={root}"] if args[0].endswith(("train.py", "eval.py"))
                          else [sys.executable, *args], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True,
                          timeout=timeout)


@pytest.mark.slow
def test_every_cpu_readme_command_runs_with_the_smallest_settings(tmp_path):
    """Runs each command (train commands first, so eval and resume have a checkpoint), reports all."""
    failures, ran = [], []
    trained = tmp_path / "first"
    first = run(["train.py", "experiment=diffusion_bumps", *SMALLEST["diffusion_bumps"], *COMMON_SMALL], trained)
    assert first.returncode == 0, first.stderr[-3000:]
    ckpt = next(trained.rglob("last.ckpt"))
    for command, kind, overrides in sorted(HYDRA_COMMANDS, key=lambda c: c[1] == "eval"):
        if not is_cpu_runnable(command, overrides) or kind == "predict":
            continue
        overrides = with_placeholders(overrides, ckpt)
        if "-m" not in overrides:
            extra = [] if kind == "eval" else SMALLEST[experiment_of(overrides)]
        else:
            extra = SMALLEST[experiment_of(overrides)]
        # a command on a checkpoint (eval, resume) runs in the project that trained it, as in the README
        root = trained if any(o.startswith("ckpt_path=") for o in overrides) else tmp_path / f"run{len(ran)}"
        proc = run([f"{kind}.py", *overrides, *extra, *COMMON_SMALL], root)
        ran.append(command)
        if proc.returncode != 0:
            failures.append(f"{command}\n{proc.stderr[-1500:]}")
    for script in readme_benchmarks():
        if script != "benchmarks/common.py":
            proc = run([script, "--help"], tmp_path)
            ran.append(f"{script} --help")
            if proc.returncode != 0:
                failures.append(f"{script} --help\n{proc.stderr[-1500:]}")
    print("\n".join(ran))
    assert not failures, "\n\n".join(failures)
