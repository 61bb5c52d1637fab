"""A NumPy mirror of :class:`nets.Agent`'s forward pass, used for *acting* in rollouts.

Why by hand: acting runs the network on a handful of observations per environment step. At
that size torch's per-operator dispatch overhead dominates the arithmetic (tens of µs per op
on a small CPU), while NumPy's per-op cost is a few µs. Learning (forward + backward on
minibatches) stays in torch. Tested to agree with the torch forward to float32 precision
(``tests/test_nets_policy.py``).

Weights arrive only through :meth:`NumpyPolicy.set_weights` (a dict of arrays named like the
agent's ``state_dict``; :func:`agent_weights` reads them from an agent) — the same explicit
call a remote actor uses. On that call the MLP actor and critic are fused into one
block-diagonal network and the heads into one matrix, so acting costs one matmul per layer.

Supported trunks: ``mlp`` and ``minatar`` (without ``downsample`` convs); :func:`make_fast_policy`
falls back to torch otherwise.

The policy's outputs are the parameters of the agent's action distribution; acting samples
and picks greedy actions through that distribution's NumPy side (``policy.dist.np_sample``,
``np_mode``, ``np_log_prob``: :mod:`distillrl.core.distributions`), never by an inline
softmax. Observations with named groups are cut to the agent's view first.
"""

from __future__ import annotations

import copy
from typing import Literal

import numpy as np
import torch

from distillrl.core.distributions import ActionDistribution, Categorical
from distillrl.errors import ConfigError
from distillrl.models.agent import Agent, acting_tensors
from distillrl.models.normalize import inv_std_np, normalize_np
from distillrl.models.nets import MLP, MinAtarNet

Backend = Literal["auto", "numpy", "torch"]


def agent_weights(agent: Agent) -> dict[str, np.ndarray]:
    """The agent's weights as NumPy arrays (zero-copy views of the torch parameters)."""
    return {k: v.detach().numpy() for k, v in acting_tensors(agent)}


def _linear_keys(prefix: str, trunk: MLP) -> list[str]:
    return [f"{prefix}.net.{i}" for i, m in enumerate(trunk.net) if isinstance(m, torch.nn.Linear)]


def _norm_keys(prefix: str, trunk: MLP) -> list[str | None]:
    """Per Linear of an MLP trunk: the key of the LayerNorm after it, or None."""
    mods = list(trunk.net)
    return [f"{prefix}.net.{i + 1}" if i + 1 < len(mods) and isinstance(mods[i + 1], torch.nn.LayerNorm) else None
            for i, m in enumerate(mods) if isinstance(m, torch.nn.Linear)]


def _norm_weights(w: dict[str, np.ndarray], key: str | None) -> tuple[np.ndarray, np.ndarray] | None:
    """A LayerNorm's (weight, bias) as float32, or None when there is none under ``key``."""
    if key is None or key + ".weight" not in w:
        return None
    return np.asarray(w[key + ".weight"], np.float32), np.asarray(w[key + ".bias"], np.float32)


def layer_norm(x: np.ndarray, w: np.ndarray, b: np.ndarray, eps: float = 1e-5) -> np.ndarray:
    """torch's LayerNorm over the last axis (biased variance, ε inside the root)."""
    mu = x.mean(-1, keepdims=True)
    d = x - mu
    return d / np.sqrt((d * d).mean(-1, keepdims=True) + np.float32(eps)) * w + b


def _block_diag(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    out = np.zeros((a.shape[0] + b.shape[0], a.shape[1] + b.shape[1]), np.float32)
    out[: a.shape[0], : a.shape[1]] = a
    out[a.shape[0]:, a.shape[1]:] = b
    return out


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


class Memory:
    """A recurrent acting policy's LSTM state, one row per environment.

    ``policy(obs, task)`` advances every row by one step; ``value(obs, task, rows=...)`` reads
    V under the current state of some rows without advancing them (truncation bootstraps);
    ``reset(mask)`` zeroes the rows whose episode ended. Feed-forward policies have
    ``recurrent = False`` and none of this state."""

    recurrent = False
    hidden = 0
    h: np.ndarray | None = None
    c: np.ndarray | None = None

    def _ensure(self, n: int) -> None:
        if self.h is None or len(self.h) != n:
            self.h = np.zeros((n, self.hidden), np.float32)
            self.c = np.zeros((n, self.hidden), np.float32)

    def reset(self, mask: np.ndarray) -> None:
        self._ensure(len(mask))
        self.h[mask] = 0.0
        self.c[mask] = 0.0

    def get_state(self) -> tuple[np.ndarray, np.ndarray]:
        return self.h.copy(), self.c.copy()

    def set_state(self, state) -> None:
        self.h, self.c = (np.array(x, np.float32) for x in state)

    def step_rows(self, obs: np.ndarray, task_id: np.ndarray | None, rows: np.ndarray):
        """Advance only the state rows ``rows`` (indices) by one step on ``obs`` (evaluation,
        where only some slots are still playing)."""
        h, c = self.h, self.c
        self.h, self.c = h[rows], c[rows]
        try:
            out = self(obs, task_id)
            h[rows], c[rows] = self.h, self.c
        finally:
            self.h, self.c = h, c
        return out

    def _state_rows(self, n: int, rows: np.ndarray | None):
        if rows is None:
            self._ensure(n)
            return self.h, self.c
        return self.h[rows], self.c[rows]


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (np.tanh(0.5 * x) + 1.0)  # overflow-free


class NumpyPolicy(Memory):
    """``policy(obs) -> (logits [N, A], value [N] or None)`` in NumPy float32, mirroring an agent."""

    def __init__(self, agent: Agent):
        self.trunk_kind = "mlp" if isinstance(agent.trunk, MLP) else "minatar"
        self.dist: type[ActionDistribution] = agent.dist
        self.view = agent.obs_view if agent.obs_view is not None and not agent.obs_view.identity else None
        self.n_actions = agent.head_size
        self.n_tasks, self.per_task = agent.n_tasks, agent.per_task_heads
        # policy (or Q) head outputs; a Gaussian's head gives the means, log σ is appended
        self.head_n = (agent.pi.out_features if agent.continuous and agent.pi is not None
                       else self.n_actions * (self.n_tasks if self.per_task else 1))
        self.obs_clip = agent.obs_norm.clip if agent.obs_norm is not None else None
        self.legal_bias = agent.legal_bias.numpy().copy() if agent.legal_bias is not None else None
        self.has_pi, self.has_v, self.has_q = agent.pi is not None, agent.v is not None, agent.q is not None
        self.scale = np.float32(agent.scale)
        self.recurrent = agent.core is not None
        self.hidden = agent.core.hidden_size if self.recurrent else 0
        if self.trunk_kind == "mlp":
            self.act = np.tanh if agent.cfg.activation == "tanh" else (lambda x: np.maximum(x, 0.0, out=x))
            self.actor_keys = _linear_keys("trunk", agent.trunk)
            self.norm_keys = _norm_keys("trunk", agent.trunk)
            self.critic_keys = _linear_keys("critic_trunk", agent.critic_trunk) if agent.critic_trunk else None
        else:
            shape = agent.in_info.obs_shape
            h, w, c = shape if agent.hwc else (shape[1], shape[2], shape[0])
            self.index = _patch_index(h, w, c, 3, agent.hwc)
        self.set_weights(agent_weights(agent))

    @staticmethod
    def supports(agent: Agent) -> bool:
        if agent.adapter is not None:  # per-task input adapters: torch
            return False
        if isinstance(agent.trunk, MinAtarNet):
            return len(agent.trunk.down) == 0  # stride-2 convs: torch
        if isinstance(agent.trunk, MLP) and agent.critic_trunk is not None and agent.cfg.norm == "layer":
            return False  # the fused actor ⊕ critic layers cannot be normalised per part
        return isinstance(agent.trunk, MLP) and (agent.critic_trunk is None or isinstance(agent.critic_trunk, MLP))

    def set_weights(self, w: dict[str, np.ndarray]) -> None:
        """Load weights named as in ``Agent.state_dict()``. Large matrices are used as given
        (views, no copy); the small fused parts (heads, the MLP actor ⊕ critic) are copies, so
        call this after every update (cheap: tens of µs)."""
        def lin(k):
            return np.asarray(w[k + ".weight"], np.float32).T, np.asarray(w[k + ".bias"], np.float32)

        self.norm_stats = ((np.asarray(w["obs_norm.mean"], np.float32), inv_std_np(w["obs_norm.var"]))
                           if "obs_norm.mean" in w else None)
        self.log_std = np.asarray(w["log_std"], np.float32).copy() if "log_std" in w else None
        if self.trunk_kind == "mlp":
            layers = [lin(k) for k in self.actor_keys]
            self.split = None
            if self.critic_keys:  # fuse actor and critic: [x] -> [h_actor | h_critic]
                crit = [lin(k) for k in self.critic_keys]
                fused = [(np.concatenate([layers[0][0], crit[0][0]], 1), np.concatenate([layers[0][1], crit[0][1]]))]
                for (wa, ba), (wc, bc) in zip(layers[1:], crit[1:]):
                    fused.append((_block_diag(wa, wc), np.concatenate([ba, bc])))
                layers = fused
                self.split = layers[-1][0].shape[1] - crit[-1][0].shape[1]
            self.layers = layers
            self.norms = [_norm_weights(w, k) for k in self.norm_keys]
        else:
            cw = np.asarray(w["trunk.conv.weight"], np.float32)
            self.conv_w = cw.reshape(cw.shape[0], -1).T  # [c·9, C_out] view
            self.conv_b = np.asarray(w["trunk.conv.bias"], np.float32)
            self.fc_w = np.asarray(w["trunk.fc.weight"], np.float32).T  # view
            self.fc_b = np.asarray(w["trunk.fc.bias"], np.float32)
            self.conv_ln = _norm_weights(w, "trunk.conv_norm")
            self.fc_ln = _norm_weights(w, "trunk.fc_norm")
            self.split = None
        if self.recurrent:  # LSTMCell: gates [i, f, g, o] = x W_ih^T + h W_hh^T + b_ih + b_hh
            self.w_ih = np.asarray(w["core.weight_ih"], np.float32).T
            self.w_hh = np.asarray(w["core.weight_hh"], np.float32).T
            self.b_core = np.asarray(w["core.bias_ih"], np.float32) + np.asarray(w["core.bias_hh"], np.float32)
        # heads: [pi or q | v] in one matrix; the value head reads the critic part when fused
        single = [n for n, on in (("pi", self.has_pi), ("q", self.has_q and not self.has_pi), ("v", self.has_v)) if on]
        self.q_w = lin("q") if self.has_q and self.has_pi else None  # a Q head beside a policy head
        if len(single) == 1 and self.split is None:  # one head, nothing to fuse: views, no copy
            self.head_w, self.head_b = lin(single[0])
            return
        heads_w, heads_b = [], []
        if self.recurrent:
            d = self.hidden
        elif self.trunk_kind == "mlp":
            d = self.layers[-1][0].shape[1] if self.layers else int(np.asarray(w["pi.weight" if self.has_pi else "q.weight"]).shape[1])
        else:
            d = self.fc_w.shape[1]
        for name, on in (("pi", self.has_pi), ("q", self.has_q and not self.has_pi), ("v", self.has_v)):
            if not on:
                continue
            hw, hb = lin(name)
            full = np.zeros((d, hw.shape[1]), np.float32)
            if self.split is None:
                full[:] = hw
            elif name == "v":
                full[self.split:] = hw
            else:
                full[: self.split] = hw
            heads_w.append(full)
            heads_b.append(hb)
        self.head_w = np.ascontiguousarray(np.concatenate(heads_w, 1))
        self.head_b = np.concatenate(heads_b)

    def _features(self, obs: np.ndarray) -> np.ndarray:
        if self.view is not None:
            obs = self.view(obs)
        n = obs.shape[0]
        if self.trunk_kind == "mlp":
            x = obs.reshape(n, -1).astype(np.float32, copy=False)
            if self.scale != 1:
                x = x * self.scale
            if self.norm_stats is not None:
                x = normalize_np(x, *self.norm_stats, self.obs_clip)
            for (wt, b), ln in zip(self.layers, self.norms):
                x = x @ wt + b
                x = self.act(x if ln is None else layer_norm(x, *ln))
            return x
        p = obs.reshape(n, -1)[:, self.index].astype(np.float32)
        if self.scale != 1:
            p *= self.scale
        h = p @ self.conv_w + self.conv_b  # [N, P, C_out]
        if self.conv_ln is not None:
            h = layer_norm(h, *self.conv_ln)
        h = np.maximum(h, 0.0).transpose(0, 2, 1).reshape(n, -1)  # channel-major, like torch's flatten of [N, C, H, W]
        h = h @ self.fc_w + self.fc_b
        if self.fc_ln is not None:
            h = layer_norm(h, *self.fc_ln)
        return np.maximum(h, 0.0)

    def _select(self, out: np.ndarray, task_id: np.ndarray | None) -> np.ndarray:
        """[N, K·A] or [N, A] head outputs → each row's task's [N, A], illegal actions masked."""
        if self.per_task:
            out = out.reshape(len(out), self.n_tasks, self.n_actions)[np.arange(len(out)), task_id]
        if self.legal_bias is not None:
            out = out + self.legal_bias[task_id]
        return out

    def _lstm(self, x: np.ndarray, rows: np.ndarray | None, advance: bool) -> np.ndarray:
        h, c = self._state_rows(len(x), rows)
        g = x @ self.w_ih + h @ self.w_hh + self.b_core
        k = self.hidden
        c2 = _sigmoid(g[:, k:2 * k]) * c + _sigmoid(g[:, :k]) * np.tanh(g[:, 2 * k:3 * k])
        h2 = _sigmoid(g[:, 3 * k:]) * np.tanh(c2)
        if advance:
            self.h, self.c = h2.astype(np.float32), c2.astype(np.float32)
        return h2

    def __call__(self, obs: np.ndarray, task_id: np.ndarray | None = None, rows: np.ndarray | None = None,
                 advance: bool = True) -> tuple[np.ndarray, np.ndarray | None]:
        h = self._features(obs)
        if self.recurrent:
            h = self._lstm(h, rows, advance and rows is None)
        out = h @ self.head_w + self.head_b
        a = self.head_n
        if self.log_std is not None:  # a Gaussian policy: [mean | log σ]
            mean = out[:, :a]
            logits = np.concatenate([mean, np.broadcast_to(self.log_std, mean.shape)], 1)
            return logits, (out[:, a] if self.has_v else None)
        if self.n_tasks == 1:
            return out[:, :a], (out[:, a] if self.has_v else None)
        value = out[np.arange(len(out)), a + task_id] if self.has_v else None
        return self._select(out[:, :a], task_id), value

    def value(self, obs: np.ndarray, task_id: np.ndarray | None = None, rows: np.ndarray | None = None) -> np.ndarray:
        return self(obs, task_id, rows, advance=False)[1]

    def q_values(self, obs: np.ndarray, task_id: np.ndarray | None = None) -> np.ndarray:
        if self.recurrent:
            raise NotImplementedError("q_values of a recurrent acting policy")
        if self.q_w is not None:
            h = self._features(obs)
            q = (h if self.split is None else h[:, : self.split]) @ self.q_w[0] + self.q_w[1]
            return q if self.n_tasks == 1 else self._select(q, task_id)
        return self(obs, task_id)[0]


class TorchPolicy(Memory):
    """Same interface as :class:`NumpyPolicy`, running a torch copy of the agent (any architecture)."""

    def __init__(self, agent: Agent):
        self.agent = copy.deepcopy(agent).eval().requires_grad_(False)
        self.dist: type[ActionDistribution] = agent.dist
        self.recurrent = agent.core is not None
        self.hidden = agent.core.hidden_size if self.recurrent else 0

    def set_weights(self, w: dict[str, np.ndarray]) -> None:
        w = dict(w)
        if "obs_norm.mean" in w:  # the statistics arrive as float32 (see acting_tensors); the buffers are float64
            with torch.no_grad():
                self.agent.obs_norm.mean.copy_(torch.as_tensor(np.asarray(w.pop("obs_norm.mean"))))
                self.agent.obs_norm.var.copy_(torch.as_tensor(np.asarray(w.pop("obs_norm.var"))))
        missing, unexpected = self.agent.load_state_dict({k: torch.as_tensor(v) for k, v in w.items()}, strict=False)
        missing = [k for k in missing if not k.startswith("obs_norm.")]
        if missing or unexpected:
            raise KeyError(f"acting weights do not fit the agent: missing {missing}, unexpected {unexpected}")

    @staticmethod
    def _task(task_id):
        return None if task_id is None else torch.as_tensor(np.asarray(task_id), dtype=torch.int64)

    @torch.inference_mode()
    def __call__(self, obs: np.ndarray, task_id: np.ndarray | None = None, rows: np.ndarray | None = None,
                 advance: bool = True):
        state = None
        if self.recurrent:
            state = tuple(torch.from_numpy(x) for x in self._state_rows(len(obs), rows))
        out = self.agent(torch.from_numpy(obs), self._task(task_id), state)
        if self.recurrent and advance and rows is None:
            self.h, self.c = (x.numpy().copy() for x in out.state)
        return out.logits.numpy(), (out.value.numpy() if out.value is not None else None)

    @torch.inference_mode()
    def q_values(self, obs: np.ndarray, task_id: np.ndarray | None = None) -> np.ndarray:
        return self.agent(torch.from_numpy(obs), self._task(task_id)).q.numpy()

    def value(self, obs: np.ndarray, task_id: np.ndarray | None = None, rows: np.ndarray | None = None) -> np.ndarray:
        if self.recurrent:
            return self(obs, task_id, rows, advance=False)[1]
        with torch.inference_mode():
            return self.agent.value(torch.from_numpy(obs), self._task(task_id)).numpy()


def make_fast_policy(agent: Agent, backend: Backend = "auto") -> NumpyPolicy | TorchPolicy:
    """``backend``: auto (NumPy where supported), numpy, or torch."""
    if backend == "torch" or (backend == "auto" and not NumpyPolicy.supports(agent)):
        return TorchPolicy(agent)
    if not NumpyPolicy.supports(agent):
        raise ConfigError(f"the numpy acting backend does not support the {agent.arch} trunk; use torch")
    return NumpyPolicy(agent)


def gumbel_noise(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Gumbel(0, 1) noise: argmax(logits + noise) samples softmax(logits) (drawn a rollout at a time).
    :meth:`Categorical.np_noise`."""
    return Categorical.np_noise(rng, shape)


def sample_gumbel(logits: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Categorical sample via Gumbel-max; returns ``(actions [N] int64, log π(a) [N] float32)``."""
    actions = Categorical.np_sample(logits, rng)
    return actions, Categorical.np_log_prob(logits, actions)
