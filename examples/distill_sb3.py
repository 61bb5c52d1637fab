"""Policy distillation (Rusu et al. 2016) of a Stable-Baselines3 agent into a student a quarter
of its size: the student acts, the teacher labels the states it visits (``source="student"``),
and the student minimises KL(π_T ‖ π_S) on them.

    python examples/distill_sb3.py                          # trains a small SB3 PPO on CartPole first
    python examples/distill_sb3.py --teacher my_agent.zip   # your own SB3 .zip (PPO, A2C or DQN)
    python examples/distill_sb3.py --steps 4000 --sb3-steps 4000   # a smoke run

The same distillation from the command line: ``distillrl distill --teacher my_agent.zip --env
gym:CartPole-v1 --student-size 0.25``.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from distillrl.acting.evaluation import evaluate_agent
from distillrl.algos.distill import DistillTrainer
from distillrl.algos.distill_config import DistillConfig
from distillrl.config import validate
from distillrl.runs.loop import ProgressBar, run
from distillrl.teachers.load import load_teacher


def train_sb3_teacher(path: Path, steps: int, seed: int) -> None:
    """A Stable-Baselines3 PPO agent on CartPole, saved as the .zip SB3 users already have."""
    from stable_baselines3 import PPO

    PPO("MlpPolicy", "CartPole-v1", n_steps=256, batch_size=64, seed=seed, verbose=0).learn(steps).save(path)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--teacher", help="an SB3 .zip (default: train one)")
    ap.add_argument("--env", default="gym:CartPole-v1")
    ap.add_argument("--sb3-steps", type=int, default=60_000, help="SB3 training steps when no --teacher is given")
    ap.add_argument("--steps", type=int, default=50_000, help="distillation frames")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--episodes", type=int, default=20)
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        zip_path = args.teacher
        if zip_path is None:
            zip_path = str(Path(tmp) / "sb3_ppo_cartpole.zip")
            print(f"training an SB3 PPO teacher for {args.sb3_steps:,} steps ...")
            train_sb3_teacher(Path(zip_path), args.sb3_steps, args.seed)
        teacher = load_teacher(zip_path)  # weights only: the .zip's pickled parts are never executed
        cfg = validate(DistillConfig(env=args.env, teacher=[zip_path], steps=args.steps, seed=args.seed,
                                     loss="kl", source="student", student_size=0.25))
        trainer = DistillTrainer(cfg)
        try:
            run(trainer, [ProgressBar(f"distill {args.env}")])
            student = evaluate_agent(trainer, args.env, args.episodes, seed=1000)
            taught = evaluate_agent(teacher, args.env, args.episodes, seed=1000)
            print(f"teacher {taught.mean:.1f} ({teacher.n_params:,} acting parameters)  "
                  f"student {student.mean:.1f} ({trainer.n_params:,})  — {args.episodes} greedy episodes each")
        finally:
            trainer.close()


if __name__ == "__main__":
    main()
