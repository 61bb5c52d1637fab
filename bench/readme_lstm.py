"""The README's recurrent example learns at its default budget: `distillrl train --env
"gym:CartPole-v1?keep=0+2" --net.lstm 64` (100k frames, the CartPole preset) against the same
command without the LSTM, same seeds.

    python bench/readme_lstm.py [--seeds 1 2] → bench/results/readme_lstm.json
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from cli_runs import run


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--out", default="bench/results/readme_lstm.json")
    args = ap.parse_args()
    env = "gym:CartPole-v1?keep=0+2"
    res: dict = {"command": "python bench/readme_lstm.py --seeds " + " ".join(map(str, args.seeds)),
                 "env": env, "runs": {"lstm": [], "feed_forward": []}}
    with tempfile.TemporaryDirectory() as tmp:
        for s in args.seeds:
            for name, extra in (("lstm", ["--net.lstm", "64"]), ("feed_forward", [])):
                sm = run("train", Path(tmp) / f"{name}-{s}", ["--env", env, *extra, "--seed", str(s),
                                                              "--eval-episodes", "30"])
                res["runs"][name].append({"seed": s, "mean_return": sm["mean_return"], "wall_s": sm["wall_s"],
                                          "steps": sm["steps"]})
    Path(args.out).write_text(json.dumps(res, indent=2) + "\n")
    print(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
