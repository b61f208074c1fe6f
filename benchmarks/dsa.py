"""Our DSA core against the reference package `dsa-metric` (import `DSA`) on the same systems.

The reference runs in its own environment (never a dependency of neurobolts): pass its interpreter with
--peer-python (default /tmp/dsa_peer_venv/bin/python). Both sides use one CPU thread. Systems (spec
docs/papers/dsa.md 6): x_{t+1} = A x_t + N(0, I), N = 10, T = 2000, A Gaussian with spectral radius 0.95;
cases: a rotated copy X Q^T (Q orthogonal, det -1), the same system with new noise, a different system.
All calls: n_delays=10, the reference's DSA defaults iters=1500, lr=5e-3.

Prints per case and rank: both angular scores, both wall times per pair (DMD fits + comparison) and
the speed ratio; both Wasserstein scores; the largest difference between the sorted DMD spectra.

    python benchmarks/dsa.py [--ranks 10 30] [--repeats 1] [--peer-python PATH]
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

from neurobolts.callbacks.dsa.delay_dmd import fit_dmd
from neurobolts.callbacks.dsa.similarity import dsa

PEER_SCRIPT = r"""
import json, sys, time
import numpy as np, torch
torch.set_num_threads(1)
from DSA import DSA, DMD
data = np.load(sys.argv[1])
cases = json.loads(sys.argv[2]); ranks = json.loads(sys.argv[3]); repeats = int(sys.argv[4])
out = {}
for case in cases:
    X, Y = data[case + "_X"], data[case + "_Y"]
    for r in ranks:
        torch.manual_seed(0)
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            angular = float(DSA(X, Y, n_delays=10, rank=r, score_method="angular", iters=1500, lr=5e-3).fit_score())
            times.append(time.perf_counter() - start)
        w = float(DSA(X, Y, n_delays=10, rank=r, score_method="wasserstein").fit_score())
        dmd = DMD(X, n_delays=10, rank=r); dmd.fit()
        eig = np.linalg.eigvals(dmd.A_v.detach().cpu().numpy())
        out[f"{case}/{r}"] = {"angular": angular, "seconds": min(times), "wasserstein": w,
                              "eig_re": eig.real.tolist(), "eig_im": eig.imag.tolist()}
print("JSON" + json.dumps(out))
"""


def linear_system(A: np.ndarray, T: int, rng: np.random.Generator) -> np.ndarray:
    x = np.zeros((T, A.shape[0]))
    noise = rng.standard_normal((T, A.shape[0]))
    for t in range(1, T):
        x[t] = A @ x[t - 1] + noise[t]
    return x


def make_cases(seed: int = 0) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    from scipy.stats import ortho_group

    rng = np.random.default_rng(seed)

    def stable(n: int) -> np.ndarray:
        A = rng.standard_normal((n, n))
        return A * 0.95 / np.abs(np.linalg.eigvals(A)).max()

    A = stable(10)
    X = linear_system(A, 2000, rng)
    Q = ortho_group.rvs(10, random_state=seed)
    if np.linalg.det(Q) > 0:
        Q[:, 0] *= -1
    return {"rotated_copy": (X, X @ Q.T), "new_noise": (X, linear_system(A, 2000, rng)),
            "different_system": (X, linear_system(stable(10), 2000, rng))}


def sorted_spectrum(eig: np.ndarray) -> np.ndarray:
    return eig[np.lexsort((np.round(eig.imag, 8), np.round(eig.real, 8)))]


def run_ours(cases, ranks, repeats) -> dict:
    torch.set_num_threads(1)
    out = {}
    for case, (X, Y) in cases.items():
        for r in ranks:
            times = []
            for _ in range(repeats):
                start = time.perf_counter()
                angular = dsa(X, Y, n_delays=10, rank=r, score_method="angular", seed=0)
                times.append(time.perf_counter() - start)
            w = dsa(X, Y, n_delays=10, rank=r, score_method="wasserstein")
            eig = fit_dmd(X, n_delays=10, rank=r).eigenvalues().numpy()
            out[f"{case}/{r}"] = {"angular": angular, "seconds": min(times), "wasserstein": w, "eig": eig}
    return out


def run_peer(peer_python: str, cases, ranks, repeats) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "systems.npz"
        np.savez(path, **{f"{c}_{s}": arr for c, (X, Y) in cases.items() for s, arr in (("X", X), ("Y", Y))})
        result = subprocess.run([peer_python, "-c", PEER_SCRIPT, str(path), json.dumps(list(cases)),
                                 json.dumps(ranks), str(repeats)], capture_output=True, text=True, timeout=3600)
    if result.returncode != 0:
        raise RuntimeError(f"the reference run failed:\n{result.stderr[-3000:]}")
    line = next(x for x in result.stdout.splitlines() if x.startswith("JSON"))
    out = json.loads(line[4:])
    for value in out.values():
        value["eig"] = np.array(value.pop("eig_re")) + 1j * np.array(value.pop("eig_im"))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ranks", type=int, nargs="+", default=[10, 30])
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--peer-python", default="/tmp/dsa_peer_venv/bin/python")
    args = parser.parse_args()
    cases = make_cases()
    ours = run_ours(cases, args.ranks, args.repeats)
    peer = run_peer(args.peer_python, cases, args.ranks, args.repeats) if Path(args.peer_python).exists() else None
    if peer is None:
        print(f"reference interpreter {args.peer_python} not found: printing our side only", file=sys.stderr)
    header = (f"{'case':<18}{'rank':>5}{'ours angular':>14}{'ref angular':>14}{'ours s':>9}{'ref s':>9}"
              f"{'speed-up':>10}{'ours W2^2':>12}{'ref W2^2':>12}{'max|eig diff|':>15}")
    print(header)
    print("-" * len(header))
    for key, mine in ours.items():
        case, rank = key.split("/")
        row = f"{case:<18}{rank:>5}{mine['angular']:>14.6e}"
        if peer is not None:
            ref = peer[key]
            diff = np.abs(sorted_spectrum(mine["eig"]) - sorted_spectrum(ref["eig"])).max()
            row += (f"{ref['angular']:>14.6e}{mine['seconds']:>9.3f}{ref['seconds']:>9.3f}"
                    f"{ref['seconds'] / mine['seconds']:>9.1f}x{mine['wasserstein']:>12.3e}"
                    f"{ref['wasserstein']:>12.3e}{diff:>15.2e}")
        else:
            row += f"{'-':>14}{mine['seconds']:>9.3f}{'-':>9}{'-':>10}{mine['wasserstein']:>12.3e}"
        print(row)


if __name__ == "__main__":
    main()
