"""The codistillation term (Anil et al. 2018): ψ·H(mean of the other peers' stale policies ‖ own)."""

from __future__ import annotations

import numpy as np
import torch

from distillrl.core import losses as L
from distillrl.core.distributions import Categorical
from distillrl.core.terms import LossTerm
from distillrl.errors import ConfigError
from distillrl.models.agent import Agent


class CodistillTerm(LossTerm):
    """ψ · H(mean of the other peers' stale policies ‖ own policy) on the peer's own rollouts."""

    name = "codistill"
    requires = frozenset({"logits"})
    gpu_ok = True
    """on a learner's ``--device``: the peers stay on the CPU and label each rollout there (the labels
    move with the batch)"""

    def __init__(self, psi: float, burn_in: int = 0):
        self.psi0, self.burn_in = psi, burn_in
        self.peers: list[Agent] = []
        self.version = -1  # the exchange round the stale copies come from
        self.received_at = 0  # this peer's update count when they arrived
        self.last: dict[str, float] = {}

    def attach(self, trainer) -> None:
        if trainer.dist is not Categorical:  # the mean of the peers' policies is a Categorical mixture
            raise ConfigError(f"codistillation averages Categorical policies; this student's is {trainer.dist.name}")
        self.trainer = trainer
        trainer.hp.declare("psi", self.psi0, "≥ 0")

    def set_peers(self, weights: list[dict[str, np.ndarray]], version: int) -> None:
        """The other peers' weights (``Agent.state_dict()`` as arrays), as of exchange ``version``."""
        spec = self.trainer.agent.spec()
        while len(self.peers) < len(weights):
            a = Agent.from_spec(spec)
            a.requires_grad_(False)
            self.peers.append(a)
        for a, w in zip(self.peers, weights):
            a.load_state_dict({k: torch.as_tensor(np.array(v)) for k, v in w.items()})
        self.version = version
        self.received_at = self.trainer.updates

    @torch.no_grad()
    def peer_probs(self, obs: torch.Tensor, task_id: torch.Tensor) -> torch.Tensor:
        """Mean of the stale peers' policies, [B, A] (a mixture of Categorical policies is one)."""
        return torch.stack([a.distribution(a(obs, task_id).logits).probs for a in self.peers]).mean(0)

    def active(self) -> bool:
        return bool(self.peers) and self.trainer.frames >= self.burn_in

    def on_rollout(self, ro) -> None:
        if not self.active():
            return
        T, n = ro.shape
        obs = ro.obs.reshape((T * n,) + tuple(ro.obs.shape[2:]))
        p = self.peer_probs(obs, ro.task_id.reshape(-1))
        ro.extras["p_codistill"] = p.view(T, n, -1)
        own = self.trainer.dist(ro.logits.reshape(T * n, -1)).mode()
        self.last = {"codistill/agreement": float((own == self.trainer.dist.from_target(p).mode()).float().mean()),
                     "codistill/staleness": float(self.trainer.updates - self.received_at)}

    def __call__(self, out, mb) -> dict[str, torch.Tensor]:
        p = mb.extras.get("p_codistill")
        if p is None:
            return {"loss_codistill": out.logits.sum() * 0.0}
        return {"loss_codistill": L.cross_entropy(out.logits, p, dist=self.trainer.dist)}

    def weights(self, trainer) -> dict[str, float]:
        return {"loss_codistill": trainer.hp["psi"] if self.active() else 0.0}

    def metrics(self) -> dict[str, float]:
        return {**self.last, "codistill/version": float(self.version)}

    def state_dict(self) -> dict:
        return {"version": self.version, "received_at": self.received_at,
                "peers": {str(i): a.state_dict() for i, a in enumerate(self.peers)}}

    def load_state_dict(self, s: dict) -> None:
        ws = [s["peers"][str(i)] for i in range(len(s["peers"]))]
        if ws:
            self.set_peers([{k: v.numpy() for k, v in w.items()} for w in ws], int(s["version"]))
        self.received_at = int(s["received_at"])
