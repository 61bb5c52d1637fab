"""One student for several games (Rusu et al.'s multi-task distillation): each MinAtar teacher
teaches its own game; the student has one trunk, one head per game, and learns from one replay
buffer per game (teacher-driven data), each minibatch from one game.

    python examples/multitask_student.py                           # Breakout + Space Invaders, 300k frames
    python examples/multitask_student.py --steps 8000 --episodes 2 # a smoke run

From the command line: ``distillrl distill --env minatar:breakout,minatar:space_invaders
--teacher zoo --source teacher --student-size 0.25``.
"""

from __future__ import annotations

import argparse

from distillrl.acting.evaluation import evaluate_agent
from distillrl.algos.distill import DistillTrainer
from distillrl.algos.distill_config import DistillConfig
from distillrl.config import validate
from distillrl.runs.loop import ProgressBar, run
from distillrl.teachers.load import load_teacher


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--games", nargs="+", default=["breakout", "space_invaders"], help="MinAtar games")
    ap.add_argument("--steps", type=int, default=300_000, help="frames over all games")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--episodes", type=int, default=10, help="evaluation episodes per game")
    args = ap.parse_args()

    env = ",".join(f"minatar:{g}" for g in args.games)  # a task set: task id = position
    teachers = [f"minatar:{g}=minatar-{g}" for g in args.games]  # TASK=SOURCE, one zoo teacher per game
    cfg = validate(DistillConfig(env=env, teacher=teachers, steps=args.steps, seed=args.seed, source="teacher",
                                 loss="kl", student_size=0.25))
    trainer = DistillTrainer(cfg)
    try:
        run(trainer, [ProgressBar(f"distill {env}")])
        result = evaluate_agent(trainer, env, args.episodes, seed=1000)  # every task on its own
    finally:
        trainer.close()
    print(f"student: {trainer.n_params:,} acting parameters for {len(args.games)} games")
    for game, r in zip(args.games, result.per_task.values()):
        t = evaluate_agent(load_teacher(f"minatar-{game}"), f"minatar:{game}", args.episodes, seed=1000)
        print(f"  {game:<15} student {r.mean:6.2f}   teacher {t.mean:6.2f}   ({args.episodes} greedy episodes)")


if __name__ == "__main__":
    main()
