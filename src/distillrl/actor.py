"""A NumPy mirror of :class:`nets.Agent`'s forward pass, used for *acting* in rollouts.

Why by hand: acting runs the network on a handful of observations per environment step. At
that size torch's per-operator dispatch overhead dominates the arithmetic (tens of µs per op
on a small CPU), while NumPy's per-op cost is a few µs. Learning (forward + backward on
minibatches) stays in torch. The mirror reads the torch weights through zero-copy views (so
in-place optimiser steps are seen at once) and is tested to agree with the torch forward to
float32 precision (``tests/test_nets_actor.py``).

Supported trunks: ``mlp`` and ``minatar``; :func:`make_actor` falls back to torch otherwise.
"""

from __future__ import annotations


import numpy as np
import torch
from torch import nn

from .nets import MLP, Agent, MinAtarNet


def _mlp_layers(trunk: MLP) -> list:
    layers = []
    for m in trunk.net:
        if isinstance(m, nn.Linear):
            layers.append(("linear", m.weight.detach().numpy().T, m.bias.detach().numpy()))
        elif isinstance(m, nn.Tanh):
            layers.append(("tanh",))
        elif isinstance(m, nn.ReLU):
            layers.append(("relu",))
    return layers


def _run_mlp(layers: list, x: np.ndarray) -> np.ndarray:
    for layer in layers:
        if layer[0] == "linear":
            x = x @ layer[1] + layer[2]
        elif layer[0] == "tanh":
            x = np.tanh(x)
        else:
            x = np.maximum(x, 0.0)
    return x


def _patch_index(h: int, w: int, c: int, k: int, hwc: bool) -> np.ndarray:
    """Flat indices [(h-k+1)(w-k+1), c·k·k] of every k×k patch, ordered (c, kh, kw) like Conv2d weights."""
    oh, ow = h - k + 1, w - k + 1
    i, j, ch, a, b = np.meshgrid(np.arange(oh), np.arange(ow), np.arange(c), np.arange(k), np.arange(k),
                                 indexing="ij")
    if hwc:
        flat = ((i + a) * w + (j + b)) * c + ch
    else:
        flat = ch * h * w + (i + a) * w + (j + b)
    return flat.reshape(oh * ow, c * k * k)


class NumpyActor:
    """``actor(obs) -> (logits [N, A], value [N])`` in NumPy float32, mirroring ``agent``."""

    def __init__(self, agent: Agent):
        self.agent = agent
        self.trunk_kind = "mlp" if isinstance(agent.trunk, MLP) else "minatar"
        if self.trunk_kind == "minatar":
            shape = agent.info.obs_shape
            h, w, c = shape if agent.hwc else (shape[1], shape[2], shape[0])
            self.index = _patch_index(h, w, c, 3, agent.hwc)
            self.n_pos = self.index.shape[0]
        self.sync()

    @staticmethod
    def supports(agent: Agent) -> bool:
        if isinstance(agent.trunk, MinAtarNet):
            return True
        return isinstance(agent.trunk, MLP) and (agent.critic_trunk is None or isinstance(agent.critic_trunk, MLP))

    def sync(self) -> None:
        """Rebind to the agent's weights.

        The arrays are zero-copy *views* of the torch parameters, so in-place optimiser steps
        and ``load_state_dict`` are seen without calling this; call it only if parameters are
        replaced by new tensor objects.
        """
        a = self.agent

        def view(t: torch.Tensor) -> np.ndarray:
            return t.detach().numpy()

        if self.trunk_kind == "mlp":
            self.trunk = _mlp_layers(a.trunk)
            self.critic = _mlp_layers(a.critic_trunk) if a.critic_trunk is not None else None
        else:
            t = a.trunk
            cw = view(t.conv.weight)
            self.conv_w = cw.reshape(cw.shape[0], -1).T  # [c·9, C_out] view
            self.conv_b = view(t.conv.bias)
            self.fc_w = view(t.fc.weight).T  # [C_out·P, F] view; rows ordered (channel, position)
            self.fc_b = view(t.fc.bias)
        self.pi = (view(a.pi.weight).T, view(a.pi.bias)) if a.pi is not None else None
        self.v = (view(a.v.weight).T, view(a.v.bias)) if a.v is not None else None
        self.q = (view(a.q.weight).T, view(a.q.bias)) if a.q is not None else None
        self.scale = np.float32(a.scale)

    def _features(self, obs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        n = obs.shape[0]
        if self.trunk_kind == "mlp":
            x = obs.reshape(n, -1).astype(np.float32, copy=False)
            if self.scale != 1:
                x = x * self.scale
            h = _run_mlp(self.trunk, x)
            return h, (_run_mlp(self.critic, x) if self.critic is not None else h)
        p = obs.reshape(n, -1)[:, self.index].astype(np.float32)
        if self.scale != 1:
            p *= self.scale
        h = np.maximum(p @ self.conv_w + self.conv_b, 0.0)  # [N, P, C_out]
        h = h.transpose(0, 2, 1).reshape(n, -1)  # channel-major, like torch's flatten of [N, C, H, W]
        h = np.maximum(h @ self.fc_w + self.fc_b, 0.0)
        return h, h

    def __call__(self, obs: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        h, hv = self._features(obs)
        logits = h @ self.pi[0] + self.pi[1] if self.pi is not None else h @ self.q[0] + self.q[1]
        value = (hv @ self.v[0] + self.v[1])[:, 0] if self.v is not None else None
        return logits, value

    def q_values(self, obs: np.ndarray) -> np.ndarray:
        h, _ = self._features(obs)
        return h @ self.q[0] + self.q[1]

    def value(self, obs: np.ndarray) -> np.ndarray:
        _, hv = self._features(obs)
        return (hv @ self.v[0] + self.v[1])[:, 0]


class TorchActor:
    """Same interface as :class:`NumpyActor`, running the torch agent (any architecture)."""

    def __init__(self, agent: Agent):
        self.agent = agent

    def sync(self) -> None:
        pass

    @torch.inference_mode()
    def __call__(self, obs: np.ndarray):
        out = self.agent(torch.from_numpy(obs))
        return out.logits.numpy(), (out.value.numpy() if out.value is not None else None)

    @torch.inference_mode()
    def q_values(self, obs: np.ndarray) -> np.ndarray:
        return self.agent(torch.from_numpy(obs)).q.numpy()

    @torch.inference_mode()
    def value(self, obs: np.ndarray) -> np.ndarray:
        return self.agent.value(torch.from_numpy(obs)).numpy()


def make_actor(agent: Agent, backend: str = "auto") -> NumpyActor | TorchActor:
    """``backend``: auto (NumPy where supported), numpy, or torch."""
    if backend == "torch" or (backend == "auto" and not NumpyActor.supports(agent)):
        return TorchActor(agent)
    if not NumpyActor.supports(agent):
        raise ValueError(f"numpy actor does not support the {agent.arch} trunk; use backend torch")
    return NumpyActor(agent)


def sample_gumbel(logits: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Categorical sample via Gumbel-max; returns ``(actions [N] int64, log π(a) [N] float32)``."""
    u = rng.random(logits.shape, dtype=np.float32)
    np.clip(u, 1e-20, 1.0, out=u)
    actions = np.argmax(logits - np.log(-np.log(u)), -1)
    m = logits.max(-1, keepdims=True)
    logz = m[:, 0] + np.log(np.exp(logits - m).sum(-1))
    logp = logits[np.arange(len(actions)), actions] - logz
    return actions, logp.astype(np.float32)

