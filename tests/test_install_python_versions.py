"""A plain `pip install` of the built wheel works on the oldest and newest Python the package claims
(`requires-python = ">=3.10,<3.14"`): a fresh venv per interpreter, torch first, then the wheel, then
`neurobolts-train experiment=diffusion_bumps debug=fdr` from a directory outside the checkout (so the
configs and the gridworld data come from the installed package, not from the source tree) and an import
of every package the wheel ships.

Slow (marker `slow`): each venv downloads torch for its Python from PyPI (the machine's local torch
wheel is for Python 3.11 only), a few GB, minutes. Run with
`python -m pytest -m slow tests/test_install_python_versions.py`. The interpreters are found as
`python3.10` / `python3.13` on PATH or in pyenv; NEUROBOLTS_INSTALL_PYTHONS="/path/python3.10 ..."
names others. A missing interpreter skips its case, saying which.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib")  # Python >= 3.11 runs this test; it drives the other versions

PROJECT_ROOT = Path(__file__).resolve().parents[1]
CLAIMED = ("3.10", "3.13")  # the extremes of requires-python
TORCH_SPEC = "torch==2.13.0"


def _interpreter(version: str) -> str | None:
    """An interpreter of `version` that runs, from NEUROBOLTS_INSTALL_PYTHONS, PATH or pyenv."""
    candidates = [p for p in os.environ.get("NEUROBOLTS_INSTALL_PYTHONS", "").split() if version in Path(p).name]
    candidates.append(f"python{version}")
    pyenv = shutil.which("pyenv")
    if pyenv:
        root = subprocess.run([pyenv, "root"], capture_output=True, text=True).stdout.strip()
        candidates += sorted(str(p) for p in Path(root, "versions").glob(f"{version}.*/bin/python{version}"))
    for candidate in candidates:
        try:
            out = subprocess.run([candidate, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                                 capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            continue
        if out.returncode == 0 and out.stdout.strip() == version:
            return candidate
    return None


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                    "-w", str(out), str(PROJECT_ROOT)], check=True)
    (built,) = out.glob("neurobolts-*.whl")
    return built


def _packages() -> list[str]:
    with open(PROJECT_ROOT / "pyproject.toml", "rb") as f:
        return tomllib.load(f)["tool"]["setuptools"]["packages"]


def _run(cmd: list[str], cwd: Path, env: dict | None = None, timeout: int = 1800) -> str:
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout + done.stderr


@pytest.mark.slow
@pytest.mark.parametrize("version", CLAIMED)
def test_a_plain_pip_install_trains_on_the_claimed_python(version, wheel, tmp_path):
    python = _interpreter(version)
    if python is None:
        pytest.skip(f"no Python {version} interpreter here (PATH, pyenv, NEUROBOLTS_INSTALL_PYTHONS)")
    venv = tmp_path / "venv"
    _run([python, "-m", "venv", str(venv)], tmp_path)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q"]
    _run(pip + [TORCH_SPEC], tmp_path)
    _run(pip + [str(wheel)], tmp_path)
    work = tmp_path / "elsewhere"  # not the checkout: configs and data must come from the wheel
    work.mkdir()
    env = {**os.environ, "NEUROBOLTS_ROOT": str(work), "OMP_NUM_THREADS": "1"}
    env.pop("PYTHONPATH", None)
    imports = "; ".join(f"import {name}" for name in _packages())
    _run([str(venv / "bin" / "python"), "-c", imports + "; print('imports ok')"], work, env)
    out = _run([str(venv / "bin" / "neurobolts-train"), "experiment=diffusion_bumps", "debug=fdr"], work, env)
    assert (work / "logs" / "debug").is_dir(), out[-2000:]
    version_seen = _run([str(venv / "bin" / "python"), "-c", "import sys; print(sys.version)"], work, env)
    assert version_seen.startswith(version)
