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

from pathlib import Path

import numpy as np
import torch
from torch import nn

from .errors import TeacherError
from .tasks import MASK
from .teachers import Teacher


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
        if task is None:
            task = torch.zeros(b, dtype=torch.long)
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
        mask = torch.zeros(allowed.shape, dtype=x.dtype).masked_fill_(~allowed, float("-inf"))
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


def param_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


# --------------------------------------------------------------------------- teacher


class DTTeacher(Teacher):
    """A trained Decision Transformer as a (sequence) teacher: its outputs need the context
    window (:meth:`logits_window`), not one observation."""

    def __init__(self, model: DecisionTransformer, name: str, env: str | None = None,
                 target_returns: list[float] | None = None, tau: float | None = None,
                 datasets: list[str] | None = None):
        super().__init__(name, model.obs_shape, model.n_actions, "policy", tau, env, param_count(model))
        self.model = model.eval().requires_grad_(False)
        self.target_returns = target_returns
        """the return each task's evaluation conditions on (one per task; None if not recorded)"""
        self.datasets = datasets
        """the dataset ids it was trained on (a ``train --algo dt`` run; None otherwise)"""
        self.context = model.context

    @property
    def target_return(self) -> float | None:
        return self.target_returns[0] if self.target_returns else None

    def raw(self, obs, task_id=None):  # pragma: no cover - a single observation is not enough context
        raise TeacherError(f"{self.name} is a Decision Transformer: it labels context windows (logits_window)")

    @torch.inference_mode()
    def logits_window(self, obs, rtg, actions, timesteps, valid) -> torch.Tensor:
        """Logits [B, K, A] for every step of the windows."""
        return self.model(obs, rtg, actions, timesteps, valid).float()


def _checkpoint_path(source) -> Path:
    """A run directory's last checkpoint, or the file itself."""
    p = Path(str(source))
    return p / "checkpoints" / "last.safetensors" if p.is_dir() else p


def dt_env(source) -> str | None:
    """The environment a Decision-Transformer checkpoint records (its header only; the weights
    are not read)."""
    from . import checkpoint
    from .errors import CheckpointError

    ck = _checkpoint_path(source)
    if not ck.is_file():
        raise TeacherError(f"no Decision-Transformer checkpoint at {ck} (offline distillation takes the run "
                           "directories of train --algo dt)")
    try:
        return checkpoint.load_meta(ck).get("env")
    except CheckpointError as e:
        raise TeacherError(str(e)) from None


def load_dt(source: str | Path, tau: float | None = None) -> DTTeacher:
    """A Decision Transformer from a ``train --algo dt`` run directory or its checkpoint."""
    from . import checkpoint
    from .errors import CheckpointError

    ck = _checkpoint_path(source)
    if not ck.is_file():
        raise TeacherError(f"no Decision-Transformer checkpoint at {ck} (offline distillation takes the run "
                           "directories of train --algo dt)")
    try:
        state, meta = checkpoint.load(ck)
    except CheckpointError as e:
        raise TeacherError(str(e)) from None
    spec = meta.get("agent", {})
    if spec.get("kind") != "dt":
        raise TeacherError(f"{source} is not a Decision Transformer (algo {meta.get('algo')})")
    model = DecisionTransformer.from_spec(spec)
    model.load_state_dict(state["agent"])
    a = state.get("algo_state", {})
    targets = a.get("target_returns") or ([a["target_return"]] if a.get("target_return") is not None else None)
    return DTTeacher(model, str(source), meta.get("env"), targets, tau, a.get("datasets"))


def is_dt_source(source) -> bool:
    """Whether ``source`` is a Decision-Transformer run directory or checkpoint."""
    from . import checkpoint

    ck = _checkpoint_path(source)
    if not (ck.is_file() and ck.suffix == ".safetensors"):
        return False
    try:
        return checkpoint.load_meta(ck).get("agent", {}).get("kind") == "dt"
    except Exception:  # an unreadable file is not ours to judge here: the normal loader reports it
        return False


# --------------------------------------------------------------------------- acting


@torch.inference_mode()
def rollout(model: DecisionTransformer, taskset, task: int, target_return: float, episodes: int, seed: int,
            max_episode_steps: int | None = None, sample: bool = False) -> list[float]:
    """Returns of ``episodes`` episodes of task ``task`` (reset seeds ``seed + i``), all played
    at once: each step the model reads each episode's last ``K`` steps, conditioned on
    ``target_return`` minus the rewards collected so far, and acts greedily (or samples).
    Observations are padded into the model's common shape and its logits mapped back to the
    task's actions through ``taskset`` (:class:`tasks.TaskSet`)."""
    from .envs import make_env_fn

    was_training = model.training
    model.eval()
    k, n = model.context, episodes
    envs = [make_env_fn(taskset.specs[task], max_episode_steps)() for _ in range(n)]
    rng = np.random.default_rng(seed)
    obs_shape = model.obs_shape
    h_obs = np.zeros((n, k) + obs_shape, np.float32)
    h_rtg = np.zeros((n, k), np.float32)
    h_act = np.zeros((n, k), np.int64)
    h_t = np.zeros((n, k), np.int64)
    h_valid = np.zeros((n, k), bool)
    rets = np.zeros(n)
    togo = np.full(n, float(target_return), np.float32)
    t = np.zeros(n, np.int64)
    alive = np.ones(n, bool)
    for i, e in enumerate(envs):
        o, _ = e.reset(seed=seed + i)
        h_obs[i, -1] = taskset.pad(np.asarray(o, np.float32)[None], task)[0]
        h_rtg[i, -1], h_valid[i, -1] = togo[i], True
    task_t = torch.full((n,), task, dtype=torch.long)
    try:
        while alive.any():
            idx = np.nonzero(alive)[0]
            logits = model(torch.from_numpy(h_obs[idx]), torch.from_numpy(h_rtg[idx]), torch.from_numpy(h_act[idx]),
                           torch.from_numpy(h_t[idx]), torch.from_numpy(h_valid[idx]), task_t[idx])[:, -1].numpy()
            env_logits = taskset.env_logits(logits, task)
            if sample:
                z = env_logits - env_logits.max(1, keepdims=True)
                p = np.exp(z) / np.exp(z).sum(1, keepdims=True)
                acts = np.array([rng.choice(len(pp), p=pp) for pp in p])
            else:
                acts = env_logits.argmax(1)
            # the agent-space action token the model itself would use for this env action
            agent_acts = np.array([int(taskset.lifts[task][a]) for a in acts]) if taskset.n_tasks > 1 else acts
            for j, i in enumerate(idx):
                h_act[i, -1] = agent_acts[j]
                o, r, term, trunc, _ = envs[i].step(int(acts[j]))
                rets[i] += r
                togo[i] -= r
                t[i] += 1
                if term or trunc:
                    alive[i] = False
                    continue
                for h in (h_obs, h_rtg, h_act, h_t, h_valid):
                    h[i, :-1] = h[i, 1:]
                h_obs[i, -1] = taskset.pad(np.asarray(o, np.float32)[None], task)[0]
                h_rtg[i, -1], h_act[i, -1], h_t[i, -1], h_valid[i, -1] = togo[i], 0, t[i], True
    finally:
        for e in envs:
            e.close()
        model.train(was_training)
    return [float(x) for x in rets]



__all__ = ["DecisionTransformer", "DTTeacher", "attention_mask", "batch_tensors", "load_dt", "dt_env", "is_dt_source",
           "rollout", "param_count"]
