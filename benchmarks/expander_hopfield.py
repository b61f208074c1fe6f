"""Recall throughput (cues per second) of the expander Hopfield network at N = 2400: the sparse wiring
(gather/scatter over the N_C z nonzeros of the incidence matrix) against a dense-matrix
implementation of the same dynamics (the same incidence matrix as a dense (N_C z, N) matrix), in the
same run, on the same graph and the same cues. Both must end in identical states; the script checks
that and prints exact recall with it.

    python benchmarks/expander_hopfield.py [--n 2400] [--cues 2000] [--flip-fraction 0.02]
                                          [--dynamics adaptive|majority] [--repeats 3]
                                          [--threads 0] [--device cpu]
"""

from __future__ import annotations

import argparse
import time

import torch

from neurobolts.callbacks.recall_curve.recall import recall_scores, run_to_fixed_point
from neurobolts.datamodules.expander_hopfield.bit_flips import corrupt, flip_masks, random_messages
from neurobolts.lightning_modules.expander_hopfield.memory import build_memory


def timed_recall(memory, cues: torch.Tensor, max_steps: int, repeats: int, device: str):
    """Best-of-`repeats` wall seconds of recalling every cue, and the last result."""
    best, result = float("inf"), None
    for _ in range(repeats):
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        start = time.perf_counter()
        result = run_to_fixed_point(memory, cues, max_steps)
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - start)
    return best, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=2400)
    parser.add_argument("--cues", type=int, default=2000)
    parser.add_argument("--flip-fraction", type=float, default=0.02)
    parser.add_argument("--hamming-r", type=int, default=4)
    parser.add_argument("--degree", type=int, default=3)
    parser.add_argument("--max-steps", type=int, default=30)
    parser.add_argument("--dynamics", default="adaptive", choices=["majority", "adaptive"])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    common = {"seed": args.seed, "hamming_r": args.hamming_r, "degree": args.degree, "dynamics": args.dynamics}
    start = time.perf_counter()
    sparse = build_memory("expander", args.n, wiring="sparse", **common).to(args.device)
    build_s = time.perf_counter() - start
    dense = build_memory("expander", args.n, wiring="dense", **common).to(args.device)
    assert torch.equal(sparse.windows, dense.windows)

    generator = torch.Generator().manual_seed(args.seed + 1)
    targets = sparse.stored_states(random_messages(args.cues, args.n, generator).to(args.device))
    cues = corrupt(targets, flip_masks(args.cues, args.n, args.flip_fraction, generator).to(args.device))

    # warm-up (allocations, the dense matrix) on a few cues
    run_to_fixed_point(sparse, cues[:16], args.max_steps)
    run_to_fixed_point(dense, cues[:16], args.max_steps)
    sparse_s, sparse_result = timed_recall(sparse, cues, args.max_steps, args.repeats, args.device)
    dense_s, dense_result = timed_recall(dense, cues, args.max_steps, args.repeats, args.device)
    identical = torch.equal(sparse_result.final, dense_result.final)
    scores = recall_scores(sparse, targets, sparse_result)

    print(f"device={args.device} torch_threads={torch.get_num_threads()} N={args.n} "
          f"Hamming({2**args.hamming_r - 1},{2**args.hamming_r - 1 - args.hamming_r}) gamma={args.degree} "
          f"dynamics={args.dynamics} "
          f"N_C={sparse.n_windows} log2_states={sparse.log2_stored_states} build+GF(2) {build_s:.2f} s")
    print(f"cues={args.cues} p={args.flip_fraction} flips/cue={int(cues.ne(targets).sum(1)[0])} "
          f"exact_recall={scores['exact_recall'].mean():.4f} mean_steps={scores['steps'].mean():.2f} "
          f"identical_final_states={identical}")
    print(f"sparse: {sparse_s:.4f} s  {args.cues / sparse_s:,.0f} cues/s")
    print(f"dense:  {dense_s:.4f} s  {args.cues / dense_s:,.0f} cues/s")
    print(f"speed-up sparse / dense: {dense_s / sparse_s:.1f}x")
    if not identical:
        raise SystemExit("sparse and dense dynamics disagree")


if __name__ == "__main__":
    main()
