"""The algorithms, each registered by name in :data:`trainer.ALGORITHMS`, and the ``train``
command's configuration. ``make_trainer(cfg)`` builds the trainer ``cfg.algo`` names.

Each algorithm's config sits next to it (:class:`ppo.PPOConfig`, :class:`dqn.DQNConfig`,
:class:`distill.DistillConfig`); :class:`TrainConfig` composes the ones ``train`` can use.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from ..envs import split_specs
from ..errors import ConfigError
from ..nets import NetConfig
from ..trainer import ALGORITHMS, RunConfig, Trainer, check_task_envs
from . import distill, dqn, ppo  # noqa: F401  (register the algorithms)
from .dqn import DQNConfig
from .online import OnlineOptions
from .ppo import PPOConfig, check_ppo

__all__ = ["TrainConfig", "PPOConfig", "DQNConfig", "make_trainer", "ALGORITHMS"]


@dataclass
class TrainConfig(RunConfig):
    """Train a PPO, A2C or DQN agent."""

    algo: Literal["ppo", "a2c", "dqn"] = "ppo"
    """learner: ppo, a2c (synchronous A2C: one epoch, one minibatch; uses the ppo.* settings) or dqn"""
    ppo: PPOConfig = field(default_factory=PPOConfig)
    dqn: DQNConfig = field(default_factory=DQNConfig)
    net: NetConfig = field(default_factory=NetConfig)
    online_distill: bool = False
    """also distil the teacher's best checkpoint so far into a student while it trains (Rusu et al.'s online distillation; see the online.* options)"""
    online: OnlineOptions = field(default_factory=OnlineOptions)

    def check(self) -> None:
        check_ppo(self.ppo, self.algo)
        if self.online_distill and len(split_specs(self.env)) > 1:
            raise ConfigError("--online-distill takes one environment, not a task set")
        if self.algo == "dqn":
            check_task_envs(self.env, self.dqn.num_envs, "--dqn.num-envs")
        else:
            check_task_envs(self.env, self.ppo.num_envs, "--ppo.num-envs")


def make_trainer(cfg: TrainConfig) -> Trainer:
    """The trainer for ``cfg.algo`` (validated by the config layer first)."""
    from ..config import validate

    validate(cfg)
    if getattr(cfg, "online_distill", False):
        from .online import OnlineDistill

        return OnlineDistill(cfg)
    return ALGORITHMS[cfg.algo](cfg)
