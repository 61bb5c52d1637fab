"""Offline episodes as sequences: Minari datasets read into flat arrays, and context windows.

A Minari dataset (made here by ``distillrl dataset`` or anywhere else) is read with Minari's own
loader into one :class:`Episodes`: every step's observation, action, reward, return-to-go and
timestep, flat over all episodes, plus — when the dataset has them — the logits of the teacher
that recorded it (``infos["teacher_logits"]``). Several datasets of one task (expert, ε-noisy,
mid-training) are concatenated into one. :meth:`Episodes.windows` cuts the context windows a
sequence model trains on: the ``K`` steps ending at a given step, left-padded (``valid`` is
False on the padding) where the episode began less than ``K`` steps earlier.

Datasets made here carry a ``distillrl.json`` beside Minari's files naming the distillrl env
spec and the teacher that played; for a dataset from elsewhere the env is its Minari
``env_spec`` id (or ``--env``).
"""

from __future__ import annotations

import json
import os
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from distillrl.core.returns import returns_to_go
from distillrl.errors import ConfigError

SIDECAR = "distillrl.json"


def minari_module():
    try:
        import minari  # optional extra (distillrl[offline]), imported where a dataset is used
    except ImportError:  # pragma: no cover - installed by the dev/offline extras
        raise ConfigError("offline datasets need minari: pip install 'distillrl[offline]'") from None
    return minari


DEFAULT_ROOT = "runs/datasets"


def resolve_root(root: str | Path | None) -> Path:
    """Where datasets live: ``root`` when given (``--root``/``--dataset-root``), else Minari's own
    ``MINARI_DATASETS_PATH`` when set, else ``runs/datasets``."""
    return Path(root) if root else Path(os.environ.get("MINARI_DATASETS_PATH") or DEFAULT_ROOT)


@contextmanager
def datasets_root(root: str | Path | None):
    """Minari reads and writes under ``MINARI_DATASETS_PATH``; point it at ``root`` for the block."""
    old = os.environ.get("MINARI_DATASETS_PATH")
    os.environ["MINARI_DATASETS_PATH"] = str(resolve_root(root).resolve())
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("MINARI_DATASETS_PATH", None)
        else:
            os.environ["MINARI_DATASETS_PATH"] = old


def dataset_dir(dataset_id: str, root: str | Path | None) -> Path:
    return resolve_root(root) / dataset_id.replace("/", os.sep)


def load_dataset(dataset_id: str, root: str | Path):
    """A Minari dataset by id from ``root`` (Minari's own loader; never downloads)."""
    minari = minari_module()
    where = resolve_root(root)
    if not where.is_dir():  # (Minari would create the folder: a read must not)
        raise ConfigError(f"no dataset {dataset_id} under {where}: the folder does not exist")
    with datasets_root(root), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        found = dataset_id in minari.list_local_datasets()
        if not found and dataset_dir(dataset_id, root).is_dir():  # there, but Minari cannot read it
            why = next((str(w.message) for w in caught if dataset_id in str(w.message)), "unreadable metadata")
            raise ConfigError(f"dataset {dataset_id} under {where} is damaged: {why.split(': ', 1)[-1]}")
        if not found:
            raise ConfigError(f"no dataset {dataset_id} under {where}")
        try:
            return minari.load_dataset(dataset_id, download=False)
        except Exception as e:  # Minari/pyarrow on damaged files: name the dataset, not the library
            raise ConfigError(f"dataset {dataset_id} under {where} is damaged: {_first_line(e)}") from None


def _first_line(e: BaseException) -> str:
    return (str(e).strip().splitlines() or [type(e).__name__])[0][:300]


def dataset_info(dataset_id: str, root: str | Path) -> dict:
    """What distillrl recorded about a dataset it made (env spec, teacher, ε); ``{}`` otherwise."""
    p = dataset_dir(dataset_id, root) / SIDECAR
    if not p.exists():
        return {}
    try:
        return json.loads(p.read_text())
    except (OSError, ValueError) as e:
        raise ConfigError(f"{p}: unreadable ({e})") from None


def dataset_env(dataset_id: str, root: str | Path, ds=None) -> str:
    """The distillrl env spec a dataset was recorded in."""
    env = dataset_info(dataset_id, root).get("env")
    if env:
        return env
    ds = ds if ds is not None else load_dataset(dataset_id, root)
    spec = getattr(ds, "env_spec", None)
    if spec is None:
        raise ConfigError(f"dataset {dataset_id} does not record its environment: pass --env")
    return f"gym:{spec.id}"


@dataclass
class Episodes:
    """Flat per-step arrays over all episodes of one task (the final observations dropped)."""

    obs: np.ndarray
    """[N, *obs_shape] as stored (bool/uint8 stay compact; windows convert to float32)"""
    actions: np.ndarray
    """[N] int64"""
    rewards: np.ndarray
    """[N] float32"""
    rtg: np.ndarray
    """[N] float32: undiscounted return to go from each step to its episode's end"""
    timesteps: np.ndarray
    """[N] int64: step index within the episode"""
    episode: np.ndarray
    """[N] int64: episode index of each step"""
    starts: np.ndarray
    """[E] int64: first step of each episode"""
    returns: np.ndarray
    """[E] float64: each episode's return"""
    teacher_logits: np.ndarray | None
    """[N, A] float32: the recording teacher's outputs on each observation (None if absent)"""
    source: str = ""

    @property
    def n_steps(self) -> int:
        return len(self.actions)

    @property
    def n_episodes(self) -> int:
        return len(self.starts)

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(np.append(self.starts, self.n_steps))

    @classmethod
    def from_arrays(cls, episodes: list[dict], source: str = "") -> "Episodes":
        """From ``[{"observations": [T(+1), ...], "actions": [T], "rewards": [T], "teacher_logits": [T(+1), A]?}]``."""
        if not episodes:
            raise ConfigError(f"{source or 'the dataset'} has no episodes")
        obs, acts, rews, rtg, ts, ep, starts, rets, logits = [], [], [], [], [], [], [], [], []
        have_logits = all(e.get("teacher_logits") is not None for e in episodes)
        n = 0
        for i, e in enumerate(episodes):
            a = np.asarray(e["actions"]).reshape(-1).astype(np.int64)
            t = len(a)
            if t == 0:
                continue
            r = np.asarray(e["rewards"], np.float32).reshape(-1)
            obs.append(np.asarray(e["observations"])[:t])
            acts.append(a)
            rews.append(r)
            rtg.append(returns_to_go(r))
            ts.append(np.arange(t, dtype=np.int64))
            ep.append(np.full(t, len(starts), np.int64))
            starts.append(n)
            rets.append(float(r.sum()))
            if have_logits:
                logits.append(np.asarray(e["teacher_logits"], np.float32)[:t])
            n += t
        return cls(np.concatenate(obs), np.concatenate(acts), np.concatenate(rews), np.concatenate(rtg),
                   np.concatenate(ts), np.concatenate(ep), np.asarray(starts, np.int64), np.asarray(rets),
                   np.concatenate(logits) if have_logits else None, source)

    @classmethod
    def concat(cls, parts: list["Episodes"]) -> "Episodes":
        if len(parts) == 1:
            return parts[0]
        shapes = {p.obs.shape[1:] for p in parts}
        if len(shapes) != 1:
            raise ConfigError(f"datasets of one task must share the observation shape, got {sorted(shapes)}")
        offs = np.cumsum([0] + [p.n_steps for p in parts[:-1]])
        eoffs = np.cumsum([0] + [p.n_episodes for p in parts[:-1]])
        logits = [p.teacher_logits for p in parts]
        return cls(np.concatenate([p.obs for p in parts]), np.concatenate([p.actions for p in parts]),
                   np.concatenate([p.rewards for p in parts]), np.concatenate([p.rtg for p in parts]),
                   np.concatenate([p.timesteps for p in parts]),
                   np.concatenate([p.episode + e for p, e in zip(parts, eoffs)]),
                   np.concatenate([p.starts + o for p, o in zip(parts, offs)]),
                   np.concatenate([p.returns for p in parts]),
                   np.concatenate(logits) if all(x is not None for x in logits) else None,
                   "+".join(p.source for p in parts))

    def subset(self, episodes: np.ndarray) -> "Episodes":
        """The given episodes only (e.g. a held-out split), renumbered."""
        episodes = np.sort(np.asarray(episodes, np.int64))
        keep = np.isin(self.episode, episodes)
        lens = self.lengths[episodes]
        remap = np.full(self.n_episodes, -1, np.int64)
        remap[episodes] = np.arange(len(episodes))
        return Episodes(self.obs[keep], self.actions[keep], self.rewards[keep], self.rtg[keep], self.timesteps[keep],
                        remap[self.episode[keep]], np.concatenate([[0], np.cumsum(lens)[:-1]]).astype(np.int64),
                        self.returns[episodes], None if self.teacher_logits is None else self.teacher_logits[keep],
                        self.source)

    def split(self, held_out: float, rng: np.random.Generator) -> tuple["Episodes", "Episodes | None"]:
        """(train, held-out) by whole episodes; ``held_out`` share of episodes (at least one,
        and never all) — None when there is a single episode or ``held_out`` is 0."""
        e = self.n_episodes
        k = int(round(held_out * e))
        if held_out <= 0 or e < 2:
            return self, None
        k = min(max(k, 1), e - 1)
        perm = rng.permutation(e)
        return self.subset(perm[k:]), self.subset(perm[:k])

    def windows(self, ends: np.ndarray, k: int) -> dict[str, np.ndarray]:
        """Context windows of ``k`` steps ending at the steps ``ends`` [B]: ``obs`` [B, k, ...]
        float32, ``rtg`` [B, k], ``actions`` [B, k], ``timesteps`` [B, k], ``valid`` [B, k]
        (left padding is False and zero), plus ``teacher_logits`` [B, k, A] when present."""
        ends = np.asarray(ends, np.int64)
        first = self.starts[self.episode[ends]]
        idx = ends[:, None] - (k - 1) + np.arange(k)[None]
        valid = idx >= first[:, None]
        idx = np.where(valid, idx, first[:, None])
        out = {"obs": self.obs[idx].astype(np.float32), "rtg": self.rtg[idx], "actions": self.actions[idx],
               "timesteps": self.timesteps[idx], "valid": valid}
        if self.teacher_logits is not None:
            out["teacher_logits"] = self.teacher_logits[idx]
        for key in ("obs", "rtg", "actions", "timesteps", "teacher_logits"):
            if key in out:
                v = out[key]
                v[~valid] = 0
        return out


def read_episodes(dataset_ids: list[str] | str, root: str | Path, env: str | None = None) -> tuple[Episodes, str]:
    """One task's episodes from one or more Minari datasets (``a+b`` or a list), and its env spec
    (the datasets must agree; ``env`` names it for datasets that record none)."""
    if isinstance(dataset_ids, str):
        dataset_ids = [dataset_ids]
    dataset_ids = [d for item in dataset_ids for d in item.split("+") if d]
    parts, envs = [], []
    for did in dataset_ids:
        ds = load_dataset(did, root)
        eps = []
        try:
            for e in ds.iterate_episodes():
                infos = e.infos if isinstance(e.infos, dict) else {}
                eps.append({"observations": e.observations, "actions": e.actions, "rewards": e.rewards,
                            "teacher_logits": infos.get("teacher_logits")})
        except Exception as e:  # a truncated or overwritten .arrow file (pyarrow's errors, not ours)
            raise ConfigError(f"dataset {did} under {resolve_root(root)} is damaged: {_first_line(e)}") from None
        parts.append(Episodes.from_arrays(eps, did))
        try:
            envs.append(dataset_env(did, root, ds))
        except ConfigError:
            if env is None:
                raise
            envs.append(env)
        if len(set(envs)) != 1:
            raise ConfigError(f"datasets {'+'.join(dataset_ids)} were recorded in different environments: "
                              f"{sorted(set(envs))}")
    return Episodes.concat(parts), envs[0]
