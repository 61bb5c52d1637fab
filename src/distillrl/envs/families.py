"""Task families for meta-learning: one environment, a sampled task parameter the agent never sees.

A :class:`Family` declares its task distribution (a box of task parameters, or a finite set),
the Gymnasium id of its environment (registered here: ``distillrl/PointNav-v0``, ...) and the
episode length. Tasks are drawn from two *disjoint* fixed pools made from fixed seeds: training
tasks (meta-training samples from them) and test tasks (held out for evaluation). A family with a
finite task set (``halfcheetah-dir``: forward or backward) cannot hold tasks out; its test pool
is the same set, and that is said where it is reported (:attr:`Family.held_out`).

The families are the standard meta-RL benchmarks (Finn et al. 2017; Rothfuss et al. 2019):

* ``point-nav``: a point in the plane moves by its action (a velocity in [-0.1, 0.1]²) towards a
  goal drawn in [-0.5, 0.5]²; reward −distance; 100 steps. Cheap: for tests and quick studies.
* ``halfcheetah-vel``: HalfCheetah-v5 rewarded for running at a target velocity in [0, 2]:
  ``−|v − v*| − 0.05‖a‖²``; 200 steps.
* ``halfcheetah-dir``: forward (+1) or backward (−1): ``d·v − 0.05‖a‖²``; 200 steps.
* ``ant-dir``: Ant-v5 running in a direction of the plane, an angle in [0, 2π):
  ``cos φ·vx + sin φ·vy`` plus Ant's own control, contact and survival terms; 200 steps.

Every family is also an environment for the other commands: ``meta:halfcheetah-vel?task=1.5``, ``meta:point-nav?task=0.2/-0.3``
(kickstart a student on a new task of the family, with a meta-learned teacher).
"""

from __future__ import annotations

from dataclasses import dataclass

import gymnasium as gym
import numpy as np

from distillrl.errors import ConfigError


class PointNav(gym.Env):
    """2-D navigation to a goal the agent does not observe (MAML's point robot)."""

    metadata = {"render_modes": []}

    def __init__(self, task: float | tuple[float, float] = (0.0, 0.0), max_speed: float = 0.1):
        self.goal = np.asarray(task, np.float64).reshape(2)
        self.max_speed = float(max_speed)
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, (2,), np.float32)
        self.action_space = gym.spaces.Box(-max_speed, max_speed, (2,), np.float32)
        self.pos = np.zeros(2)

    def set_task(self, task) -> None:
        self.goal = np.asarray(task, np.float64).reshape(2)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.pos = np.zeros(2)
        return self.pos.astype(np.float32), {}

    def step(self, action):
        a = np.clip(np.asarray(action, np.float64).reshape(2), -self.max_speed, self.max_speed)
        self.pos = self.pos + a
        d = float(np.linalg.norm(self.pos - self.goal))
        return self.pos.astype(np.float32), -d, False, False, {"distance": d}


class _MujocoTask(gym.Wrapper):
    """A MuJoCo locomotion env whose reward is recomputed for one task from ``info``."""

    ctrl_cost = 0.05

    def __init__(self, env_id: str, task, max_episode_steps: int | None = None, **kwargs):
        super().__init__(gym.make(env_id, disable_env_checker=True, **kwargs))
        self.task = task

    def set_task(self, task) -> None:
        self.task = float(np.asarray(task, np.float64).reshape(-1)[0])

    def step(self, action):
        obs, _, term, trunc, info = self.env.step(action)
        return obs, float(self.task_reward(info, np.asarray(action))), term, trunc, info


class HalfCheetahVel(_MujocoTask):
    def __init__(self, task: float = 1.0, **kwargs):
        super().__init__("HalfCheetah-v5", float(task), **kwargs)

    def task_reward(self, info, a):
        return -abs(info["x_velocity"] - self.task) - self.ctrl_cost * float(np.sum(a * a))


class HalfCheetahDir(_MujocoTask):
    def __init__(self, task: float = 1.0, **kwargs):
        super().__init__("HalfCheetah-v5", float(task), **kwargs)

    def task_reward(self, info, a):
        return self.task * info["x_velocity"] - self.ctrl_cost * float(np.sum(a * a))


class AntDir(_MujocoTask):
    def __init__(self, task: float = 0.0, **kwargs):
        super().__init__("Ant-v5", float(task), **kwargs)

    def task_reward(self, info, a):
        phi = self.task
        return (np.cos(phi) * info["x_velocity"] + np.sin(phi) * info["y_velocity"] + info["reward_ctrl"]
                + info["reward_contact"] + info["reward_survive"])


@dataclass(frozen=True)
class Family:
    """A task family: its env, its task distribution and its disjoint train/test pools."""

    name: str
    gym_id: str
    """the registered Gymnasium id (``distillrl/...``); the task is its ``task`` keyword"""
    low: tuple[float, ...] = ()
    """a box of task parameters [low, high] (empty for a finite set)"""
    high: tuple[float, ...] = ()
    choices: tuple[float, ...] = ()
    """a finite task set (``halfcheetah-dir``)"""
    horizon: int = 200
    needs: str = ""
    """the optional extra the env needs (``mujoco``)"""
    doc: str = ""

    @property
    def held_out(self) -> bool:
        """Whether test tasks are disjoint from training tasks (False for a finite task set)."""
        return not self.choices

    @property
    def task_dim(self) -> int:
        return len(self.low) if not self.choices else 1

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` tasks, shape [n, task_dim]."""
        if self.choices:
            return rng.choice(np.asarray(self.choices, np.float64), size=n)[:, None]
        return rng.uniform(self.low, self.high, size=(n, len(self.low)))

    def pools(self, n_train: int, n_test: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """The training and test pools: fixed draws (``seed``), disjoint for a continuous family."""
        if self.choices:
            tasks = np.asarray(self.choices, np.float64)[:, None]
            return tasks, tasks
        train = self.sample(n_train, np.random.default_rng([seed, 0]))
        test = self.sample(n_test, np.random.default_rng([seed, 1]))
        # continuous draws coincide with probability 0; checked all the same (a pool is a promise)
        if {tuple(t) for t in train} & {tuple(t) for t in test}:
            raise AssertionError("train and test task pools overlap")
        return train, test

    def task_kwargs(self, task) -> dict:
        t = np.asarray(task, np.float64).reshape(-1)
        return {"task": tuple(float(x) for x in t) if len(t) > 1 else float(t[0])}

    def make(self, task) -> gym.Env:
        """One env of this family on ``task`` (episodes of :attr:`horizon` steps)."""
        register()
        if self.needs == "mujoco":
            try:
                import mujoco  # noqa: F401  (optional extra)
            except ImportError:
                raise ConfigError(f"family {self.name} needs MuJoCo: pip install 'distillrl[mujoco]'") from None
        return gym.make(self.gym_id, max_episode_steps=self.horizon, disable_env_checker=True,
                        **self.task_kwargs(task))

    def parse_task(self, text: str) -> np.ndarray:
        """A task from the command line: ``1.5``, ``0.2/-0.3`` (point-nav's goal; ``,`` also separates
        outside env specs, where it would join a task set)."""
        try:
            vals = [float(x) for x in str(text).replace("/", ",").split(",")]
        except ValueError:
            raise ConfigError(f"task {text!r} of family {self.name} is not a number (or numbers joined by /)") from None
        if len(vals) != self.task_dim:
            raise ConfigError(f"family {self.name} takes tasks of {self.task_dim} number(s), got {text!r}")
        if self.choices and vals[0] not in self.choices:
            raise ConfigError(f"family {self.name}'s tasks are {', '.join(f'{c:g}' for c in self.choices)}, "
                              f"not {text!r}")
        return np.asarray(vals, np.float64)


FAMILIES: dict[str, Family] = {
    f.name: f for f in (
        Family("point-nav", "distillrl/PointNav-v0", (-0.5, -0.5), (0.5, 0.5), horizon=100,
               doc="2-D point to an unseen goal in [-0.5, 0.5]² (cheap)"),
        Family("halfcheetah-vel", "distillrl/HalfCheetahVel-v0", (0.0,), (2.0,), needs="mujoco",
               doc="HalfCheetah at a target velocity in [0, 2]"),
        Family("halfcheetah-dir", "distillrl/HalfCheetahDir-v0", choices=(-1.0, 1.0), needs="mujoco",
               doc="HalfCheetah forward (+1) or backward (-1)"),
        Family("ant-dir", "distillrl/AntDir-v0", (0.0,), (2 * np.pi,), needs="mujoco",
               doc="Ant running in a direction of the plane, an angle in [0, 2π)"),
    )
}


def family(name: str) -> Family:
    if name not in FAMILIES:
        raise ConfigError(f"unknown task family {name!r}; valid: {', '.join(FAMILIES)}")
    return FAMILIES[name]


_done = False


def register() -> None:
    """Register the families' Gymnasium ids (idempotent; importing this module does it too, so a
    ``gym.make('distillrl.envs.families:distillrl/PointNav-v0')`` works in any process)."""
    global _done
    if _done:
        return
    classes = {"point-nav": PointNav, "halfcheetah-vel": HalfCheetahVel, "halfcheetah-dir": HalfCheetahDir,
               "ant-dir": AntDir}
    for name, cls in classes.items():
        f = FAMILIES[name]
        if f.gym_id not in gym.registry:
            gym.register(f.gym_id, entry_point=f"{__name__}:{cls.__name__}", max_episode_steps=f.horizon)
    _done = True


register()
