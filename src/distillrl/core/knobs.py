"""The options several learners share, each declared once: its domain and its help text
(:func:`distillrl.config.knob`). A learner's config owns the field and picks its default::

    lr: float = K.lr(2.5e-4)                 # > 0, "learning rate"
    gamma: float = K.gamma()                 # [0, 1], "discount"

A help text may be made more precise where a learner means something narrower (``K.lr(6e-4,
"peak learning rate (AdamW)")``); the domain never changes. Which of a config's fields are
live hyper-parameters is declared by the config class itself (``LIVE``).
"""

from __future__ import annotations

from typing import Any

from distillrl.config import knob

# ---- optimisation


def lr(default: float, help: str = "learning rate") -> Any:
    return knob(default, "> 0", help)


def anneal_lr(default: bool = True) -> Any:
    return knob(default, help="decay the learning rate linearly to 0 over the run")


def max_grad_norm(default: float, help: str = "global gradient-norm clip (0 disables)") -> Any:
    return knob(default, "≥ 0", help)


def optim_eps(default: float = 1e-5, help: str = "optimizer ε (Adam's or RMSProp's)") -> Any:
    return knob(default, "> 0", help)


def rmsprop_alpha(default: float = 0.99) -> Any:
    return knob(default, "(0, 1)", "RMSProp smoothing constant α")


def batch_size(default: int, help: str = "minibatch size") -> Any:
    return knob(default, "≥ 1", help)


def buffer_size(default: int, help: str = "replay capacity in transitions") -> Any:
    return knob(default, "≥ 1", help)


# ---- acting and returns


def num_envs(default: int, help: str = "parallel environments") -> Any:
    return knob(default, "≥ 1", help)


def num_steps(default: int, help: str = "steps per environment per rollout") -> Any:
    return knob(default, "≥ 1", help)


def gamma(default: float = 0.99, help: str = "discount") -> Any:
    return knob(default, "[0, 1]", help)


def ent_coef(default: float = 0.01, help: str = "entropy bonus weight") -> Any:
    return knob(default, "≥ 0", help)


def vf_coef(default: float = 0.5, help: str = "value loss weight") -> Any:
    return knob(default, "≥ 0", help)


def eps_start(default: float = 1.0, help: str = "initial ε of ε-greedy acting") -> Any:
    return knob(default, "[0, 1]", help)


def eps_end(default: float, help: str = "final ε") -> Any:
    return knob(default, "[0, 1]", help)


# ---- teachers and students


def teacher_tau(default: float | None, help: str) -> Any:
    """The teacher's softmax temperature τ (softmax(outputs/τ)); distinct from DQN's target-network rate."""
    return knob(default, "> 0", help)


def teacher_obs_groups(who: str) -> Any:
    return knob("", help=f"observation groups {who} reads, comma-separated (e.g. priv,a), for environments whose "
                         "observations are a Dict of named groups (default: a distillrl teacher reads the groups it "
                         "was trained on, others the packed observation); see distillrl.envs.groups")


def student_size(default: float | None, help: str) -> Any:
    return knob(default, "(0, 4]", help)


# ---- runs


def steps(default: int, help: str = "environment frames to train for") -> Any:
    return knob(default, "≥ 1", help)


def seed(default: int = 1, help: str = "random seed (weights, sampling, environments)") -> Any:
    return knob(default, "≥ 0", help)


def threads(default: int = 1, help: str = "torch CPU threads") -> Any:
    return knob(default, "≥ 1", help)


def checkpoint_every(default: int, help: str = "frames between checkpoints (the first is written after the first "
                                              "update)") -> Any:
    return knob(default, "≥ 1", help)


def eval_episodes(default: int, help: str) -> Any:
    return knob(default, "≥ 0", help)


def max_episode_steps(help: str = "cap on episode length (None: the env's own limit)") -> Any:
    return knob(None, "≥ 1", help)


def log_every(default: int, help: str = "frames between metric rows") -> Any:
    return knob(default, "≥ 1", help)
