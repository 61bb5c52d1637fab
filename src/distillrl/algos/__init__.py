"""The algorithms, each registered by name in :data:`trainer.ALGORITHMS`, and the ``train``
command's configuration. ``make_trainer(cfg)`` builds the trainer ``cfg.algo`` names.

Each algorithm's config sits next to it (:class:`ppo.PPOConfig`, :class:`dqn.DQNConfig`,
:class:`distill.DistillConfig`); :class:`TrainConfig` composes the ones ``train`` can use.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from distillrl.algos import distill, dqn, impala, ppo, pqn  # noqa: F401  (register the algorithms)
from distillrl.algos.base import ALGORITHMS, EnvTrainer, RunConfig, check_task_envs
from distillrl.algos.dqn import DQNConfig
from distillrl.algos.impala import ActorOptions, ImpalaConfig, check_impala
from distillrl.algos.online import OnlineDistill, OnlineOptions
from distillrl.algos.ppo import PPOConfig, check_ppo
from distillrl.algos.pqn import PQNConfig, check_pqn
from distillrl.config import Live, knob, section, validate
from distillrl.core.protocol import Trainer
from distillrl.envs.make import split_specs
from distillrl.errors import ConfigError
from distillrl.models.nets import NetConfig
from distillrl.terms.rnd import RND_ALGOS, IntrinsicConfig, add_rnd

__all__ = ["ALGORITHMS", "DQNConfig", "ImpalaConfig", "PPOConfig", "PQNConfig", "TrainConfig", "make_trainer",
           "train_live_hparams"]


@dataclass
class TrainConfig(RunConfig, ActorOptions):
    """Train a PPO, A2C, DQN, PQN or IMPALA agent."""

    algo: Literal["ppo", "a2c", "dqn", "pqn", "impala"] = knob(
        "ppo", help="learner: ppo, a2c (synchronous A2C: one epoch, one minibatch; uses the ppo.* settings), dqn, pqn "
                    "(parallel Q-learning: vector envs, Q(λ), no replay), or impala (V-trace; actors on Ray: "
                    "--actors, --address), or dt (a Decision Transformer from offline datasets; its options: "
                    "train --algo dt --help)", also=("dt",))
    ppo: PPOConfig = section(PPOConfig, algos=("ppo", "a2c"))
    dqn: DQNConfig = section(DQNConfig, algos=("dqn",))
    pqn: PQNConfig = section(PQNConfig, algos=("pqn",))
    impala: ImpalaConfig = section(ImpalaConfig, algos=("impala",))
    net: NetConfig = section(NetConfig)
    online_distill: bool = knob(False, help="also distil the teacher's best checkpoint so far into a student while it "
                                            "trains (Rusu et al.'s online distillation; see the online.* options)")
    online: OnlineOptions = section(OnlineOptions)
    rnd: bool = knob(False, help="add the random-network-distillation exploration bonus (Burda et al.; ppo, a2c, "
                                 "impala; see the intrinsic.* options)", algos=RND_ALGOS)
    intrinsic: IntrinsicConfig = section(IntrinsicConfig, algos=RND_ALGOS)

    def check(self) -> None:
        if self.online_distill and len(split_specs(self.env)) > 1:
            raise ConfigError("--online-distill takes one environment, not a task set")
        if self.online_distill and self.rnd:
            raise ConfigError("--rnd trains an explorer; it cannot be combined with --online-distill")
        check_learner(self)


def check_learner(cfg) -> None:
    """The learner's cross-field rules, for every config with ``algo``, ``env``, ``net`` and the
    learner's settings (``train``, ``kickstart``)."""
    check_ppo(cfg.ppo, cfg.algo, cfg.net.lstm > 0)
    check_recurrent(cfg.net, cfg.env, cfg.algo)
    if getattr(cfg, "rnd", False) and cfg.algo not in RND_ALGOS:
        raise ConfigError(f"--rnd needs an on-policy learner with a value head (ppo, a2c or impala), not {cfg.algo}")
    if cfg.algo == "dqn":
        check_task_envs(cfg.env, cfg.dqn.num_envs, "--dqn.num-envs")
    elif cfg.algo == "pqn":
        check_pqn(cfg.pqn)
        check_task_envs(cfg.env, cfg.pqn.num_envs, "--pqn.num-envs")
    elif cfg.algo == "impala":
        check_impala(cfg)
    else:
        check_task_envs(cfg.env, cfg.ppo.num_envs, "--ppo.num-envs")


def check_recurrent(net: NetConfig, env: str, algo: str) -> None:
    """Recurrent agents: PPO, A2C and IMPALA, one task (the config layer's cross-field rule)."""
    if net.lstm <= 0:
        return
    if algo not in ("ppo", "a2c", "impala"):
        raise ConfigError(f"--net.lstm needs an on-policy learner (ppo, a2c or impala), not {algo}")
    if len(split_specs(env)) > 1:
        raise ConfigError("--net.lstm: recurrent students of a task set are not supported; give one environment")


def train_live_hparams(cfg: TrainConfig) -> dict[str, Live]:
    """The live hyper-parameters of the trainer :func:`make_trainer` builds for ``cfg``, without
    building it (RND adds none; online distillation's are its teacher's)."""
    return (OnlineDistill if cfg.online_distill else ALGORITHMS[cfg.algo]).live_hparams(cfg)


def make_trainer(cfg: TrainConfig) -> Trainer:
    """The trainer for ``cfg.algo`` (validated by the config layer first)."""
    validate(cfg)
    if cfg.online_distill:
        return OnlineDistill(cfg)
    tr = ALGORITHMS[cfg.algo](cfg)
    add_rnd(tr, cfg)
    return tr
