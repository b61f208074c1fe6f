"""`python -m neurobolts.reproduce [--papers NAME ...] [--out reproduction] [--quick] [--readme PATH | --no-readme]`:
run each chosen paper's headline reproduction (registry order) and write the report.

Without --quick, the README section between the reproduction markers is updated too (the README of
the project root, or --readme); --quick (seconds-scale smoke runs, the CI test's mode) leaves the
README alone unless --readme names one. Exit status 1 when a paper's run failed (its row says so),
else 0: a claim that does not hold is a result, written as such, not an error."""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import traceback
from datetime import datetime
from pathlib import Path

from neurobolts.reproduce import report
from neurobolts.reproduce.registry import PAPERS, reproducer
from neurobolts.reproduce.results import Row, Settings
from neurobolts.reproduce.runner import stopwatch


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m neurobolts.reproduce",
                                     description="Reproduce the papers' headline claims at CPU scale and write "
                                                 "REPORT.md, results.json and figures/ under --out.")
    parser.add_argument("--papers", nargs="+", default=list(PAPERS), metavar="NAME",
                        help=f"papers to reproduce (default: all): {', '.join(PAPERS)}")
    parser.add_argument("--out", default="reproduction", help="report folder (default: reproduction)")
    parser.add_argument("--quick", action="store_true",
                        help="seconds-scale smoke runs (checks the machinery; the numbers are no reproduction)")
    parser.add_argument("--readme", default=None,
                        help="README whose reproduction section is updated (default: README.md of --root, "
                             "except with --quick)")
    parser.add_argument("--no-readme", action="store_true", help="leave every README alone")
    parser.add_argument("--root", default=os.environ.get("NEUROBOLTS_ROOT", "."),
                        help="project root: mlflow.db, mlartifacts/ and logs/ (default: $NEUROBOLTS_ROOT or ., as "
                             "train.py)")
    args = parser.parse_args(argv)
    unknown = [p for p in args.papers if p not in PAPERS]
    if unknown:
        parser.error(f"unknown paper(s) {', '.join(map(repr, unknown))} for --papers; choose from: {', '.join(PAPERS)}")
    args.readme = None if args.no_readme else (
        Path(args.readme) if args.readme else (None if args.quick else Path(args.root).resolve() / "README.md"))
    if args.readme is not None:  # fail now, not after the runs
        if not args.readme.is_file():
            parser.error(f"--readme {args.readme} does not exist (or pass --no-readme)")
        try:
            report.replace_section(args.readme.read_text(), "")
        except ValueError as exc:
            parser.error(f"--readme {args.readme}: {exc}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    out, root, readme = Path(args.out), Path(args.root).resolve(), args.readme
    command = "python -m neurobolts.reproduce " + shlex.join(sys.argv[1:] if argv is None else argv)
    tag = datetime.now().strftime("%Y%m%d-%H%M%S") + ("-quick" if args.quick else "")
    settings = Settings(quick=args.quick, root_dir=root, figures_dir=out / "figures", tag=tag)
    entries, failed = {}, []
    for name in dict.fromkeys(args.papers):
        print(f"=== {name}{' (quick)' if args.quick else ''}", flush=True)
        error = None
        with stopwatch() as clock:
            try:
                result = reproducer(name)(settings)
                rows, raw = result.rows, result.raw
            except Exception as exc:  # noqa: BLE001 - the report states the failure, the exit status too
                traceback.print_exc()
                error = f"{type(exc).__name__}: {exc}"
                failed.append(name)
                rows, raw = [], {}
        if error is not None:
            rows = [Row(name, "the reproduction runs to the end", "-", f"failed: {error}", False, "-", clock.seconds)]
        figures = list(dict.fromkeys(f for row in rows for f in row.figures))
        entries[name] = report.entry(rows, raw, figures, clock.seconds, args.quick, command, error)
        for row in rows:
            print(f"  [{report.HOLDS if row.holds else report.DOES_NOT_HOLD}] {row.claim}: {row.ours}", flush=True)
        print(f"  {name}: {report.format_seconds(clock.seconds)}", flush=True)
    merged = report.write(out, entries, list(PAPERS), readme)
    print(f"wrote {out / 'REPORT.md'} and {out / 'results.json'}" + (f"; updated {readme}" if readme else ""))
    not_holding = report.failing_rows(merged)
    print(f"{len(not_holding)} row(s) do not hold" + "".join(f"\n  - {line}" for line in not_holding))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
