"""Our Ehrlich function (datamodules/ggs/ehrlich.py) against holo-bench's `Ehrlich` (pytorch-holo,
MIT; docs/papers/ggs.md sections 3 and 8).

pytorch-holo needs numpy<2 and botorch, so it runs in its own virtual environment (never a dependency
of neurobolts): the script creates /tmp/holo-venv (or --venv) and pip-installs pytorch-holo into it,
giving the install at most --install-timeout seconds (default 300). If that fails it says so plainly
and prints only our side's structural properties.

Two comparisons, for c = 4 motifs of length k = 4, L = 32, 20 states:
1. Same parameters: holo's motifs, spacings and transition matrix (seed 0) are copied into our
   function, and both evaluate the same sequences (holo's DMP samples, uniform random sequences, the
   optimum and its point mutants) for q = 4, 2, 3. For q dividing k the values must agree exactly;
   for q = 3 holo quantises with floor(count / ceil(k/q)) / (k / ceil(k/q)) (levels of q = 2), ours
   with floor(q * count / k) / q (Stanton et al.'s h_q), so they are expected to differ there.
2. Each with its own seeds (holo draws motifs and the DMP from its own random stream): optimum value,
   banned transitions per state, feasibility rate of uniform sequences, value distribution of DMP
   samples, quantisation levels seen.

    python benchmarks/ggs_ehrlich_holo.py [--venv /tmp/holo-venv] [--install-timeout 300] [--samples 4000]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from neurobolts.datamodules.ggs.ehrlich import EhrlichFunction

NUM_STATES, LENGTH, NUM_MOTIFS, MOTIF_LENGTH = 20, 32, 4, 4
SEEDS = [0, 1, 2, 3, 4]

PEER_SCRIPT = r"""
import inspect, json, sys
import numpy as np, torch
torch.set_num_threads(1)
from holo.test_functions.closed_form import Ehrlich
S, L, C, K, n, seeds = json.loads(sys.argv[1])
def make(seed, q):
    return Ehrlich(num_states=S, dim=L, num_motifs=C, motif_length=K, quantization=q, random_seed=seed)
out = {"signature": str(inspect.signature(Ehrlich.__init__)), "per_seed": {}}
base = make(0, K)
g = torch.Generator().manual_seed(123)
dmp = base.initial_solution(n) if "n" in inspect.signature(base.initial_solution).parameters else None
if dmp is None:
    from holo.test_functions.elemental import sample_dmp
    dmp = sample_dmp(base.stationary_dist.squeeze(-1), base.transition_matrix, L, n, generator=g)
uniform = torch.randint(S, (n, L), generator=g)
optimum = base.optimal_solution().view(1, L)
mutants = optimum.repeat(L * S, 1)
mutants[torch.arange(L * S), torch.arange(L * S) // S] = torch.arange(L * S) % S
X = torch.cat([dmp, uniform, optimum, mutants])
out["X"] = X.tolist()
out["transition_matrix"] = base.transition_matrix.double().tolist()
out["motifs"] = [m.tolist() for m in base.motifs]
out["spacings"] = [s.tolist() for s in base.spacings]
out["values"] = {q: make(0, q)(X).double().tolist() for q in (K, 2, 3)}
for seed in seeds:
    f = make(seed, K)
    samples = f.initial_solution(n) if dmp is not None else sample_dmp(
        f.stationary_dist.squeeze(-1), f.transition_matrix, L, n, generator=torch.Generator().manual_seed(seed))
    u = torch.randint(S, (n, L), generator=torch.Generator().manual_seed(seed))
    out["per_seed"][seed] = {"optimum": f(f.optimal_solution().view(1, L)).item(),
                             "banned_per_state": (f.transition_matrix == 0).sum(1).tolist(),
                             "dmp_values": f(samples).double().tolist(),
                             "uniform_values": f(u).double().tolist()}
print("JSON" + json.dumps(out))
"""


def install_holo(venv: Path, timeout: float) -> tuple[Path | None, str]:
    """The holo venv's python, or None and why the install failed."""
    python = venv / "bin" / "python"
    if python.exists() and _imports_holo(python):
        return python, "already installed"
    start = time.monotonic()
    try:
        if not python.exists():
            subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, capture_output=True, text=True,
                           timeout=timeout)
        left = max(1.0, timeout - (time.monotonic() - start))
        result = subprocess.run([str(python), "-m", "pip", "install", "-q", "pytorch-holo", "numpy<2"],
                                capture_output=True, text=True, timeout=left)
    except subprocess.TimeoutExpired:
        return None, f"pip install pytorch-holo did not finish within {timeout:.0f} s"
    except subprocess.CalledProcessError as error:
        return None, f"python -m venv failed: {error.stderr.strip()[-2000:]}"
    if result.returncode != 0:
        return None, f"pip install pytorch-holo failed (exit {result.returncode}): {result.stderr.strip()[-2000:]}"
    if not _imports_holo(python):
        return None, "pytorch-holo installed but `from holo.test_functions.closed_form import Ehrlich` fails"
    return python, f"installed in {time.monotonic() - start:.0f} s"


def _imports_holo(python: Path) -> bool:
    probe = subprocess.run([str(python), "-c", "from holo.test_functions.closed_form import Ehrlich"],
                           capture_output=True, text=True, timeout=120)
    return probe.returncode == 0


def describe(name: str, optimum: float, banned: list[int], dmp_values: np.ndarray, uniform_values: np.ndarray) -> None:
    levels = sorted({round(v * 256) / 256 for v in dmp_values.tolist()})
    print(f"  {name:<5} optimum {optimum:.3f} | banned per state {min(banned)}-{max(banned)} (mean "
          f"{np.mean(banned):.2f}) | uniform feasible {np.isfinite(uniform_values).mean():.4f} | DMP values: "
          f"median {np.median(dmp_values):.4f}, q75 {np.quantile(dmp_values, 0.75):.4f}, max {dmp_values.max():.4f}, "
          f"zero {np.mean(dmp_values == 0):.3f}, {len(levels)} distinct")


def ours_structure(seed: int, n: int) -> tuple[float, list[int], np.ndarray, np.ndarray]:
    function = EhrlichFunction(NUM_STATES, LENGTH, NUM_MOTIFS, MOTIF_LENGTH, seed=seed)
    generator = torch.Generator().manual_seed(seed)
    dmp = function(function.sample_feasible(n, generator)).numpy()
    uniform = function(torch.randint(NUM_STATES, (n, LENGTH), generator=generator)).numpy()
    banned = (function.transition_matrix == 0).sum(1).tolist()
    return function(function.optimal_solution()).item(), banned, dmp, uniform


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--venv", type=Path, default=Path("/tmp/holo-venv"))
    parser.add_argument("--install-timeout", type=float, default=300.0)
    parser.add_argument("--samples", type=int, default=4000)
    args = parser.parse_args()
    torch.set_num_threads(1)

    python, how = install_holo(args.venv, args.install_timeout)
    print(f"pytorch-holo: {how}" if python else f"pytorch-holo could NOT be installed: {how}")
    if python is None:
        print("Only our side (structural properties, seeds 0-4):")
        for seed in SEEDS:
            describe(f"s{seed}", *ours_structure(seed, args.samples))
        return

    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "peer.py"
        script.write_text(PEER_SCRIPT)
        start = time.monotonic()
        result = subprocess.run([str(python), str(script), json.dumps([NUM_STATES, LENGTH, NUM_MOTIFS, MOTIF_LENGTH,
                                                                        args.samples, SEEDS])],
                                capture_output=True, text=True, timeout=600)
    if result.returncode != 0:
        print(f"holo's Ehrlich failed to run (exit {result.returncode}):\n{result.stderr[-3000:]}")
        return
    line = next(ln for ln in result.stdout.splitlines() if ln.startswith("JSON"))
    peer = json.loads(line[4:])
    print(f"holo Ehrlich.__init__{peer['signature']} ran in {time.monotonic() - start:.1f} s")

    # 1. same parameters
    X = torch.tensor(peer["X"], dtype=torch.long)
    print(f"\n1. holo's seed-0 motifs {peer['motifs']}, gaps {peer['spacings']} copied into ours; "
          f"{len(X)} sequences ({args.samples} holo DMP samples, {args.samples} uniform, the optimum and its "
          f"{LENGTH * NUM_STATES} point mutants)")
    for q, holo_values in peer["values"].items():
        ours = EhrlichFunction(NUM_STATES, LENGTH, NUM_MOTIFS, MOTIF_LENGTH, quantization=int(q), seed=0)
        ours.transition_matrix = torch.tensor(peer["transition_matrix"], dtype=torch.float64)
        ours.motifs = torch.tensor(peer["motifs"], dtype=torch.long)
        gaps = torch.tensor(peer["spacings"], dtype=torch.long)
        ours.spacings = torch.cat([torch.zeros(NUM_MOTIFS, 1, dtype=torch.long), gaps.cumsum(1)], dim=1)
        a, b = ours(X).numpy(), np.asarray(holo_values)
        same_inf = np.array_equal(np.isinf(a), np.isinf(b))
        finite = np.isfinite(a) & np.isfinite(b)
        diff = np.abs(a[finite] - b[finite])
        print(f"  q={q}: feasibility identical: {same_inf} ({np.isfinite(a).sum()} feasible); finite values: "
              f"max |ours - holo| = {diff.max() if diff.size else 0:.3g}, {int((diff > 0).sum())} of {diff.size} differ; "
              f"optimum ours {a[2 * args.samples]:.3f} holo {b[2 * args.samples]:.3f}")

    # 2. each with its own seeds
    print(f"\n2. each with its own seeds ({args.samples} DMP samples and uniform sequences per seed, q = k = 4):")
    for seed in SEEDS:
        stats = peer["per_seed"][str(seed)]
        describe(f"holo{seed}", stats["optimum"], stats["banned_per_state"], np.asarray(stats["dmp_values"]),
                 np.asarray(stats["uniform_values"]))
        describe(f"ours{seed}", *ours_structure(seed, args.samples))


if __name__ == "__main__":
    main()
