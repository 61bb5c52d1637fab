"""Export finished teacher runs into the shipped zoo (src/distillrl/zoo/<name>/).

Each entry gets model.safetensors (weights + the config that built them) and meta.json with
the greedy evaluation (30 episodes, seeds 0..29, the same protocol as `distillrl eval`), the
frames trained, the exact command that trained it and the MinAtar paper's 5M-frame
actor-critic reference (read from its plots).

    python bench/make_zoo.py runs/zoo/minatar-breakout [...]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from distillrl.fastpolicy import make_fast_policy
from distillrl.checkpoint import load_meta
from distillrl.evaluate import evaluate, summarize
from distillrl.zoo import ZOO_DIR, export_model, load_agent

REFERENCE_AC = {"minatar:breakout": 17.5, "minatar:asterix": 19.0, "minatar:freeway": 47.5,
                "minatar:space_invaders": 185.0, "minatar:seaquest": 15.5, "gym:CartPole-v1": 500.0}


def main(run_dirs: list[str]) -> None:
    for rd in run_dirs:
        rd = Path(rd)
        meta = load_meta(rd / "checkpoints/last.safetensors")
        cfg = meta["config"]
        env = cfg["env"]
        name = rd.name
        out = ZOO_DIR / name
        cmd = (f"distillrl train --env {env} --algo {cfg['algo']} --steps {cfg['steps']} --seed {cfg['seed']} "
               f"--run-dir runs/zoo/{name}")
        export_model(rd, out)
        agent, _ = load_agent(str(out))
        actor = make_fast_policy(agent)
        rets, lens = evaluate(lambda o: actor(o)[0], env, 30, seed=0)
        ev = summarize(rets)
        ev["mean_length"] = float(lens.mean())
        entry = {"name": name, "env": env, "algo": cfg["algo"], "frames": int(meta["frames"]),
                 "n_params": int(meta["n_params"]), "eval": ev, "eval_protocol": "greedy, 30 episodes, seeds 0-29",
                 "reference": REFERENCE_AC.get(env), "reference_source":
                 "MinAtar paper (Young & Tian 2019), actor-critic at 5M frames, read from its plots"
                 if env.startswith("minatar") else "CartPole-v1 maximum return",
                 "command": cmd, "config": cfg}
        (out / "meta.json").write_text(json.dumps(entry, indent=2) + "\n")
        print(f"{name}: {ev['mean_return']:.2f} ± {ev['std_return']:.2f} (reference {entry['reference']}) "
              f"after {entry['frames']:,} frames")


if __name__ == "__main__":
    main(sys.argv[1:])
