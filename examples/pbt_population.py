"""Population-based training (Jaderberg et al. 2017) of kickstarting on Ray Tune: four members
kickstart a Breakout student from the zoo teacher; every ``interval`` frames a member may copy a
significantly better one (Welch's t-test on recent returns) and perturb the copied learning
rate, entropy cost and kickstarting weights. Ray runs on this machine, or joins a cluster with
``--address HOST:PORT``.

    python examples/pbt_population.py                                   # 4 × 500k frames
    python examples/pbt_population.py --steps 4096 --interval 2048 --population 2   # a smoke run

From the command line: ``distillrl pbt --config examples/pbt_breakout.yaml``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from distillrl.scale.pbt import run_pbt
from distillrl.scale.population import pbt_config_from_dict


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--population", type=int, default=4)
    ap.add_argument("--steps", type=int, default=500_000, help="frames per member")
    ap.add_argument("--interval", type=int, default=25_000, help="frames between ready points")
    ap.add_argument("--address", help="a Ray cluster's HOST:PORT (default: Ray on this machine)")
    ap.add_argument("--run-dir", default=f"runs/example-pbt-{time.strftime('%Y%m%d-%H%M%S')}")
    args = ap.parse_args()

    cfg = pbt_config_from_dict({
        "command": "kickstart",  # what each member runs: train, kickstart or distill
        "population": args.population,
        "config": {"env": "minatar:breakout", "steps": args.steps, "teacher": ["minatar-breakout"],
                   "schedule": "constant", "eval_episodes": 10},
        "pbt": {"interval": args.interval, "selection": "ttest", "window": 10},
        "priors": {"lr": {"min": 1e-4, "max": 2e-3, "log": True},
                   "ent_coef": {"min": 1e-3, "max": 0.05, "log": True},
                   "lambda_shared": {"min": 0.1, "max": 2.0, "log": True}},
    })
    summary = run_pbt(cfg, Path(args.run_dir), address=args.address)
    print(f"{summary['members_finished']} members finished, {summary['exploits']} exploits; best member "
          f"{summary['best_member']}: return {summary['best_return']:.2f} with {json.dumps(summary['best_hparams'])}")
    print(f"lineage and metrics in {args.run_dir}; `distillrl report {args.run_dir}` plots them")


if __name__ == "__main__":
    main()
