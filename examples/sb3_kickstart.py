"""Kickstart a Stable-Baselines3 PPO student inside SB3's own training (distillrl.sb3).

The teacher is the zoo's CartPole agent (any --teacher source works: an SB3 .zip, a hub folder,
a run directory). SB3's callbacks, logger, save/load and evaluate_policy work as usual; λ and the
term's value are in SB3's logger as kickstart/lambda and kickstart/loss.

    python examples/sb3_kickstart.py --steps 30000
"""

import argparse

from stable_baselines3 import PPO
from stable_baselines3.common.evaluation import evaluate_policy

from distillrl.sb3 import KickstartPPO

ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
ap.add_argument("--steps", type=int, default=30_000)
ap.add_argument("--episodes", type=int, default=10)
ap.add_argument("--seed", type=int, default=1)
a = ap.parse_args()

# RL Zoo's PPO settings for CartPole-v1, the same for both students
kw = dict(n_steps=32, batch_size=256, gae_lambda=0.8, gamma=0.98, n_epochs=20, ent_coef=0.0, learning_rate=1e-3,
          seed=a.seed, device="cpu")
student = KickstartPPO("MlpPolicy", "CartPole-v1", teachers=["cartpole"], schedule="linear",
                       decay_frames=a.steps // 2, **kw)
student.learn(a.steps)
print(f"kickstart/lambda at the end: λ = {student.logger.name_to_value['kickstart/lambda']:.3f}")
student.save("kickstarted_ppo.zip")
student = KickstartPPO.load("kickstarted_ppo.zip")  # a plain SB3 archive: PPO.load reads it too

alone = PPO("MlpPolicy", "CartPole-v1", **kw)
alone.learn(a.steps)
for name, model in (("kickstarted", student), ("SB3 alone", alone)):
    mean, std = evaluate_policy(model, alone.get_env(), n_eval_episodes=a.episodes)
    print(f"{name}: {mean:.1f} ± {std:.1f} after {a.steps:,} frames")
