"""Command line for recsim applications.

    simlab recsim ecosystem --runs 40 [--users 2000 --horizon 300] [--json] [--out DIR | --publish] [--overwrite]

`ecosystem` writes its plot to `--out DIR` (default ./simlab_results/recsim_ecosystem), or to the file
`--plot PATH`; `--publish` (in a source checkout) writes the tracked bench/results/recsim_ecosystem.png
instead. An existing
plot is not replaced without `--overwrite`; nothing is written to the working directory itself.

Wired into `simlab` through `add_subcommands(subparsers)`; also runnable as
`python -m recsim.cli ecosystem ...`.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from simlab.engine import io as output
from simlab.recsim.apps import ecosystem


def _configure(parser: argparse.ArgumentParser) -> None:
    apps = parser.add_subparsers(dest="recsim_app", required=True, metavar="APP")
    eco = apps.add_parser("ecosystem", help="myopic vs provider-aware recommender ecosystem study")
    eco.add_argument("--runs", type=output.positive_int, default=40, help="runs per policy (default 40)")
    eco.add_argument("--users", type=output.positive_int, default=2000, help="users per run (default 2000)")
    eco.add_argument("--horizon", type=output.positive_int, default=300, help="steps per run (default 300)")
    eco.add_argument("--docs", type=output.positive_int, default=400, help="documents per step (default 400)")
    eco.add_argument("--seed", type=int, default=0)
    eco.add_argument("--batch-size", type=output.positive_int, default=None,
                     help="runs vmapped at once (default: all runs in one batch)")

    output.add_output_arguments(eco, "recsim_ecosystem", published=output.checkout_results_dir(),
                                what="plot (recsim_ecosystem.png)")
    eco.add_argument("--plot", default=None,
                     help="exact PNG path of the utility and provider-concentration plot (default "
                          "OUT/recsim_ecosystem.png; '' to skip the plot)")
    eco.add_argument("--json", action="store_true", help="print the summary as JSON")
    eco.set_defaults(recsim_handler=_ecosystem)


def add_subcommands(subparsers) -> argparse.ArgumentParser:
    """Add the `recsim` subcommand to a `simlab` argparse subparsers object."""
    parser = subparsers.add_parser("recsim", help="recommender-ecosystem simulations")
    _configure(parser)
    parser.set_defaults(handler=run)
    return parser


PLOT_NAME = "recsim_ecosystem.png"


def _plot_path(args) -> str | None:
    """Where `ecosystem` writes its plot (None: no plot); raises ValueError if it may not be written."""


    if args.plot == "":
        return None
    if args.plot is not None:
        if args.publish or args.out is not None:
            raise ValueError("--plot PATH names the file itself; do not combine it with --out or --publish")
        path = Path(args.plot)
        output.check_writable(path.parent, [path.name], overwrite=args.overwrite)
        return str(path)
    out = output.prepare_output(args, "recsim_ecosystem", [PLOT_NAME], published=output.checkout_results_dir())
    return str(out / PLOT_NAME)


def _ecosystem(args) -> int:
    try:
        plot_path = _plot_path(args)
    except ValueError as err:
        print(f"simlab recsim ecosystem: error: {err}", file=sys.stderr)
        return 2

    result = ecosystem.run_study(seed=args.seed, num_runs=args.runs, num_users=args.users,
                                 horizon=args.horizon, num_docs=args.docs, batch_size=args.batch_size)
    summary = result.summary()
    report = {policy: {"mean": s["mean"], "stderr": s["stderr"]} for policy, s in summary.items()}
    report["concentration"] = {policy: {"click_hhi_first_10_steps": s["hhi_start"],
                                        "click_hhi_last_10_steps": s["hhi_end"]}
                               for policy, s in summary.items()}
    report["config"] = {"runs_per_policy": args.runs, "users": args.users, "horizon": args.horizon,
                        "docs": args.docs, "seed": args.seed}
    report["seconds"] = {"all_runs": result.seconds, "compile": result.compile_seconds}
    if plot_path:
        os.makedirs(os.path.dirname(os.path.abspath(plot_path)), exist_ok=True)
        report["plot"] = ecosystem.plot_study(result, plot_path)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        for policy in summary:
            s = summary[policy]
            print(f"{policy:>15}: cumulative user utility {s['mean']:.2f} ± {s['stderr']:.2f} (s.e., "
                  f"{args.runs} runs); click HHI {s['hhi_start']:.4f} -> {s['hhi_end']:.4f}")
        print(f"{2 * args.runs} runs in {result.seconds:.1f} s (+ {result.compile_seconds:.1f} s compile)")
        if plot_path:
            print(f"plot: {report['plot']}")
    return 0


def run(args) -> int:
    """Dispatch parsed arguments (from `add_subcommands` or `main`)."""
    return args.recsim_handler(args)


def build_parser() -> argparse.ArgumentParser:
    """The `simlab recsim` parser (one sub-command per application)."""
    parser = argparse.ArgumentParser(prog="simlab recsim", description=__doc__.splitlines()[0])
    _configure(parser)
    return parser


def main(argv=None) -> int:
    """`python -m recsim.cli APP ...`; returns the exit status."""
    return run(build_parser().parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
