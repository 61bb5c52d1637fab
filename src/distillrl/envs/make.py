"""Environments from a string: ``gym:<id>``, ``minatar:<game>``, ``minigrid:<id>``, ``ale:<game>``,
``meta:<family>?task=X`` (a task of a meta-learning family, :mod:`distillrl.envs.families`).

All families come out as a :class:`FastVectorEnv` — a Gymnasium ``VectorEnv`` with same-step
autoreset (the final observation of a finished episode is in ``info["final_obs"]``) and
episode return/length tracked on the raw reward.

Why a hand-written vector env: Gymnasium's ``SyncVectorEnv`` spends tens of µs of bookkeeping
per sub-environment step (info-dict merging, copies, autoreset logic) — several times the cost
of a MinAtar step itself. The loop below writes into preallocated arrays and returns a minimal
info dict, so the learner sees close to the raw env speed.
"""

from __future__ import annotations

import importlib
import logging
import re
from dataclasses import dataclass
from typing import Any, Callable

import gymnasium as gym
import numpy as np

FAMILIES = ("gym", "minatar", "minigrid", "ale", "meta")
MINATAR_GAMES = {
    "breakout": "Breakout",
    "asterix": "Asterix",
    "freeway": "Freeway",
    "seaquest": "Seaquest",
    "space_invaders": "SpaceInvaders",
}


from distillrl.core.distributions import dist_for_space  # noqa: E402
from distillrl.envs.deferred import deferred_imports  # noqa: E402
from distillrl.envs.groups import PackGroups, image_layout  # noqa: E402
from distillrl.errors import ConfigError, EnvError  # noqa: E402  (EnvError re-exported: distillrl.envs.EnvError)


@dataclass(frozen=True)
class EnvInfo:
    """What a network needs to know about an environment."""

    spec: str
    obs_shape: tuple[int, ...]
    """observation shape as the env returns it"""
    layout: str
    """``flat`` (vector), ``hwc`` (image, channels last) or ``chw`` (channels first)"""
    obs_scale: float
    """multiply raw observations by this before the network (1/255 for pixels)"""
    n_actions: int
    n_tasks: int = 1
    """tasks in a task set (:mod:`tasks`); the fields below are for n_tasks > 1"""
    legal: tuple[tuple[bool, ...], ...] | None = None
    """[K][A]: which of the A agent actions task k may take (None: all, every task)"""
    task_channels: tuple[int, ...] = ()
    """per task: the channels (features, for vectors) it really has; the rest are zero padding"""
    groups: tuple[tuple[str, tuple[int, ...]], ...] = ()
    """a ``Dict`` observation's groups (name, shape), packed in this order into the flat
    observation of shape ``obs_shape`` (:mod:`distillrl.envs.groups`); () for a plain Box"""
    view: tuple[str, ...] = ()
    """the groups the student reads (``--obs-groups``); () for every group"""
    action_low: tuple[float, ...] = ()
    """continuous actions (a 1-D ``Box`` of ``n_actions`` dimensions): the lower bounds; () for ``Discrete``"""
    action_high: tuple[float, ...] = ()
    """continuous actions: the upper bounds"""

    @property
    def continuous(self) -> bool:
        """Whether actions are continuous (a ``Box``; ``n_actions`` is then its dimension)."""
        return len(self.action_low) > 0

    @property
    def action_space(self) -> gym.spaces.Space:
        """The agent's action space (what :func:`distillrl.core.distributions.dist_for_space` reads)."""
        if self.continuous:
            return gym.spaces.Box(np.asarray(self.action_low, np.float32), np.asarray(self.action_high, np.float32),
                                  dtype=np.float32)
        return gym.spaces.Discrete(self.n_actions)

    def describe_actions(self) -> str:
        """The action space in words (for error messages)."""
        if self.continuous:
            lo, hi = np.asarray(self.action_low), np.asarray(self.action_high)
            bounds = (f"[{lo[0]:g}, {hi[0]:g}]" if (lo == lo[0]).all() and (hi == hi[0]).all()
                      else f"[{list(lo)}, {list(hi)}]")
            return f"{self.n_actions}-dimensional continuous actions in {bounds}"
        return f"{self.n_actions} discrete actions"


_registered: set[str] = set()


def _register(family: str) -> None:
    # Each family's package is imported when the family is first used, not at the top:
    # minigrid and ale-py are optional extras.
    if family in _registered:
        return
    if family == "minatar":
        # MinAtar's package imports matplotlib.pyplot and seaborn (and through it scipy.stats) at
        # import, for its human renderer only: ≈ 1.4 s of the 1.9 s `import minatar` costs, paid by
        # every process that makes a MinAtar env (each run, sweep trial, PBT member and actor).
        # They are deferred to their first use (MinAtar's renderers); anyone else importing them
        # later gets the real modules. minatar logs a warning when seaborn is missing: not shown.
        logging.disable(logging.WARNING)
        try:
            with deferred_imports("seaborn", "matplotlib.pyplot"):
                from minatar.gym import register_envs
        finally:
            logging.disable(logging.NOTSET)
        register_envs()
    elif family == "minigrid":
        try:
            import minigrid  # noqa: F401  (registers its ids on import)
        except ImportError:
            raise EnvError("minigrid is not installed: pip install 'distillrl[minigrid]'") from None
    elif family == "ale":
        try:
            import ale_py
        except ImportError:
            raise EnvError("ale-py is not installed: pip install 'distillrl[atari]'") from None
        gym.register_envs(ale_py)
    _registered.add(family)


def split_specs(spec: str) -> list[str]:
    """``"a,b"`` → ``["a", "b"]``: several tasks in one vector env (task id = position);
    ``minatar:all`` stands for the five MinAtar games."""
    out: list[str] = []
    for p in (p.strip() for p in spec.split(",")):
        if p == "minatar:all":
            out += [f"minatar:{g}" for g in MINATAR_GAMES]
        elif p:
            out.append(p)
    return out


def parse_spec(spec: str) -> tuple[str, str]:
    if ":" not in spec:
        raise EnvError(
            f"environment {spec!r} has no family prefix; use one of "
            + ", ".join(f"{f}:<name>" for f in FAMILIES)
            + " (run `distillrl envs` to list valid ids)"
        )
    family, name = spec.split(":", 1)
    if family not in FAMILIES:
        raise EnvError(f"unknown environment family {family!r} in {spec!r}; valid: {', '.join(FAMILIES)}"
                       " (run `distillrl envs` to list valid ids)")
    return family, name


MINIGRID_VIEWS = ("full", "agent", "both")
INDICES = r"\d+(-\d+)?(\+\d+(-\d+)?)*"
"""observation indices: ``0+2``, ranges ``0-4`` (inclusive), or both ``0-4+7``"""


def spec_options(spec: str) -> tuple[str, dict[str, str]]:
    """``minigrid:MiniGrid-DoorKey-8x8-v0?view=agent`` → (the spec without options, {"view": "agent"}).

    Options: ``view`` (MiniGrid only): ``full`` (default; the whole grid, ``FullyObsWrapper``)
    or ``agent`` (the agent's own 7×7 egocentric view — the same shape for every grid size, so a
    teacher trained on a small grid can teach on a larger one). ``keep`` (vector observations):
    the indices of the observation kept, the rest hidden — ``gym:CartPole-v1?keep=0+2`` shows
    position and angle but not the velocities, a task that needs memory. ``group.NAME``
    (vector observations): named observation groups, ``gym:Hopper-v5?group.pos=0-4&group.vel=5-10``
    — the observation becomes a ``Dict`` of them (indices in no group form a group ``rest``), so a
    privileged teacher reads every group and the student only some (``--obs-groups pos``).
    MiniGrid's ``view=both`` gives two groups, ``full`` (the whole grid) and ``agent`` (the 7×7
    view): a teacher that sees the map for a student that sees what the agent sees."""
    if "?" not in spec:
        return spec, {}
    base, q = spec.split("?", 1)
    opts = {}
    for item in q.split("&"):
        if "=" not in item:
            raise EnvError(f"environment option {item!r} in {spec!r} is not key=value")
        k, v = item.split("=", 1)
        opts[k] = v
    family = base.split(":", 1)[0]
    for k, v in opts.items():
        if k == "keep" or k.startswith("group."):
            if not re.fullmatch(INDICES, v):
                raise EnvError(f"{k} takes observation indices joined by + (like 0+2, or a range 0-4) in {spec!r}, "
                               f"not {v!r}")
            if k.startswith("group.") and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", k[6:]):
                raise EnvError(f"observation group name {k[6:]!r} in {spec!r} must be a plain identifier")
            continue
        if k == "task" and family == "meta":
            from distillrl.envs.families import family as task_family

            try:
                task_family(base.split(":", 1)[1]).parse_task(v)
            except ConfigError as e:
                raise EnvError(f"{spec}: {e}") from None
            continue
        if k != "view" or family != "minigrid":
            raise EnvError(f"unknown environment option {k!r} in {spec!r} (MiniGrid specs take ?view=full|agent|both; "
                           "vector observations take ?keep=I+J+... and ?group.NAME=I+J+...; meta: families ?task=X)")
        if v not in MINIGRID_VIEWS:
            raise EnvError(f"view must be one of {', '.join(MINIGRID_VIEWS)} in {spec!r}, not {v!r}")
    return base, opts


def parse_indices(text: str) -> np.ndarray:
    """``"0-2+5"`` → ``[0, 1, 2, 5]``."""
    out: list[int] = []
    for part in text.split("+"):
        a, _, b = part.partition("-")
        out += list(range(int(a), int(b) + 1)) if b else [int(a)]
    return np.array(out, np.int64)


def group_observation(env: gym.Env, groups: dict[str, str], spec: str) -> gym.Env:
    """A vector observation as a ``Dict`` of named index groups (``group.NAME=I+J`` options)."""
    space = env.observation_space
    if not isinstance(space, gym.spaces.Box) or len(space.shape) != 1:
        raise EnvError(f"{spec}: group.NAME= needs a vector observation, got {space}")
    n = space.shape[0]
    parts: dict[str, np.ndarray] = {}
    seen: set[int] = set()
    for name, text in groups.items():
        idx = parse_indices(text)
        if len(idx) == 0 or idx.max() >= n:
            raise EnvError(f"{spec}: group {name} index {idx.max() if len(idx) else ''} is out of range (the "
                           f"observation has {n} entries)")
        if seen & set(idx.tolist()):
            raise EnvError(f"{spec}: index {sorted(seen & set(idx.tolist()))[0]} is in two groups")
        seen |= set(idx.tolist())
        parts[name] = idx
    rest = np.array([i for i in range(n) if i not in seen], np.int64)
    if len(rest):
        if "rest" in parts:
            raise EnvError(f"{spec}: a group is named 'rest' and indices {rest.tolist()} are in no group")
        parts["rest"] = rest
    new = gym.spaces.Dict({k: gym.spaces.Box(space.low[i], space.high[i], dtype=space.dtype) for k, i in parts.items()})
    return gym.wrappers.TransformObservation(env, lambda o: {k: o[i] for k, i in parts.items()}, new)


class BothViews(gym.ObservationWrapper):
    """MiniGrid's whole grid and the agent's 7×7 view as two observation groups, ``full`` and ``agent``."""

    def __init__(self, env: gym.Env):
        from minigrid.wrappers import FullyObsWrapper  # optional extra (distillrl[minigrid])

        super().__init__(env)
        self.full = FullyObsWrapper(env)
        self.observation_space = gym.spaces.Dict({"full": self.full.observation_space["image"],
                                                  "agent": env.observation_space["image"]})

    def observation(self, obs):
        return {"full": self.full.observation(obs)["image"], "agent": obs["image"]}


def keep_observation(env: gym.Env, keep: str, spec: str) -> gym.Env:
    """Only the observation entries at indices ``keep`` (``"0+2"``, ``"0-3"``) of a vector observation."""
    space = env.observation_space
    idx = parse_indices(keep)
    if not isinstance(space, gym.spaces.Box) or len(space.shape) != 1:
        raise EnvError(f"{spec}: keep= needs a vector observation, got {space}")
    if idx.max() >= space.shape[0]:
        raise EnvError(f"{spec}: keep index {idx.max()} is out of range (the observation has {space.shape[0]} entries)")
    new = gym.spaces.Box(space.low[idx], space.high[idx], dtype=space.dtype)
    return gym.wrappers.TransformObservation(env, lambda o: o[idx], new)


def gym_id(spec: str) -> str:
    """The Gymnasium id behind a distillrl env spec (the first task's, for a multi-task spec)."""
    parts = split_specs(spec)
    if len(parts) > 1:
        ids = [gym_id(p) for p in parts]
        return ids[0]
    spec, _ = spec_options(spec)
    family, name = parse_spec(spec)
    _register(family)
    if family == "meta":
        from distillrl.envs.families import family as task_family

        try:
            f = task_family(name)
        except ConfigError as e:
            raise EnvError(f"{spec}: {e}") from None
        # module:id: gym.make imports the module (and so registers the id) in any process
        return f"distillrl.envs.families:{f.gym_id}"
    if family == "minatar":
        if name not in MINATAR_GAMES:
            raise EnvError(f"unknown MinAtar game {name!r} in {spec!r}; valid: {', '.join(MINATAR_GAMES)}"
                           " (run `distillrl envs` to list valid ids)")
        return f"MinAtar/{MINATAR_GAMES[name]}-v1"
    if family == "ale" and "/" not in name:
        name = "ALE/" + "".join(p.capitalize() for p in name.split("_")) + "-v5"
    if ":" in name:  # Gymnasium's module:id — importing the module registers the id
        import_env_module(name, spec)
        if name.split(":", 1)[1] not in gym.registry:
            raise EnvError(f"unknown environment {spec!r}: importing {name.split(':', 1)[0]!r} did not register "
                           f"{name.split(':', 1)[1]!r}")
        return name  # gym.make imports the module itself, in every process (Ray workers included)
    if name not in gym.registry:
        raise EnvError(f"unknown environment {spec!r} (no Gymnasium id {name!r}); "
                       f"run `distillrl envs --family {family}` to list valid ids")
    return name


def import_env_module(name: str, spec: str) -> None:
    """Import the module of a ``module:id`` name (Gymnasium's syntax: the import registers the id)."""
    module, sep, env_id = name.partition(":")
    if not module or not env_id or ":" in env_id:
        raise EnvError(f"environment {spec!r}: expected module:id (e.g. gym:mypkg.envs:MyEnv-v0)")
    try:
        importlib.import_module(module)
    except ImportError as e:
        raise EnvError(f"environment {spec!r}: cannot import module {module!r} ({e}); is it on PYTHONPATH?") from None


def list_envs(family: str | None = None) -> list[str]:
    out = []
    for fam in FAMILIES if family is None else (family,):
        try:
            _register(fam)
        except EnvError:
            continue
        if fam == "minatar":
            out += [f"minatar:{g}" for g in MINATAR_GAMES]
            continue
        if fam == "meta":
            from distillrl.envs.families import FAMILIES as TASK_FAMILIES

            out += [f"meta:{name}" for name in TASK_FAMILIES]
            continue
        for env_id, spec in gym.registry.items():
            ep = str(spec.entry_point)
            if fam == "minigrid" and env_id.startswith("MiniGrid-"):
                out.append(f"minigrid:{env_id}")
            elif fam == "ale" and env_id.startswith("ALE/"):
                out.append(f"ale:{env_id}")
            elif fam == "gym" and not (env_id.startswith(("MiniGrid-", "BabyAI-", "ALE/", "MinAtar/", "distillrl/"))
                                       or "ale_py" in ep or "minigrid" in ep):
                out.append(f"gym:{env_id}")
    return sorted(out)


def make_env_fn(spec: str, max_episode_steps: int | None = None, render_mode: str | None = None,
                task: int = 0) -> Callable[[], gym.Env]:
    """A thunk building one (wrapped) Gymnasium env for ``spec`` (task ``task`` of a multi-task
    spec); validates the id now."""
    parts = split_specs(spec)
    spec = parts[task % len(parts)]
    env_id = gym_id(spec)
    spec, opts = spec_options(spec)
    family, _ = parse_spec(spec)

    def thunk() -> gym.Env:
        kwargs: dict[str, Any] = {}
        if max_episode_steps is not None:
            kwargs["max_episode_steps"] = max_episode_steps
        if render_mode is not None:
            kwargs["render_mode"] = render_mode
        if family == "ale":
            kwargs["frameskip"] = 1
            env = gym.make(env_id, disable_env_checker=True, **kwargs)
            env = gym.wrappers.AtariPreprocessing(env, frame_skip=4, screen_size=84, noop_max=30)
            return gym.wrappers.FrameStackObservation(env, 4)
        if family == "meta":  # the task (default: the family's first test task)
            from distillrl.envs.families import family as task_family

            f = task_family(spec.split(":", 1)[1])
            task = f.parse_task(opts["task"]) if "task" in opts else f.pools(1, 1)[1][0]
            kwargs.update(f.task_kwargs(task))
        env = gym.make(env_id, disable_env_checker=True, **kwargs)
        if family == "minigrid":
            from minigrid.wrappers import FullyObsWrapper, ImgObsWrapper  # optional extra (distillrl[minigrid])

            if opts.get("view") == "both":
                env = BothViews(env)
            else:
                env = ImgObsWrapper(env if opts.get("view") == "agent" else FullyObsWrapper(env))
        if "keep" in opts:
            env = keep_observation(env, opts["keep"], spec)
        groups = {k[6:]: v for k, v in opts.items() if k.startswith("group.")}
        if groups:
            env = group_observation(env, groups, spec)
        if isinstance(env.observation_space, gym.spaces.Dict):  # named groups, packed into one vector
            env = PackGroups(env, spec)
        return env

    return thunk


def env_info(spec: str, env: gym.Env | None = None) -> EnvInfo:
    """Spaces of one environment (a task set's common view is ``tasks.TaskSet.build(spec).info``)."""
    parts = split_specs(spec)
    if len(parts) > 1:
        raise EnvError(f"{spec!r} is a task set: its spaces come from distillrl.tasks.TaskSet.build")
    family, _ = parse_spec(spec_options(spec)[0])
    close = env is None
    env = env or make_env_fn(spec)()
    try:
        obs_space = env.observation_space
        act_space = env.action_space
        try:  # the action spaces supported are those a registered action distribution describes
            dist_for_space(act_space)
        except ConfigError as e:
            raise EnvError(f"{spec}: {e}") from None
        groups = env.groups if isinstance(env, PackGroups) else ()
        if not isinstance(obs_space, gym.spaces.Box):
            raise EnvError(f"{spec}: observation space must be a Box or a Dict of Box groups, "
                           f"got {type(obs_space).__name__}")
        shape = tuple(obs_space.shape)
        layout = "flat" if len(shape) == 1 else image_layout(shape, family)
        scale = 1.0 / 255.0 if family == "ale" else 1.0
        if isinstance(act_space, gym.spaces.Box):
            return EnvInfo(spec, shape, layout, scale, int(np.prod(act_space.shape)), groups=groups,
                           action_low=tuple(float(x) for x in act_space.low.ravel()),
                           action_high=tuple(float(x) for x in act_space.high.ravel()))
        return EnvInfo(spec, shape, layout, scale, int(act_space.n), groups=groups)
    finally:
        if close:
            env.close()


class FastVectorEnv(gym.vector.VectorEnv):
    """Runs ``num_envs`` Gymnasium envs in this process with same-step autoreset.

    ``step`` returns ``obs, reward, terminated, truncated, info`` where, for the rows that just
    finished an episode, ``info["final_obs"]`` holds their last observation and
    ``info["episode_return"]`` / ``info["episode_length"]`` their totals (NaN elsewhere).
    Seeding: env ``i`` is reset with ``seed + i`` on the first ``reset(seed=...)``; later
    autoresets continue each env's own RNG stream, so runs are reproducible.
    """

    def __init__(self, env_fns: list[Callable[[], gym.Env]], task_ids: list[int] | None = None,
                 obs_shape: tuple[int, ...] | None = None, channel_axis: int = -1,
                 action_table: np.ndarray | None = None):
        """Task sets: ``obs_shape`` is the common (padded) shape — each env's observation fills
        the leading channels on ``channel_axis``, the rest stays zero; ``action_table[k, a]`` is
        the env action task k takes for action ``a`` (None: actions go to the envs as given)."""
        self.envs = [fn() for fn in env_fns]
        self.num_envs = len(self.envs)
        self.task_ids = np.asarray(task_ids if task_ids is not None else [0] * self.num_envs, np.int64)
        e0 = self.envs[0]
        shape = tuple(obs_shape) if obs_shape is not None else e0.observation_space.shape
        self.single_observation_space = (e0.observation_space if shape == e0.observation_space.shape else
                                         gym.spaces.Box(0, 1, shape, e0.observation_space.dtype))
        self.single_action_space = e0.action_space
        self.observation_space = gym.vector.utils.batch_space(self.single_observation_space, self.num_envs)
        self.action_space = gym.vector.utils.batch_space(e0.action_space, self.num_envs)
        self.metadata = dict(getattr(e0, "metadata", {}))
        self.metadata["autoreset_mode"] = gym.vector.AutoresetMode.SAME_STEP
        self._obs = np.zeros((self.num_envs,) + shape, e0.observation_space.dtype)
        # where each env's observation goes in its row (a channel prefix when padded)
        self._slot: list = []
        for i, env in enumerate(self.envs):
            own = env.observation_space.shape
            if own == shape:
                self._slot.append(i)
            else:
                ax = channel_axis % len(shape)
                sl = [slice(None)] * len(shape)
                sl[ax] = slice(0, own[ax])
                self._slot.append((i, *sl))
        self._table = None if action_table is None else np.asarray(action_table, np.int64)
        # continuous actions go to the envs clipped to their bounds (the agent's sample is
        # unclipped, as its log-probability is of what was sampled: CleanRL's ClipAction)
        box = e0.action_space if isinstance(e0.action_space, gym.spaces.Box) else None
        self._clip = (box.low.astype(np.float32), box.high.astype(np.float32)) if box is not None else None
        self._final = np.zeros_like(self._obs)
        # Each env's step, past Gymnasium's bookkeeping wrappers where gym.make put only those:
        # OrderEnforcing (this class always resets first) and TimeLimit (its count is kept here,
        # truncating at the same step). Two wrapper calls per env step were ≈ 2 % of a CartPole
        # PPO iteration; envs with any other wrapper are stepped through their whole stack.
        self._stepped: list[gym.Env] = []  # what each env's step is called on (looked up per step)
        self._limit = [0] * self.num_envs  # 0: no limit kept here (Python ints: read per env step)
        self._elapsed = [0] * self.num_envs
        for i, env in enumerate(self.envs):
            inner, limit = env, 0
            if type(inner) is gym.wrappers.TimeLimit:
                limit, inner = int(inner._max_episode_steps), inner.env
            if type(inner) is gym.wrappers.OrderEnforcing and inner.env is env.unwrapped:
                self._stepped.append(env.unwrapped)
                self._limit[i] = limit
            else:
                self._stepped.append(env)
        self._rew = np.zeros(self.num_envs, np.float64)
        self._ret = np.zeros(self.num_envs, np.float64)
        self._len = np.zeros(self.num_envs, np.int64)

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        for i, env in enumerate(self.envs):
            s = None if seed is None else seed + i
            self._obs[self._slot[i]], _ = env.reset(seed=s)
            if s is not None:
                env.action_space.seed(s)
        self._ret[:] = 0
        self._len[:] = 0
        self._elapsed = [0] * self.num_envs
        return self._obs.copy(), {}

    def step(self, actions):
        n = self.num_envs
        term = np.zeros(n, bool)
        trunc = np.zeros(n, bool)
        done_rows = []
        obs, rew, slot = self._obs, self._rew, self._slot
        if self._table is not None:
            actions = self._table[self.task_ids, np.asarray(actions)]
        if self._clip is not None:  # rows of float32 arrays, inside the bounds
            acts = list(np.clip(np.asarray(actions, np.float32).reshape((n,) + self._clip[0].shape), *self._clip))
        else:  # Python ints: envs' action-space checks are several times cheaper on them than on np.int64
            acts = actions.tolist() if isinstance(actions, np.ndarray) else list(actions)
        limit, elapsed = self._limit, self._elapsed
        for i, e in enumerate(self._stepped):
            o, r, te, tr, _ = e.step(acts[i])
            elapsed[i] += 1
            if limit[i] and elapsed[i] >= limit[i]:  # TimeLimit's rule
                tr = True
            rew[i] = r
            if te or tr:
                term[i], trunc[i] = te, tr
                self._final[slot[i]] = o
                done_rows.append(i)
                o, _ = self.envs[i].reset()
                elapsed[i] = 0
            obs[slot[i]] = o
        self._ret += rew
        self._len += 1
        info: dict[str, Any] = {}
        if done_rows:
            er = np.full(n, np.nan)
            el = np.full(n, np.nan)
            er[done_rows] = self._ret[done_rows]
            el[done_rows] = self._len[done_rows]
            self._ret[done_rows] = 0
            self._len[done_rows] = 0
            info = {"final_obs": self._final.copy(), "episode_return": er, "episode_length": el,
                    "_final_obs": term | trunc}
        return obs.copy(), rew.copy(), term, trunc, info

    def close_extras(self, **kwargs):
        for env in self.envs:
            env.close()


def make_vec(spec: str, num_envs: int, max_episode_steps: int | None = None, obs_shape=None,
             channel_axis: int = -1, action_table: np.ndarray | None = None,
             vectorised: bool = True) -> FastVectorEnv:
    """``num_envs`` copies of ``spec``; a task set ``a,b`` deals tasks round-robin (env i runs task
    i mod K; when K does not divide ``num_envs`` the first tasks get one env more). The padding
    and action arguments are a task set's (:meth:`tasks.TaskSet.make_vec` passes them).
    ``vectorised``: where Gymnasium has a NumPy-vectorised version of a plain single-task env
    (CartPole) and ``num_envs`` is large enough for it to be cheaper, use it
    (:mod:`distillrl.envs.vector`: the same trajectories for the same seeds)."""
    k = len(split_specs(spec))
    if num_envs < k:
        raise EnvError(f"num_envs ({num_envs}) must be at least the number of tasks ({k})")
    if vectorised and k == 1 and obs_shape is None and action_table is None and "?" not in spec:
        from distillrl.envs.vector import CartPoleVector, vector_entry

        env_id = gym_id(spec)
        if vector_entry(env_id, num_envs) is not None:  # Gymnasium's NumPy-vectorised copy: same trajectories, far cheaper
            return CartPoleVector(env_id, num_envs, max_episode_steps)
    tasks = [i % k for i in range(num_envs)]
    return FastVectorEnv([make_env_fn(spec, max_episode_steps, task=t) for t in tasks], tasks, obs_shape,
                         channel_axis, action_table)
