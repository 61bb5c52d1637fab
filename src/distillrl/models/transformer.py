"""Decision Transformer (Chen et al. 2021) for discrete actions: model, teacher, evaluation.

A trajectory is the token sequence ``(R̂_1, s_1, a_1, R̂_2, s_2, a_2, …)`` over the last ``K``
steps: the return-to-go ``R̂_t`` (scaled by a per-task constant), the observation ``s_t`` and
the action ``a_t``, each embedded to ``d_model`` and added to a learned embedding of the
episode timestep ``t`` (and, for a multi-task model, of the task). A GPT-style stack of
pre-norm transformer layers (torch's ``nn.TransformerEncoderLayer``) with causal attention
reads the sequence; the action ``a_t`` is predicted from the output at ``s_t``'s token, so it
sees ``R̂_≤t, s_≤t, a_<t`` and nothing later. Windows that start before their episode are
left-padded; a padded token is never attended to (it attends to itself only, so no row of the
attention is empty).

Training is cross-entropy on the dataset's actions (:mod:`algos.offline`); acting conditions
on a target return and subtracts each reward from it (:func:`rollout`). The same class is the
multi-task student: ``n_tasks > 1`` adds a task embedding and one action head per task over
the task set's common action space (illegal actions masked), with observations zero-padded
to the task set's common shape (:class:`tasks.TaskSet`).

The network is written here (not taken from a library) because the token layout, the
per-task heads and the teacher's context interface are the distillation hooks themselves;
the attention layers are torch's.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from distillrl.envs.tasks import MASK


def attention_mask(valid: torch.Tensor) -> torch.Tensor:
    """Boolean ``allowed`` [B, L, L]: query i may attend to key j iff j ≤ i and key j is a real
    token — or j = i (a padded query attends to itself, so its softmax has a finite row)."""
    n = valid.shape[1]
    causal = torch.ones(n, n, dtype=torch.bool, device=valid.device).tril()
    eye = torch.eye(n, dtype=torch.bool, device=valid.device)
    return (causal[None] & valid[:, None, :]) | eye[None]


class DecisionTransformer(nn.Module):
    """``forward(obs [B,K,...], rtg [B,K], actions [B,K], timesteps [B,K], valid [B,K], task [B])``
    → action logits [B, K, A] (position t predicts ``a_t``)."""

    def __init__(self, obs_shape, n_actions: int, n_tasks: int = 1, d_model: int = 128, n_layer: int = 3,
                 n_head: int = 4, context: int = 20, dropout: float = 0.1, max_timestep: int = 4096,
                 rtg_scale=None, legal=None, encoder: str = "linear", layout: str = "hwc", obs_scale: float = 1.0):
        super().__init__()
        if d_model % n_head:
            raise ValueError(f"d_model ({d_model}) must be a multiple of n_head ({n_head})")
        self.obs_shape, self.n_actions, self.n_tasks = tuple(int(x) for x in obs_shape), int(n_actions), int(n_tasks)
        self.d_model, self.n_layer, self.n_head, self.context = d_model, n_layer, n_head, context
        self.dropout_p, self.max_timestep = dropout, max_timestep
        self.encoder, self.layout, self.obs_scale = encoder, layout, float(obs_scale)
        obs_dim = int(np.prod(self.obs_shape))
        if encoder == "conv":  # images: one 3×3 convolution (MinAtar's) before the linear embedding
            if len(self.obs_shape) != 3:
                raise ValueError(f"the conv encoder takes images, not observations of shape {self.obs_shape}")
            c, h, w = (self.obs_shape[2], *self.obs_shape[:2]) if layout == "hwc" else self.obs_shape
            self.embed_obs = nn.Sequential(nn.Conv2d(c, 16, 3), nn.ReLU(), nn.Flatten(),
                                           nn.Linear(16 * (h - 2) * (w - 2), d_model), nn.Tanh())
        elif encoder == "linear":
            self.embed_obs = nn.Sequential(nn.Linear(obs_dim, d_model), nn.Tanh())
        else:
            raise ValueError(f"unknown encoder {encoder!r}")
        self.embed_rtg = nn.Linear(1, d_model)
        self.embed_action = nn.Embedding(n_actions, d_model)
        self.embed_time = nn.Embedding(max_timestep, d_model)
        self.embed_task = nn.Embedding(n_tasks, d_model) if n_tasks > 1 else None
        self.embed_ln = nn.LayerNorm(d_model)
        self.drop = nn.Dropout(dropout)
        layer = nn.TransformerEncoderLayer(d_model, n_head, 4 * d_model, dropout, activation="gelu",
                                           batch_first=True, norm_first=True)
        self.blocks = nn.TransformerEncoder(layer, n_layer, enable_nested_tensor=False)
        self.ln_f = nn.LayerNorm(d_model)
        self.heads = nn.Linear(d_model, n_actions * n_tasks)
        scale = torch.ones(n_tasks) if rtg_scale is None else torch.as_tensor(rtg_scale, dtype=torch.float32)
        self.register_buffer("rtg_scale", scale.reshape(n_tasks).float())
        lg = torch.ones(n_tasks, n_actions, dtype=torch.bool) if legal is None else torch.as_tensor(legal, dtype=torch.bool)
        self.register_buffer("legal", lg.reshape(n_tasks, n_actions))
        self.apply(self._init)

    @staticmethod
    def _init(m: nn.Module) -> None:  # GPT-2's initialisation, as the DT reference code
        if isinstance(m, (nn.Linear, nn.Embedding)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if isinstance(m, nn.Linear) and m.bias is not None:
                nn.init.zeros_(m.bias)

    def spec(self) -> dict:
        return {"kind": "dt", "obs_shape": list(self.obs_shape), "n_actions": self.n_actions, "n_tasks": self.n_tasks,
                "d_model": self.d_model, "n_layer": self.n_layer, "n_head": self.n_head, "context": self.context,
                "dropout": self.dropout_p, "max_timestep": self.max_timestep,
                "rtg_scale": [float(x) for x in self.rtg_scale], "legal": self.legal.tolist(), "encoder": self.encoder,
                "layout": self.layout, "obs_scale": self.obs_scale}

    @classmethod
    def from_spec(cls, spec: dict) -> "DecisionTransformer":
        s = {k: v for k, v in spec.items() if k != "kind"}
        return cls(**s)

    def forward(self, obs, rtg, actions, timesteps, valid, task=None) -> torch.Tensor:
        b, k = actions.shape
        dev = self.embed_time.weight.device  # inputs come from the CPU (datasets, evaluation); --device
        if dev.type != "cpu":
            obs, rtg, actions, timesteps, valid = (x.to(dev) for x in (obs, rtg, actions, timesteps, valid))
        task = torch.zeros(b, dtype=torch.long, device=dev) if task is None else task.to(dev)
        t = timesteps.clamp(0, self.max_timestep - 1)
        time = self.embed_time(t)
        r = (rtg / self.rtg_scale[task][:, None]).unsqueeze(-1)
        e_r = self.embed_rtg(r) + time
        o = obs.reshape((b * k,) + self.obs_shape) if self.encoder == "conv" else obs.reshape(b * k, -1)
        if self.obs_scale != 1.0:  # e.g. ALE's 1/255
            o = o * self.obs_scale
        if self.encoder == "conv" and self.layout == "hwc":
            o = o.permute(0, 3, 1, 2)
        e_s = self.embed_obs(o).reshape(b, k, self.d_model) + time
        e_a = self.embed_action(actions.clamp(0, self.n_actions - 1)) + time
        x = torch.stack([e_r, e_s, e_a], 2).reshape(b, 3 * k, self.d_model)  # R̂_1 s_1 a_1 R̂_2 ...
        if self.embed_task is not None:
            x = x + self.embed_task(task)[:, None]
        x = self.drop(self.embed_ln(x))
        v3 = valid.repeat_interleave(3, 1)
        allowed = attention_mask(v3)
        mask = torch.zeros(allowed.shape, dtype=x.dtype, device=dev).masked_fill_(~allowed, float("-inf"))
        mask = mask.repeat_interleave(self.n_head, 0)  # [B·H, L, L], as nn.MultiheadAttention takes it
        h = self.ln_f(self.blocks(x, mask=mask))
        hs = h[:, 1::3]  # the state tokens' outputs predict the actions
        out = self.heads(hs).reshape(b, k, self.n_tasks, self.n_actions)
        out = out.gather(2, task.view(b, 1, 1, 1).expand(b, k, 1, self.n_actions)).squeeze(2)
        return out.masked_fill(~self.legal[task][:, None], MASK)


def batch_tensors(w: dict, task: int | np.ndarray | None = None) -> dict[str, torch.Tensor]:
    """A :meth:`seqdata.Episodes.windows` batch as the model's keyword arguments."""
    b = len(w["actions"])
    out = {"obs": torch.from_numpy(w["obs"]), "rtg": torch.from_numpy(np.asarray(w["rtg"], np.float32)),
           "actions": torch.from_numpy(w["actions"]), "timesteps": torch.from_numpy(w["timesteps"]),
           "valid": torch.from_numpy(w["valid"])}
    if task is not None:
        out["task"] = torch.from_numpy(np.broadcast_to(np.asarray(task, np.int64), (b,)).copy())
    return out
