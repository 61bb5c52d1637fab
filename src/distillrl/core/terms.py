"""The loss-term protocol: an extra loss (kickstarting, RND, codistillation, ...) that a trainer's
learner weights and adds to its own terms, with hooks around collection and the return estimator."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch

if TYPE_CHECKING:  # annotations only: the protocol sits below the models and the trainers
    from distillrl.algos.base import EnvTrainer
    from distillrl.models.agent import AgentOutput


class LossTerm:
    """An extra loss added to a trainer's learner (kickstarting, RND, codistillation, ...).

    * ``requires``: the agent outputs the term reads (``logits``, ``value``, ``q``); a trainer
      whose agent lacks one refuses the term.
    * ``changes_rewards``: the term edits rewards in ``on_rollout`` (an intrinsic reward); only
      on-policy trainers, which run a return estimator after collection, accept it.
    * ``attach(trainer)``: called once by ``add_loss`` (declare live hyper-parameters here).
    * ``on_rollout(rollout)``: once per rollout, *before* the return estimator (on-policy
      trainers only) — e.g. label the rollout with teacher outputs in one batched forward.
    * ``on_advantages(rollout, **learner_outputs)``: after the estimator wrote advantages and
      returns (on-policy trainers) — e.g. RND adds its intrinsic stream's advantages.
    * ``__call__(out, mb)``: named ``loss_*`` terms (and diagnostics) for one minibatch.
    * ``weights(trainer)``: the weight of each ``loss_*`` term, once per update round.
    * ``metrics()``: values to log with the round's row (grouped names, e.g. ``kickstart/lambda_0``).
    """

    name: str = "term"
    requires: frozenset[str] = frozenset({"logits"})
    changes_rewards: bool = False

    def attach(self, trainer: EnvTrainer) -> None:
        pass

    def on_rollout(self, rollout: Any) -> None:
        pass

    def on_advantages(self, rollout: Any, **learner_outputs: Any) -> None:
        pass

    def __call__(self, out: AgentOutput, mb: Any) -> dict[str, torch.Tensor]:  # pragma: no cover - abstract
        raise NotImplementedError

    def weights(self, trainer: EnvTrainer) -> dict[str, float]:
        return {f"loss_{self.name}": 1.0}

    def metrics(self) -> dict[str, float]:
        return {}

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state: dict) -> None:
        pass


def metric_name(term: str) -> str:
    """``loss_pg`` → ``losses/pg_loss``; a diagnostic ``approx_kl`` → ``losses/approx_kl`` (CleanRL's tags)."""
    return f"losses/{term[5:]}_loss" if term.startswith("loss_") else f"losses/{term}"
