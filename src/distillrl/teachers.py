"""Teachers: frozen policies from any source, behind one interface.

A :class:`Teacher` maps a batch of observations (as the environment gives them) to its raw
outputs — policy logits or Q-values — and to action probabilities: ``softmax(logits)`` for a
policy teacher, ``softmax(q / τ)`` for a Q-teacher (SPEC §1). Teachers run in eval mode
under ``torch.inference_mode``; no gradient ever reaches them.

Loaders (:func:`load_teacher`):

* a distillrl run directory, checkpoint file or zoo name;
* a Stable-Baselines3 ``.zip`` (PPO, A2C, DQN; MLP and NatureCNN policies), read **without
  unpickling anything**: the archive's ``data`` member is parsed as JSON and its
  ``:serialized:`` pickles are never decoded; weights come from ``policy.pth`` through
  ``torch.load(weights_only=True)``, which refuses any pickle that would build objects or run
  code; the architecture is rebuilt from tensor names and shapes plus the readable
  ``activation_fn`` string;
* a CleanRL-style state dict with a named architecture (:data:`CLEANRL_ARCHES`);
* a Python callable ``obs -> logits`` (or probabilities / Q-values).
"""

from __future__ import annotations

import json
import re
import zipfile
from pathlib import Path
from typing import Any, Callable, Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .envs import EnvInfo
from .errors import SourceError, TeacherError
from .tasks import MASK

__all__ = ["Teacher", "TeacherError", "TeacherArch", "AgentTeacher", "CallableTeacher", "load_teacher",
           "load_sb3_zip", "load_state_dict_teacher", "CLEANRL_ARCHES", "TeacherSet", "parse_task_teachers",
           "load_task_teacher"]

TeacherArch = Literal["cleanrl-ppo", "cleanrl-dqn", "cleanrl-ppo-atari", "cleanrl-dqn-atari"]


class Teacher:
    """Frozen teacher. Subclasses implement :meth:`raw` (torch → torch)."""

    recurrent: bool = False
    """a recurrent teacher (:class:`AgentTeacher` of an LSTM agent) labels whole sequences (``probs_seq``)"""
    kind: str = "policy"
    """``policy`` (outputs are logits) or ``q`` (outputs are action values)"""

    def __init__(self, name: str, obs_shape: tuple[int, ...], n_actions: int, kind: str = "policy",
                 tau: float | None = None, env: str | None = None, n_params: int = 0):
        self.name, self.obs_shape, self.n_actions, self.kind = name, tuple(obs_shape), n_actions, kind
        self.tau = tau if tau is not None else (0.01 if kind == "q" else 1.0)
        self.env = env
        self.n_params = n_params

    def raw(self, obs: torch.Tensor, task_id: torch.Tensor | None = None) -> torch.Tensor:  # pragma: no cover
        raise NotImplementedError

    @torch.inference_mode()
    def outputs(self, obs: torch.Tensor | np.ndarray, task_id: torch.Tensor | None = None) -> torch.Tensor:
        """Raw outputs [B, A] (logits or Q-values), float32, no gradient."""
        if isinstance(obs, np.ndarray):
            obs = torch.from_numpy(obs)
        return self.raw(obs, task_id).float()

    def probs(self, obs, task_id=None, tau: float | None = None) -> torch.Tensor:
        """Action probabilities [B, A]: softmax(outputs / τ) (τ = 1 for policy teachers by default)."""
        return torch.softmax(self.outputs(obs, task_id) / (tau or self.tau), -1)

    def act(self, obs: np.ndarray) -> np.ndarray:
        """Greedy actions (NumPy)."""
        return self.outputs(obs).argmax(-1).numpy()

    def check_env(self, info: EnvInfo) -> None:
        if self.n_actions != info.n_actions:
            raise TeacherError(f"teacher {self.name} has {self.n_actions} actions but {info.spec} has {info.n_actions}")
        if self.obs_shape != tuple(info.obs_shape):
            raise TeacherError(f"teacher {self.name} expects observations of shape {self.obs_shape} "
                               f"but {info.spec} gives {tuple(info.obs_shape)}")


# --------------------------------------------------------------------------- distillrl agents


class AgentTeacher(Teacher):
    """A distillrl :class:`nets.Agent` (PPO → policy teacher, DQN → Q-teacher)."""

    def __init__(self, agent, name: str, env: str | None = None, tau: float | None = None):
        kind = "q" if agent.pi is None else "policy"
        from .nets import acting_param_count

        super().__init__(name, agent.info.obs_shape, agent.info.n_actions, kind, tau, env, acting_param_count(agent))
        self.agent = agent.eval().requires_grad_(False)
        from .fastpolicy import make_fast_policy

        self.fast = make_fast_policy(self.agent)
        """the agent's acting mirror (NumPy where supported): fast outputs on a few observations"""

    @property
    def recurrent(self) -> bool:
        return self.agent.recurrent

    def raw(self, obs, task_id=None):
        out = self.agent(obs, task_id)
        return out.q if self.kind == "q" else out.logits

    @torch.no_grad()
    def features(self, obs, task_id=None) -> torch.Tensor:
        """The teacher's features [B, D] (what its heads read; feature-level distillation)."""
        return self.agent(torch.as_tensor(obs), task_id).features

    @torch.no_grad()
    def probs_seq(self, obs, task_id, starts, state=None, tau: float | None = None):
        """A recurrent teacher over sequences: ``obs`` [T, N, ...], ``starts`` [T, N] (its state is
        reset where episodes start), from ``state`` (zeros when None). Returns probabilities
        [T·N, A] and the state after the last step (to carry into the next rollout)."""
        n = obs.shape[1]
        out = self.agent.forward_seq(obs, task_id, state if state is not None else self.agent.initial_state(n), starts)
        y = out.q if self.kind == "q" else out.logits
        return torch.softmax(y / (tau or self.tau), -1), out.state

    def outputs_np(self, obs: np.ndarray, task_id: np.ndarray | None = None) -> np.ndarray:
        """Fast path for acting on a few observations (NumPy mirror); ``task_id`` for a
        multi-task agent."""
        if task_id is None and self.agent.n_tasks > 1:
            raise TeacherError(f"{self.name} plays {self.agent.n_tasks} tasks: its outputs need task ids")
        return self.fast.q_values(obs, task_id) if self.kind == "q" else self.fast(obs, task_id)[0]


# --------------------------------------------------------------------------- callables


class CallableTeacher(Teacher):
    """Wraps ``fn(obs: np.ndarray) -> array [B, A]``; ``outputs`` says what it returns:
    ``logits``, ``probs`` (stored as log-probabilities) or ``q``."""

    def __init__(self, fn: Callable[[np.ndarray], Any], obs_shape, n_actions, outputs: str = "logits",
                 name: str = "callable", tau: float | None = None, env: str | None = None):
        if outputs not in ("logits", "probs", "q"):
            raise TeacherError(f"callable teacher outputs must be logits, probs or q, not {outputs!r}")
        super().__init__(name, obs_shape, n_actions, "q" if outputs == "q" else "policy", tau, env)
        self.fn, self.out_kind = fn, outputs

    def raw(self, obs, task_id=None):
        y = self.fn(obs.numpy() if isinstance(obs, torch.Tensor) else obs)
        y = torch.as_tensor(np.asarray(y), dtype=torch.float32)
        if y.shape != (obs.shape[0], self.n_actions):
            raise TeacherError(f"callable teacher returned shape {tuple(y.shape)}, expected {(obs.shape[0], self.n_actions)}")
        return torch.log(y.clamp_min(1e-12)) if self.out_kind == "probs" else y


# --------------------------------------------------------------------------- functional nets from state dicts

_ACTS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "Tanh": torch.tanh, "ReLU": torch.relu, "ELU": F.elu, "LeakyReLU": F.leaky_relu, "GELU": F.gelu,
    "SiLU": F.silu, "Sigmoid": torch.sigmoid,
}


def _seq_linears(sd: dict, prefix: str) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Linear layers of an ``nn.Sequential`` stored under ``prefix`` (``prefix.<i>.weight``), in order."""
    idx = sorted({int(m.group(1)) for k in sd if (m := re.match(re.escape(prefix) + r"\.(\d+)\.weight$", k))})
    return [(sd[f"{prefix}.{i}.weight"], sd[f"{prefix}.{i}.bias"]) for i in idx]


def _stride(kernel: int) -> int:
    return {8: 4, 4: 2, 3: 1}.get(kernel, 1)


class _FunctionalNet(nn.Module):
    """A feed-forward net described as data: optional conv stack, then linear layers.

    ``convs``: [(w, b, stride)], each followed by ReLU, then flatten. ``linears``: [(w, b)] with
    ``act`` after every layer except the last when ``last_act`` is False.
    """

    def __init__(self, convs, linears, act, last_act: bool, normalize: float, chw_from_hwc: bool):
        super().__init__()
        self.convs = [(nn.Parameter(w, False), nn.Parameter(b, False), s) for w, b, s in convs]
        self.linears = [(nn.Parameter(w, False), nn.Parameter(b, False)) for w, b in linears]
        for i, (w, b, _) in enumerate(self.convs):
            self.register_parameter(f"conv{i}_w", w)
            self.register_parameter(f"conv{i}_b", b)
        for i, (w, b) in enumerate(self.linears):
            self.register_parameter(f"lin{i}_w", w)
            self.register_parameter(f"lin{i}_b", b)
        self.act, self.last_act, self.normalize, self.chw_from_hwc = act, last_act, normalize, chw_from_hwc

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        x = obs.float()
        if self.normalize != 1.0:
            x = x * self.normalize
        if self.convs:
            if self.chw_from_hwc:
                x = x.permute(0, 3, 1, 2)
            for w, b, s in self.convs:
                x = torch.relu(F.conv2d(x, w, b, stride=s))
        x = x.flatten(1)
        n = len(self.linears)
        for i, (w, b) in enumerate(self.linears):
            x = F.linear(x, w, b)
            if i < n - 1 or self.last_act:
                x = self.act(x)
        return x


class ModuleTeacher(Teacher):
    def __init__(self, net: nn.Module, name, obs_shape, n_actions, kind, tau=None, env=None):
        n = sum(p.numel() for p in net.parameters())
        super().__init__(name, obs_shape, n_actions, kind, tau, env, n)
        self.net = net.eval().requires_grad_(False)

    def raw(self, obs, task_id=None):
        return self.net(obs)


# --------------------------------------------------------------------------- Stable-Baselines3


def _sb3_activation(kwargs: Any, default: str) -> Callable:
    name = default
    if isinstance(kwargs, dict) and isinstance(kwargs.get("activation_fn"), str):
        m = re.search(r"\.(\w+)'>$", kwargs["activation_fn"])
        name = m.group(1) if m else kwargs["activation_fn"]
    if name not in _ACTS:
        raise TeacherError(f"unsupported activation {name!r} in SB3 policy_kwargs; supported: {', '.join(_ACTS)}")
    return _ACTS[name]


def _sb3_features(sd: dict, prefix: str) -> tuple[list, list]:
    """NatureCNN under ``prefix`` → (convs, [linear]); Flatten (no keys) → ([], [])."""
    if f"{prefix}.cnn.0.weight" not in sd:
        extra = [k for k in sd if k.startswith(prefix + ".")]
        if extra:
            raise TeacherError(f"unsupported SB3 features extractor ({extra[0]}); only Flatten and NatureCNN "
                               "are rebuilt — export a state dict with a named architecture or wrap it as a callable")
        return [], []
    convs = [(w, b, _stride(w.shape[-1])) for w, b in _seq_linears(sd, f"{prefix}.cnn")]
    return convs, _seq_linears(sd, f"{prefix}.linear")


def load_sb3_zip(path: str | Path, tau: float | None = None) -> Teacher:
    """A PPO / A2C / DQN ``.zip`` saved by Stable-Baselines3, loaded without unpickling."""
    path = Path(path)
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as e:
        raise TeacherError(f"{path} is not a readable zip archive ({e})") from None
    with zf:
        names = set(zf.namelist())
        if "data" not in names or "policy.pth" not in names:
            raise TeacherError(f"{path} is not a Stable-Baselines3 archive (needs 'data' and 'policy.pth')")
        try:
            data = json.loads(zf.read("data"))
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise TeacherError(f"{path}: 'data' is not JSON ({e})") from None
        try:
            with zf.open("policy.pth") as f:
                sd = torch.load(f, map_location="cpu", weights_only=True)
        except Exception as e:  # UnpicklingError for anything beyond plain tensors
            msg = str(e).splitlines()[0][:200]
            raise TeacherError(f"refused {path}: policy.pth is not a plain weights file, nothing from it was run "
                               f"(weights-only load failed: {msg})") from None
    if not isinstance(sd, dict) or not all(isinstance(v, torch.Tensor) for v in sd.values()):
        raise TeacherError(f"refused {path}: policy.pth does not hold a flat dict of tensors")
    obs_space = data.get("observation_space", {})
    act_space = data.get("action_space", {})
    if "Discrete" not in str(act_space.get(":type:", "")):
        raise TeacherError(f"{path}: only discrete-action SB3 policies are supported (got {act_space.get(':type:')})")
    n_actions = int(act_space["n"])
    shape = obs_space.get("_shape")
    shape = json.loads(shape) if isinstance(shape, str) else shape
    obs_shape = tuple(int(s) for s in shape)
    pk = data.get("policy_kwargs", {})
    normalize = pk.get("normalize_images", True) if isinstance(pk, dict) else True
    uint8 = obs_space.get("dtype") == "uint8"
    scale = 1 / 255.0 if (normalize and uint8 and len(obs_shape) == 3) else 1.0

    if any(k.startswith("q_net.") for k in sd):  # DQN: features → q_net MLP
        convs, feat = _sb3_features(sd, "q_net.features_extractor")
        head = _FunctionalNet([], _seq_linears(sd, "q_net.q_net"), _sb3_activation(pk, "ReLU"), False, 1.0, False)
        net = _TwoStage(_FunctionalNet(convs, feat, torch.relu, True, scale, False), head) if convs else head
        kind = "q"
    elif "action_net.weight" in sd:  # PPO / A2C
        prefix = "pi_features_extractor" if any(k.startswith("pi_features_extractor.") for k in sd) else "features_extractor"
        convs, feat = _sb3_features(sd, prefix)
        act = _sb3_activation(pk, "Tanh")
        hidden = _seq_linears(sd, "mlp_extractor.policy_net")
        head = [(sd["action_net.weight"], sd["action_net.bias"])]
        kind = "policy"
        body = _FunctionalNet([], hidden + head, act, last_act=False, normalize=1.0, chw_from_hwc=False)
        if convs or feat:
            net = _TwoStage(_FunctionalNet(convs, feat, torch.relu, True, scale, False), body)
        else:
            net = body
    else:
        raise TeacherError(f"{path}: unrecognised SB3 policy (keys: {', '.join(list(sd)[:4])}...)")
    return SB3Teacher(net, f"sb3:{path.name}", obs_shape, n_actions, kind, tau)


class _TwoStage(nn.Module):
    def __init__(self, a: nn.Module, b: nn.Module):
        super().__init__()
        self.a, self.b = a, b

    def forward(self, x):
        return self.b(self.a(x))


class SB3Teacher(ModuleTeacher):
    """SB3 image policies see channels-first images (VecTransposeImage); a channels-last env
    observation of the transposed shape is accepted and transposed here."""

    transpose = False

    def check_env(self, info: EnvInfo) -> None:
        shp = tuple(info.obs_shape)
        if len(shp) == 3 and self.obs_shape == (shp[2], shp[0], shp[1]) and self.obs_shape != shp:
            self.transpose = True
            shp = self.obs_shape
        if self.n_actions != info.n_actions:
            raise TeacherError(f"teacher {self.name} has {self.n_actions} actions but {info.spec} has {info.n_actions}")
        if shp != self.obs_shape:
            raise TeacherError(f"teacher {self.name} expects observations of shape {self.obs_shape} "
                               f"but {info.spec} gives {tuple(info.obs_shape)}")

    def raw(self, obs, task_id=None):
        if self.transpose:
            obs = obs.permute(0, 3, 1, 2)
        return self.net(obs)


# --------------------------------------------------------------------------- CleanRL state dicts

CLEANRL_ARCHES = {
    "cleanrl-ppo": "ppo.py Agent: actor = Linear-Tanh-Linear-Tanh-Linear (keys actor.0/2/4)",
    "cleanrl-dqn": "dqn.py QNetwork: network = Linear-ReLU-Linear-ReLU-Linear (keys network.0/2/4)",
    "cleanrl-ppo-atari": "ppo_atari.py Agent: network = NatureCNN (keys network.0/2/4/7), actor",
    "cleanrl-dqn-atari": "dqn_atari.py QNetwork: network = NatureCNN + Linear-ReLU-Linear (keys network.0/2/4/7/9)",
}


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
        if arch == "cleanrl-ppo":
            lin = _seq_linears(sd, "actor")
            net = _FunctionalNet([], lin, torch.tanh, False, 1.0, False)
            kind, obs_shape = "policy", (lin[0][0].shape[1],)
        elif arch == "cleanrl-dqn":
            lin = _seq_linears(sd, "network")
            net = _FunctionalNet([], lin, torch.relu, False, 1.0, False)
            kind, obs_shape = "q", (lin[0][0].shape[1],)
        else:
            layers = _seq_linears(sd, "network")
            convs = [(w, b, _stride(w.shape[-1])) for w, b in layers if w.dim() == 4]
            lins = [(w, b) for w, b in layers if w.dim() == 2]
            if arch == "cleanrl-ppo-atari":
                trunk = _FunctionalNet(convs, lins, torch.relu, True, 1 / 255.0, False)
                net = _TwoStage(trunk, _FunctionalNet([], [(sd["actor.weight"], sd["actor.bias"])], torch.relu,
                                                      False, 1.0, False))
                kind = "policy"
            else:
                net = _FunctionalNet(convs, lins, torch.relu, False, 1 / 255.0, False)
                kind = "q"
            obs_shape = (convs[0][0].shape[1], 84, 84)
    except (KeyError, IndexError) as e:
        raise TeacherError(f"{path} does not match architecture {arch} (missing {e})") from None
    n_actions = int(list(net.parameters())[-1].shape[0])
    return ModuleTeacher(net, f"{arch}:{path.name}", obs_shape, n_actions, kind, tau)


# --------------------------------------------------------------------------- dispatch


def load_teacher(source: Any, info: EnvInfo | None = None, arch: str | None = None, tau: float | None = None,
                 outputs: str = "logits") -> Teacher:
    """Load a teacher from ``source`` and, when ``info`` is given, check it fits that env."""
    if isinstance(source, Teacher):
        t = source
    elif callable(source):
        if info is None:
            raise TeacherError("a callable teacher needs the environment (for its shapes)")
        t = CallableTeacher(source, info.obs_shape, info.n_actions, outputs, tau=tau)
    else:
        s = str(source)
        p = Path(s)
        if s.endswith(".zip"):
            if not p.is_file():
                raise TeacherError(f"teacher file not found: {s}")
            t = load_sb3_zip(p, tau)
        elif s.endswith((".pt", ".pth", ".bin")) or arch is not None:
            if arch is None:
                raise TeacherError(f"{s} is a state dict: name its architecture with --teacher-arch "
                                   f"({', '.join(CLEANRL_ARCHES)})")
            if not p.is_file():
                raise TeacherError(f"teacher file not found: {s}")
            t = load_state_dict_teacher(p, arch, tau)
        else:
            from .zoo import load_agent

            try:
                agent, meta = load_agent(s)
            except (SourceError, FileNotFoundError) as e:
                raise TeacherError(str(e)) from None
            t = AgentTeacher(agent, s, env=meta.get("env"), tau=tau)
    if info is not None:
        t.check_env(info)
    return t


# --------------------------------------------------------------------------- task sets


class TeacherSet(Teacher):
    """One teacher per task of a task set (:class:`tasks.TaskSet`), behind the one interface.

    Each row of a batch goes to the teacher of its task: the observation is cut back to that
    task's own shape (:meth:`TaskSet.unpad`), and the teacher's outputs over its own actions are
    lifted into the agent's action space (:meth:`TaskSet.lift`; actions it has no output for get
    :data:`tasks.MASK`, i.e. probability 0). Rows of a task without a teacher get MASK
    everywhere (callers mask those rows out). Every teacher is checked against its task's
    spaces when the set is built: a mismatch is one :class:`TeacherError` naming both.
    """

    def __init__(self, teachers: dict[int, Teacher], taskset):
        if not teachers:
            raise TeacherError("a teacher set needs at least one teacher")
        kinds = {t.kind for t in teachers.values()}
        if len(kinds) > 1:
            raise TeacherError("the teachers of a task set must all be policy teachers or all Q-teachers "
                               f"(got {', '.join(f'{t.name}: {t.kind}' for t in teachers.values())})")
        for k, t in teachers.items():
            if not 0 <= k < taskset.n_tasks:
                raise TeacherError(f"teacher {t.name} is bound to task {k}, but the task set has tasks "
                                   f"0..{taskset.n_tasks - 1}")
            try:
                t.check_env(taskset.infos[k])
            except TeacherError as e:
                raise TeacherError(f"teacher for task {taskset.specs[k]} does not fit it: {e}") from None
        first = next(iter(teachers.values()))
        uniq = {id(t): t for t in teachers.values()}
        super().__init__(" + ".join(t.name for t in teachers.values()), taskset.info.obs_shape,
                         taskset.info.n_actions, first.kind, first.tau, taskset.info.spec,
                         sum(t.n_params for t in uniq.values()))
        self.teachers, self.taskset = dict(teachers), taskset

    def check_env(self, info: EnvInfo) -> None:
        if tuple(info.obs_shape) != self.obs_shape or info.n_actions != self.n_actions:
            raise TeacherError(f"teacher set {self.name} was built for {self.env}, not {info.spec}")

    def _route(self, obs, task_id, fn, empty):
        n = len(obs)
        task = np.zeros(n, np.int64) if task_id is None else np.asarray(task_id)
        out = empty(n)
        for k, t in self.teachers.items():
            rows = np.nonzero(task == k)[0]
            if len(rows) == 0:
                continue
            sub = obs[rows] if len(rows) < n else obs
            out[rows] = self.taskset.lift(fn(t, self.taskset.unpad(sub, k), k), k)
        return out

    def raw(self, obs, task_id=None):
        tid = None if task_id is None else (task_id.numpy() if isinstance(task_id, torch.Tensor) else task_id)
        return self._route(obs, tid, lambda t, o, k: t.outputs(o, torch.full((len(o),), k)),
                           lambda n: torch.full((n, self.n_actions), MASK))

    def probs(self, obs, task_id=None, tau: float | None = None) -> torch.Tensor:
        """Rows of a task without a teacher are all zeros (no target)."""
        p = super().probs(obs, task_id, tau)
        if task_id is not None and len(self.teachers) < self.taskset.n_tasks:
            has = torch.zeros(self.taskset.n_tasks, dtype=torch.bool)
            has[list(self.teachers)] = True
            p = p * has[torch.as_tensor(task_id, dtype=torch.int64)][:, None]
        return p

    def outputs_np(self, obs: np.ndarray, task_id: np.ndarray | None = None) -> np.ndarray:
        def one(t, o, k):
            o = np.ascontiguousarray(o)
            f = getattr(t, "outputs_np", None)
            return f(o) if f is not None else t.outputs(o, torch.full((len(o),), k)).numpy()
        return self._route(obs, task_id, one, lambda n: np.full((n, self.n_actions), MASK, np.float32))

    def act(self, obs: np.ndarray, task_id: np.ndarray | None = None) -> np.ndarray:
        return self.outputs_np(obs, task_id).argmax(-1)


def load_task_teacher(source: Any, taskset, task: int | None, arch: str | None = None, tau: float | None = None,
                      outputs: str = "logits") -> Teacher:
    """Load the teacher of task ``task`` of a task set (None: of every task). Its fit to its
    task is checked by the :class:`TeacherSet` it joins (one error naming the task); a callable
    takes its shapes from that task."""
    info = taskset.infos[task or 0] if callable(source) and not isinstance(source, Teacher) else None
    return load_teacher(source, info, arch, tau, outputs)


def parse_task_teachers(sources: list, taskset, tasks: list[int] | None = None) -> list[tuple[int | None, Any]]:
    """``TASK=SOURCE`` items → ``[(task id, source)]``. TASK is a task's env spec
    (``minatar:breakout``), its short name (``breakout``) or its index; a source without
    ``TASK=`` is bound by ``tasks`` (when given) or to every task (None). ``zoo`` on a task set
    stands for each task's zoo teacher (``minatar-<game>``)."""
    from .tasks import task_name

    specs = list(taskset.specs)
    names = [task_name(s) for s in specs]

    def which(key: str) -> int | None:
        if key in specs:
            return specs.index(key)
        if key in names:
            return names.index(key)
        if key.isdigit() and int(key) < len(specs):
            return int(key)
        return None

    out: list[tuple[int | None, Any]] = []
    for i, src in enumerate(sources):
        bound = tasks[i] if tasks else None
        if isinstance(src, str) and "=" in src:
            key, rest = src.split("=", 1)
            k = which(key)
            if k is None and (":" in key or not Path(src).exists()):
                raise TeacherError(f"--teacher {src}: {key!r} is not a task of {taskset.info.spec} "
                                   f"(tasks: {', '.join(specs)})")
            if k is not None:
                src, bound = rest, k
        if src == "zoo" and taskset.n_tasks > 1 and bound is None:
            from .zoo import zoo_names

            zoo = zoo_names()
            for k, s in enumerate(specs):
                name = s.replace(":", "-")
                if name not in zoo:
                    raise TeacherError(f"no zoo teacher for task {s} (looked for {name!r}; zoo: {', '.join(zoo)})")
                out.append((k, name))
            continue
        out.append((bound, src))
    return out
