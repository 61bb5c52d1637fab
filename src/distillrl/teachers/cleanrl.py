"""CleanRL-style state dicts as teachers (``--teacher-arch``), loaded with ``weights_only=True``."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from distillrl.core.distributions import DiagGaussian
from distillrl.errors import TeacherError
from distillrl.teachers import vecnorm
from distillrl.teachers.base import (
    FunctionalNet,
    ModuleTeacher,
    Teacher,
    _stride,
    seq_linears,
)
from distillrl.teachers.sb3 import _TwoStage

CLEANRL_ARCHES = {
    "cleanrl-ppo": "ppo.py Agent: actor = Linear-Tanh-Linear-Tanh-Linear (keys actor.0/2/4)",
    "cleanrl-dqn": "dqn.py QNetwork: network = Linear-ReLU-Linear-ReLU-Linear (keys network.0/2/4)",
    "cleanrl-ppo-atari": "ppo_atari.py Agent: network = NatureCNN (keys network.0/2/4/7), actor",
    "cleanrl-dqn-atari": "dqn_atari.py QNetwork: network = NatureCNN + Linear-ReLU-Linear (keys network.0/2/4/7/9)",
    "cleanrl-ppo-continuous": "ppo_continuous_action.py Agent: actor_mean = Linear-Tanh-Linear-Tanh-Linear (keys "
                              "actor_mean.0/2/4), actor_logstd; its NormalizeObservation statistics from an .npz "
                              "beside it (obs_rms.npz: mean, var; clip_obs 10)",
}


class _GaussianHead(nn.Module):
    def __init__(self, body: nn.Module, log_std: torch.Tensor):
        super().__init__()
        self.body = body
        self.log_std = nn.Parameter(log_std.reshape(-1).float(), False)

    def forward(self, x):
        mean = self.body(x)
        return torch.cat([mean, self.log_std.expand_as(mean)], -1)


def load_state_dict_teacher(path: str | Path, arch: str, tau: float | None = None) -> Teacher:
    path = Path(path)
    if arch not in CLEANRL_ARCHES:
        raise TeacherError(f"unknown teacher architecture {arch!r}; valid: {', '.join(CLEANRL_ARCHES)}")
    try:
        sd = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        raise TeacherError(f"refused {path}: not a plain weights file ({str(e).splitlines()[0][:200]})") from None
    if isinstance(sd, dict) and "state_dict" in sd and isinstance(sd["state_dict"], dict):
        sd = sd["state_dict"]
    if not isinstance(sd, dict) or not all(isinstance(v, torch.Tensor) for v in sd.values()):
        raise TeacherError(f"{path} does not hold a flat dict of tensors")
    try:
        if arch == "cleanrl-ppo-continuous":
            lin = seq_linears(sd, "actor_mean")
            net = _GaussianHead(FunctionalNet([], lin, torch.tanh, False, 1.0, False), sd["actor_logstd"])
            kind, obs_shape = "policy", (lin[0][0].shape[1],)
            n = int(lin[-1][0].shape[0])
            t = ModuleTeacher(net, f"{arch}:{path.name}", obs_shape, n, kind, tau)
            t.dist, t.continuous_unbounded = DiagGaussian, True  # bounds: the env's (CleanRL clips there)
            norm = vecnorm.beside(path, vecnorm.CLEANRL_BESIDE)
            t.normalizer = vecnorm.load_vecnormalize(norm) if norm is not None else None
            return t
        if arch == "cleanrl-ppo":
            lin = seq_linears(sd, "actor")
            net = FunctionalNet([], lin, torch.tanh, False, 1.0, False)
            kind, obs_shape = "policy", (lin[0][0].shape[1],)
        elif arch == "cleanrl-dqn":
            lin = seq_linears(sd, "network")
            net = FunctionalNet([], lin, torch.relu, False, 1.0, False)
            kind, obs_shape = "q", (lin[0][0].shape[1],)
        else:
            layers = seq_linears(sd, "network")
            convs = [(w, b, _stride(w.shape[-1])) for w, b in layers if w.dim() == 4]
            lins = [(w, b) for w, b in layers if w.dim() == 2]
            if arch == "cleanrl-ppo-atari":
                trunk = FunctionalNet(convs, lins, torch.relu, True, 1 / 255.0, False)
                net = _TwoStage(trunk, FunctionalNet([], [(sd["actor.weight"], sd["actor.bias"])], torch.relu,
                                                      False, 1.0, False))
                kind = "policy"
            else:
                net = FunctionalNet(convs, lins, torch.relu, False, 1 / 255.0, False)
                kind = "q"
            obs_shape = (convs[0][0].shape[1], 84, 84)
    except (KeyError, IndexError) as e:
        raise TeacherError(f"{path} does not match architecture {arch} (missing {e})") from None
    n_actions = int(list(net.parameters())[-1].shape[0])
    return ModuleTeacher(net, f"{arch}:{path.name}", obs_shape, n_actions, kind, tau)
