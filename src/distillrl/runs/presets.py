"""Per-environment presets, applied before a YAML file and command-line options.

Keys are an env spec (``gym:CartPole-v1``) or a family (``minatar``); an exact spec wins.
Sources are cited per entry.
"""

from __future__ import annotations

PRESETS: dict[tuple[str, str], dict] = {
    # RL Baselines3 Zoo's tuned PPO for CartPole-v1 (n_envs 8, n_steps 32, 20 epochs, λ 0.8,
    # γ 0.98, lr 1e-3 annealed, no entropy bonus): solves it within 1e5 steps.
    ("gym:CartPole-v1", "ppo"): {"ppo": {"num_envs": 8, "num_steps": 32, "num_minibatches": 1,
                                          "update_epochs": 20, "gae_lambda": 0.8, "gamma": 0.98,
                                          "lr": 1e-3, "ent_coef": 0.0}},
    # MinAtar PPO: wider batches (32 envs × 128 steps, 8 minibatches) as in gymnax-blines'
    # MinAtar PPO configs; the MinAtar network comes from arch=auto.
    ("minatar", "ppo"): {"steps": 5_000_000, "ppo": {"num_envs": 32, "num_steps": 128, "num_minibatches": 8,
                                                     "update_epochs": 4, "lr": 5e-4, "ent_coef": 0.01},
                         "checkpoint_every": 500_000, "eval_episodes": 30},
    # MinAtar paper DQN (Young & Tian 2019): 5M frames, replay 100k, batch 32, target every 1000,
    # ε 1 → 0.1 over 100k frames after 5000 random frames, centred RMSProp lr 2.5e-4.
    ("minatar", "dqn"): {"steps": 5_000_000, "dqn": {"buffer_size": 100_000, "batch_size": 32,
                                                     "learning_starts": 5000, "target_update": 1000,
                                                     "eps_end": 0.1, "eps_decay_frames": 100_000,
                                                     "optimizer": "rmsprop", "lr": 2.5e-4},
                         "checkpoint_every": 500_000, "eval_episodes": 30},
    # PQN (Gallici et al. 2024): its defaults are the paper's MinAtar settings; the budget and
    # evaluation as for the other MinAtar learners.
    ("minatar", "pqn"): {"steps": 5_000_000, "checkpoint_every": 500_000, "eval_episodes": 30},
    # A2C (Mnih et al. 2016, synchronous): 16 envs × 5 steps, one update per rollout, no clipping
    # effect (single epoch), lr 7e-4.
    ("minatar", "a2c"): {"steps": 5_000_000, "ppo": {"num_envs": 16, "num_steps": 5, "num_minibatches": 1,
                                                     "update_epochs": 1, "lr": 7e-4, "ent_coef": 0.01,
                                                     "gae_lambda": 1.0}, "checkpoint_every": 500_000},
    # MiniGrid PPO: rl-starter-files' settings (16 envs × 128 steps, batch 256, 4 epochs, lr 1e-3,
    # entropy 0.01), the setting its DoorKey results were reported with.
    ("minigrid", "ppo"): {"ppo": {"num_envs": 16, "num_steps": 128, "num_minibatches": 8, "update_epochs": 4,
                                  "lr": 1e-3, "ent_coef": 0.01, "gae_lambda": 0.95, "gamma": 0.99}},
    ("gym", "a2c"): {"ppo": {"num_envs": 8, "num_steps": 5, "num_minibatches": 1, "update_epochs": 1, "lr": 7e-4,
                             "ent_coef": 0.0, "gae_lambda": 1.0}},
    ("gym:CartPole-v1", "dqn"): {"dqn": {"buffer_size": 10_000, "learning_starts": 1000, "train_freq": 1,
                                          "target_update": 500, "eps_end": 0.05, "eps_decay_frames": 10_000,
                                          "optimizer": "adam", "lr": 1e-3, "gamma": 0.99}},
    # Pendulum: RL Baselines3 Zoo's PPO (4 envs, γ 0.9, 10 epochs, lr 1e-3, no entropy bonus; its
    # gSDE left out), with CleanRL's observation and reward normalisation: ≈ −170 in 1e5 steps.
    ("gym:Pendulum-v1", "ppo"): {"net": {"obs_norm": True},
                                 "ppo": {"num_envs": 4, "num_steps": 512, "num_minibatches": 32, "update_epochs": 10,
                                         "lr": 1e-3, "gamma": 0.9, "gae_lambda": 0.95, "ent_coef": 0.0,
                                         "norm_reward": True}},
}

# MuJoCo PPO: CleanRL's ppo_continuous_action.py (1M steps, 1 env × 2048 steps, 32 minibatches,
# 10 epochs, lr 3e-4 annealed, no entropy bonus, separate 64-64 tanh actor and critic, state-
# independent log σ, observation and reward normalisation clipped at 10) — the settings of its
# published MuJoCo results.
MUJOCO_PPO = {"steps": 1_000_000, "checkpoint_every": 200_000, "eval_episodes": 30, "net": {"obs_norm": True},
              "ppo": {"num_envs": 1, "num_steps": 2048, "num_minibatches": 32, "update_epochs": 10, "lr": 3e-4,
                      "gamma": 0.99, "gae_lambda": 0.95, "ent_coef": 0.0, "vf_coef": 0.5, "max_grad_norm": 0.5,
                      "clip_coef": 0.2, "norm_reward": True}}
MUJOCO = ("HalfCheetah", "Hopper", "Walker2d", "Ant", "Humanoid", "Swimmer", "InvertedPendulum",
          "InvertedDoublePendulum", "Reacher", "Pusher", "HumanoidStandup")
for _name in MUJOCO:
    for _v in ("v4", "v5"):
        PRESETS[(f"gym:{_name}-{_v}", "ppo")] = MUJOCO_PPO


def base_env(env: str) -> str:
    """The env an option string is a variant of: ``gym:CartPole-v1?keep=0+2`` → ``gym:CartPole-v1``;
    Gymnasium's ``module:id`` form keeps only the id (``gym:pkg.envs:My-v0`` → ``gym:My-v0``)."""
    base = env.split("?", 1)[0].strip()
    family, sep, rest = base.partition(":")
    if sep and ":" in rest:
        base = f"{family}:{rest.rsplit(':', 1)[1]}"
    return base


def preset(env: str, algo: str) -> dict:
    """The preset of ``env``'s base environment (option strings such as ``?keep=`` are variants of
    it and get its settings), else of its family, else none."""
    base = base_env(env)
    if (base, algo) in PRESETS:
        return PRESETS[(base, algo)]
    family = base.split(":", 1)[0]
    return PRESETS.get((family, algo), {})
