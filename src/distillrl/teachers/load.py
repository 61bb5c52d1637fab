"""One entry point for every teacher source (zoo name, run directory, checkpoint, SB3 zip, state
dict), and teacher sets bound to the tasks of a task set."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from distillrl.core.distributions import ActionDistribution
from distillrl.envs.groups import ObsView, check_groups, parse_groups
from distillrl.envs.make import EnvInfo
from distillrl.envs.tasks import MASK, task_name
from distillrl.errors import SourceError, TeacherError
from distillrl.teachers.base import AgentTeacher, CallableTeacher, Teacher
from distillrl.teachers.cleanrl import CLEANRL_ARCHES, load_state_dict_teacher
from distillrl.teachers.hub import cleanrl_hub_files, hub_layout, resolve_hf, sb3_hub_files
from distillrl.teachers.meta import load_meta_teacher, meta_spec
from distillrl.teachers.sb3 import load_sb3_zip
from distillrl.teachers.zoo import load_agent, zoo_names


def load_teacher(source: Any, info: EnvInfo | None = None, arch: str | None = None, tau: float | None = None,
                 outputs: str = "logits", obs_groups: str | None = None) -> Teacher:
    """Load a teacher from ``source`` and, when ``info`` is given, check it fits that env;
    ``obs_groups`` (``"priv,a"``): the observation groups of ``info`` it reads."""
    if isinstance(source, Teacher):
        t = source
    elif callable(source):
        if info is None:
            raise TeacherError("a callable teacher needs the environment (for its shapes)")
        names = parse_groups(obs_groups)
        shape = (ObsView(info.groups, check_groups(info.groups, names, "--teacher-obs-groups")).shape
                 if names and info.groups else info.obs_shape)
        t = CallableTeacher(source, shape, info.n_actions, outputs, tau=tau)
    else:
        s = str(source)
        if s.startswith("hf://"):
            s = str(resolve_hf(s))
        p = Path(s)
        layout = hub_layout(p)
        if layout == "sb3":  # an RL Zoo / huggingface_sb3 repository folder
            zip_path, zoo_cfg = sb3_hub_files(p)
            t = load_sb3_zip(zip_path, tau)
            t.provenance = {"source": s, "layout": "sb3", "model": zip_path.name, "config": zoo_cfg}
        elif layout == "cleanrl":  # a CleanRL hub repository folder
            model, exp, hub_arch = cleanrl_hub_files(p)
            t = load_state_dict_teacher(model, arch or hub_arch, tau)
            t.provenance = {"source": s, "layout": "cleanrl", "model": model.name, "exp_name": exp}
        elif s.endswith(".zip"):
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
        elif meta_spec(s) is not None:  # a meta-learned actor (distillrl meta)
            t = load_meta_teacher(s, tau)
        else:
            try:
                agent, meta = load_agent(s)
            except (SourceError, FileNotFoundError) as e:
                raise TeacherError(str(e)) from None
            t = AgentTeacher(agent, s, env=meta.get("env"), tau=tau)
    if obs_groups:
        if info is None:
            raise TeacherError("a teacher's observation groups need the environment")
        t.read_groups(info, obs_groups)
    if info is not None:
        t.check_env(info)
    return t


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

    def distribution(self, obs, task_id=None, tau: float | None = None) -> ActionDistribution:
        """Rows of a task without a teacher have all-zero probabilities (no target)."""
        d = super().distribution(obs, task_id, tau)
        if task_id is not None and len(self.teachers) < self.taskset.n_tasks:
            has = torch.zeros(self.taskset.n_tasks, dtype=torch.bool)
            has[list(self.teachers)] = True
            d = self.dist.from_target(d.target() * has[torch.as_tensor(task_id, dtype=torch.int64)][:, None])
        return d

    def outputs_np(self, obs: np.ndarray, task_id: np.ndarray | None = None) -> np.ndarray:
        def one(t, o, k):
            o = np.ascontiguousarray(o)
            f = getattr(t, "outputs_np", None)
            return f(o) if f is not None else t.outputs(o, torch.full((len(o),), k)).numpy()
        return self._route(obs, task_id, one, lambda n: np.full((n, self.n_actions), MASK, np.float32))

    def act(self, obs: np.ndarray, task_id: np.ndarray | None = None) -> np.ndarray:
        return self.dist.np_mode(self.outputs_np(obs, task_id))


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
            zoo = zoo_names()
            for k, s in enumerate(specs):
                name = s.replace(":", "-")
                if name not in zoo:
                    raise TeacherError(f"no zoo teacher for task {s} (looked for {name!r}; zoo: {', '.join(zoo)})")
                out.append((k, name))
            continue
        out.append((bound, src))
    return out
