"""Kickstarting figures (issue: kickstarting).

Every run is a real run directory (``runs/bench/kickstart/<game>/<variant>-s<seed>``) made by
the CLI, so ``distillrl report`` computes the speed-ups and curves from them:

* ``main``: per game, from scratch vs kickstarted from the zoo teacher (same architecture)
  vs kickstarted into a 4× larger student (width 2), same frame budget and seeds;
* ``schedules``: constant / linear / performance-based λ on one game;
* ``incompetent``: a random-weights teacher beside the good one at fixed λ (constant);
* ``overhead``: training SPS with one teacher ÷ without, alternating in the same process.

    python bench/bench_kickstart.py main --games breakout space_invaders --seeds 1 2 3 --steps 500000
    python bench/bench_kickstart.py schedules incompetent --games breakout
    python bench/bench_kickstart.py overhead
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

from cli_runs import run, zoo5m

ROOT = Path("runs/bench/kickstart")


def random_teacher(game: str) -> Path:
    """A teacher with random weights: a fresh, untrained PPO agent saved as a run directory."""
    d = ROOT / game / "random-teacher"
    if not (d / "checkpoints/last.safetensors").exists():
        import torch

        from distillrl.core import checkpoint
        from distillrl.config import to_dict
        from distillrl.envs.make import env_info
        from distillrl.models.agent import Agent
        from distillrl.algos import TrainConfig

        torch.manual_seed(12345)
        cfg = TrainConfig(env=f"minatar:{game}")
        agent = Agent(env_info(cfg.env), cfg.net)
        with torch.no_grad():  # random, confident preferences rather than a near-uniform policy
            agent.pi.weight.normal_(0, 1.0)
        checkpoint.save(d / "checkpoints/last.safetensors", {"algo": "ppo", "agent": agent.state_dict()},
                        {"kind": "train", "config": to_dict(cfg), "agent": agent.spec(), "env": cfg.env})
    return d


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("parts", nargs="+", choices=["main", "schedules", "incompetent", "overhead"])
    ap.add_argument("--games", nargs="+", default=["breakout"])
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    ap.add_argument("--steps", type=int, default=500_000)
    ap.add_argument("--decay", type=int, default=250_000, help="linear schedule: frames until λ = 0")
    ap.add_argument("--variants", nargs="+", default=["scratch", "kickstart", "kickstart-4x"],
                    help="main: which of scratch, kickstart, kickstart-4x to run")
    args = ap.parse_args()
    for part in args.parts:
        if part == "overhead":
            overhead()
            continue
        for g in args.games:
            base = ["--env", f"minatar:{g}", "--steps", str(args.steps), "--eval-episodes", "30"]
            teacher = ["--teacher", zoo5m(g)]
            lin = ["--schedule", "linear", "--decay-frames", str(args.decay)]
            for s in args.seeds:
                seed = ["--seed", str(s)]
                if part == "main":
                    if "scratch" in args.variants:
                        run("train", ROOT / g / f"scratch-s{s}", base + seed)
                    if "kickstart" in args.variants:
                        run("kickstart", ROOT / g / f"kickstart-s{s}", base + seed + teacher + lin)
                    if "kickstart-4x" in args.variants:
                        run("kickstart", ROOT / g / f"kickstart-4x-s{s}",
                            base + seed + teacher + lin + ["--net.width", "2"])
                elif part == "schedules":
                    run("kickstart", ROOT / g / f"kickstart-s{s}", base + seed + teacher + lin)
                    run("kickstart", ROOT / g / f"constant-s{s}", base + seed + teacher + ["--schedule", "constant"])
                    run("kickstart", ROOT / g / f"performance-s{s}", base + seed + teacher + ["--schedule", "performance"])
                elif part == "incompetent":
                    run("kickstart", ROOT / g / f"constant-s{s}", base + seed + teacher + ["--schedule", "constant"])
                    run("kickstart", ROOT / g / f"random-teacher-s{s}",
                        base + seed + ["--teacher", str(random_teacher(g)), "--schedule", "constant"])
                    run("train", ROOT / g / f"scratch-s{s}", base + seed)


def overhead(frames: int = 49_152, repeats: int = 3) -> None:
    """SPS with one teacher ÷ without, MinAtar Breakout, zoo preset, alternating runs."""
    import torch

    from distillrl.algos.kickstart import KickstartConfig, make_kickstart_trainer
    from distillrl.runs.presets import preset
    from distillrl.config import from_dict
    from distillrl.algos import TrainConfig, make_trainer

    torch.set_num_threads(1)
    env = "minatar:breakout"

    def sps(with_teacher: bool) -> float:
        if with_teacher:
            cfg = from_dict(KickstartConfig, {**preset(env, "ppo"), "env": env, "teacher": [zoo5m("breakout")]})
            tr = make_kickstart_trainer(cfg)
        else:
            tr = make_trainer(from_dict(TrainConfig, {**preset(env, "ppo"), "env": env}))
        tr.advance(4096)
        t = time.perf_counter()
        tr.advance(frames)
        return frames / (time.perf_counter() - t)

    w, wo = [], []
    for _ in range(repeats):
        wo.append(sps(False))
        w.append(sps(True))
    res = {"command": "python bench/bench_kickstart.py overhead", "env": env, "frames": frames,
           "sps_without": wo, "sps_with_teacher": w,
           "ratio": statistics.median(w) / statistics.median(wo)}
    out = Path("bench/results/kickstart_overhead.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(res, indent=2) + "\n")
    print(f"overhead: with/without = {res['ratio']:.3f}", flush=True)


if __name__ == "__main__":
    main()
