"""Kickstarting (Schmitt et al. 2018): a PPO student on MinAtar Breakout learns from the zoo's
teacher through a decaying distillation term λ(t)·H(π_T ‖ π_S) added to its RL loss, then plays
on its own — and usually overtakes the teacher.

    python examples/kickstart_ppo.py                 # 400k frames, a few minutes on a laptop CPU
    python examples/kickstart_ppo.py --steps 20000   # a smoke run

The same run from the command line: ``distillrl kickstart --env minatar:breakout --teacher
minatar-breakout --schedule linear --decay-frames 250000``.
"""

from __future__ import annotations

import argparse

from distillrl.acting.evaluation import evaluate_agent
from distillrl.algos.kickstart import KickstartConfig, make_kickstart_trainer
from distillrl.config import from_dict, validate
from distillrl.runs.loop import Hook, ProgressBar, run
from distillrl.runs.presets import preset
from distillrl.teachers.load import load_teacher


class PrintLambda(Hook):
    """A hook sees every chunk's metric rows; this one prints λ and the return now and then."""

    def __init__(self, every: int) -> None:
        self.every, self.next = every, every

    def on_rows(self, trainer, rows) -> bool:
        if trainer.frames >= self.next and rows:
            lam = rows[-1].get("kickstart/lambda_0", float("nan"))
            recent = trainer.recent_returns()
            ret = sum(recent) / len(recent) if len(recent) else float("nan")
            print(f"{trainer.frames:>9,} frames  λ = {lam:.3f}  training return {ret:.2f}")
            self.next += self.every
        return False  # True would stop the loop


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=400_000, help="frames of training")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--episodes", type=int, default=30, help="evaluation episodes")
    args = ap.parse_args()

    env = "minatar:breakout"
    # The MinAtar PPO preset, then the kickstarting settings: λ decays linearly to 0 over 60% of the run.
    cfg = validate(from_dict(KickstartConfig, {**preset(env, "ppo"), "env": env, "steps": args.steps,
                                               "seed": args.seed, "teacher": ["minatar-breakout"],
                                               "schedule": "linear", "decay_frames": int(0.6 * args.steps)}))
    trainer = make_kickstart_trainer(cfg)
    try:
        run(trainer, [PrintLambda(max(args.steps // 8, 1)), ProgressBar(f"kickstart {env}")])
        # Student and teacher on the same episodes (reset seeds 1000, 1001, ...), greedy.
        student = evaluate_agent(trainer, env, args.episodes, seed=1000)
        teacher = evaluate_agent(load_teacher("minatar-breakout"), env, args.episodes, seed=1000)
    finally:
        trainer.close()
    print(f"student {student.mean:.2f}  teacher {teacher.mean:.2f}  ({args.episodes} greedy episodes each)")


if __name__ == "__main__":
    main()
