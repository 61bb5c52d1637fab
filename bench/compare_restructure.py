"""Issue 23's before/after, in one run: the code before the restructure (default f15ccf2) and the
current tree, measured alternately on the same machine.

Every measurement is a CLI run in a fresh subprocess with ``PYTHONPATH`` at one version's
``src`` (the CLI is the one interface both versions share); old and new alternate within each
repeat, so both see the same machine conditions. Same venv, same packages.

Parts:
  speed    training frames/s (the summary's ``sps``: frames over the run loop's wall time) of every
           learner — PPO (CartPole, Breakout), A2C, DQN, PQN, IMPALA (actors in the learner's
           process), distillation, kickstarting, the Decision Transformer and offline
           distillation — median of ``--repeats``; ratio new/old (target ≥ 0.98).
  cartpole `distillrl train --env gym:CartPole-v1 --steps 100000 --seed S`, greedy return over
           30 episodes, seeds 1–5, both versions (target: 500 on every seed).
  shape    modules per package, the largest module, import-linter layers, and the option count
           of ``kickstart --algo ppo --help`` and ``train --help``, both versions.

    python bench/compare_restructure.py [--old f15ccf2] [--parts speed cartpole shape] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import tomllib
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
B = "minatar:breakout"

# (name, command line). Small budgets: long enough that start-up is a small part of the loop's wall.
LEARNERS = [
    ("ppo-cartpole", ["train", "--env", "gym:CartPole-v1", "--steps", "40960"]),
    ("ppo-breakout", ["train", "--env", B, "--steps", "40960"]),
    ("a2c-breakout", ["train", "--algo", "a2c", "--env", B, "--steps", "40960"]),
    ("dqn-breakout", ["train", "--algo", "dqn", "--env", B, "--steps", "15000"]),
    ("pqn-breakout", ["train", "--algo", "pqn", "--env", B, "--steps", "40960"]),
    # IMPALA's recipe spelled out (its defaults became this recipe after the restructure)
    ("impala-breakout", ["train", "--algo", "impala", "--actors", "0", "--env", B, "--steps", "40960",
                         "--impala.num-envs", "16", "--impala.lr", "1e-3", "--impala.broadcast-every", "2"]),
    ("distill-breakout", ["distill", "--teacher", "minatar-breakout", "--env", B, "--steps", "40960"]),
    ("kickstart-breakout", ["kickstart", "--teacher", "minatar-breakout", "--env", B, "--steps", "40960"]),
    ("dt-breakout", ["train", "--algo", "dt", "--dataset", "{dataset}", "--dataset-root", "{root}", "--steps", "300"]),
    ("offline-distill-breakout", ["distill", "--offline", "--teacher", "{dt_run}", "--dataset", "{dataset}",
                                  "--dataset-root", "{root}", "--steps", "300"]),
]


def cli(src: Path, args: list[str], run_dir: Path | None, timeout: int = 3600) -> dict:
    env = {**os.environ, "PYTHONPATH": str(src), "PYTHONHASHSEED": "0"}
    where = ["--run-dir", str(run_dir)] if run_dir else []
    cmd = [sys.executable, "-m", "distillrl.cli", *args, *where, "--json", "--no-progress"]
    p = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout, cwd=ROOT)
    if p.returncode:
        raise RuntimeError(f"{' '.join(cmd)} (PYTHONPATH={src}) failed:\n{p.stderr[-2000:]}")
    return json.loads(p.stdout.strip().splitlines()[-1])


def help_options(src: Path, args: list[str]) -> int:
    env = {**os.environ, "PYTHONPATH": str(src)}
    p = subprocess.run([sys.executable, "-m", "distillrl.cli", *args, "--help"], capture_output=True, text=True,
                       env=env, cwd=ROOT)
    opts = set(re.findall(r"^\s{2}(--[\w.-]+)", p.stdout, re.M)) - {"--help"}
    return len(opts)


def shape(src: Path) -> dict:
    pkg = src / "distillrl"
    mods = [p for p in pkg.rglob("*.py") if "zoo" not in p.parts]
    per = Counter((p.relative_to(pkg).parts[0] if len(p.relative_to(pkg).parts) > 1 else "(top)") for p in mods)
    largest = max(mods, key=lambda p: len(p.read_text().splitlines()))
    py = tomllib.loads((src.parent / "pyproject.toml").read_text())
    contracts = py.get("tool", {}).get("importlinter", {}).get("contracts", [])
    layers = sum(len(c.get("layers", [])) for c in contracts if c.get("type") == "layers")
    widest = max((len(layer.split("|")) for c in contracts for layer in c.get("layers", [])), default=0)
    return {"modules": len(mods), "modules_per_package": dict(sorted(per.items())),
            "largest_module": str(largest.relative_to(src)), "largest_module_lines": len(largest.read_text().splitlines()),
            "import_linter_layers": layers, "widest_layer_modules": widest,
            "help_options_kickstart_ppo": help_options(src, ["kickstart", "--algo", "ppo"]),
            "help_options_train": help_options(src, ["train"])}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--old", default="f15ccf2")
    ap.add_argument("--new", default="HEAD", help="the commit measured as new (extracted like the old one, so the "
                    "working tree may change while this runs)")
    ap.add_argument("--parts", nargs="+", default=["shape", "speed", "cartpole"], choices=["shape", "speed", "cartpole"])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--learners", nargs="+", default=[n for n, _ in LEARNERS])
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5])
    ap.add_argument("--out", default="bench/results/compare_restructure.json")
    args = ap.parse_args()
    out_path = Path(args.out)
    res = json.loads(out_path.read_text()) if out_path.exists() else {}
    head = subprocess.run(["git", "rev-parse", "--short", args.new], capture_output=True, text=True,
                          cwd=ROOT).stdout.strip()
    res.update({"command": " ".join(["python"] + sys.argv), "old": args.old, "new": head})

    def save():
        out_path.parent.mkdir(parents=True, exist_ok=True)
        out_path.write_text(json.dumps(res, indent=2) + "\n")

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for v, ref in (("old", args.old), ("new", head)):
            (tmp / v).mkdir()
            arch = subprocess.run(["git", "archive", ref, "src", "pyproject.toml"], capture_output=True, cwd=ROOT,
                                  check=True).stdout
            subprocess.run(["tar", "-x", "-C", str(tmp / v)], input=arch, check=True)
        versions = {"old": tmp / "old" / "src", "new": tmp / "new" / "src"}
        n = 0

        def rd() -> Path:
            nonlocal n
            n += 1
            return tmp / f"run-{n}"

        if "shape" in args.parts:
            res["shape"] = {v: shape(src) for v, src in versions.items()}
            print(json.dumps(res["shape"], indent=1), flush=True)
            save()
        if "speed" in args.parts:
            # the offline track's inputs, made once by the new version and read by both
            root = tmp / "datasets"
            fill = {"root": str(root), "dataset": "distillrl/breakout-bench-v0"}
            if any(n_.startswith(("dt", "offline")) for n_ in args.learners):
                cli(versions["new"], ["dataset", "--teacher", "minatar-breakout", "--episodes", "30", "--epsilon", "0.1",
                                      "--name", fill["dataset"], "--root", str(root)], None)
                dt_run = rd()
                cli(versions["new"], ["train", "--algo", "dt", "--dataset", fill["dataset"], "--dataset-root", str(root),
                                      "--steps", "300", "--eval-episodes", "0"], dt_run)
                fill["dt_run"] = str(dt_run)
            rows = res.get("speed", {})
            for name, argv in LEARNERS:
                if name not in args.learners:
                    continue
                argv = [a.format(**fill) for a in argv] + ["--eval-episodes", "0", "--seed", "1"]
                got = {"old": [], "new": []}
                for r in range(args.repeats):
                    order = list(versions.items()) if r % 2 == 0 else list(versions.items())[::-1]
                    for v, src in order:
                        got[v].append(cli(src, argv, rd())["sps"])
                ratio = statistics.median(got["new"]) / statistics.median(got["old"])
                rows[name] = {"command": "distillrl " + " ".join(argv), "old_sps": got["old"], "new_sps": got["new"],
                              "new_over_old": ratio}
                print(f"{name}: old {statistics.median(got['old']):.0f}  new {statistics.median(got['new']):.0f} "
                      f"sps  new/old {ratio:.3f}", flush=True)
                res["speed"] = rows
                save()
        if "cartpole" in args.parts:
            runs = {"old": [], "new": []}
            for s in args.seeds:
                for v, src in versions.items():
                    t = time.time()
                    r = cli(src, ["train", "--env", "gym:CartPole-v1", "--steps", "100000", "--seed", str(s),
                                  "--eval-episodes", "30"], rd())
                    runs[v].append({"seed": s, "mean_return": r["mean_return"], "sps": r["sps"], "wall_s": time.time() - t})
                    print(f"cartpole {v} seed {s}: {r['mean_return']:.1f}", flush=True)
            res["cartpole"] = {v: {"runs": r, "min_return": min(x["mean_return"] for x in r),
                                   "all_500": all(x["mean_return"] >= 500 for x in r)} for v, r in runs.items()}
            save()
    print(f"wrote {out_path}")


if __name__ == "__main__":
    main()
