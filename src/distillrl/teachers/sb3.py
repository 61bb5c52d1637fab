"""Stable-Baselines3 ``.zip`` teachers, read without unpickling: weights by
``torch.load(weights_only=True)``, the architecture from the archive's JSON and tensor shapes."""

from __future__ import annotations

import json
import re
import zipfile
from pathlib import Path
from typing import Any, Callable

import torch
from torch import nn

from distillrl.core.distributions import DiagGaussian, SquashedGaussian
from distillrl.envs.make import EnvInfo
from distillrl.errors import TeacherError
from distillrl.teachers import vecnorm
from distillrl.teachers.base import (
    ACTIVATIONS,
    FunctionalNet,
    ModuleTeacher,
    Teacher,
    _stride,
    seq_linears,
)


def _sb3_activation(kwargs: Any, default: str) -> Callable:
    name = default
    if isinstance(kwargs, dict) and isinstance(kwargs.get("activation_fn"), str):
        m = re.search(r"\.(\w+)'>$", kwargs["activation_fn"])
        name = m.group(1) if m else kwargs["activation_fn"]
    if name not in ACTIVATIONS:
        raise TeacherError(f"unsupported activation {name!r} in SB3 policy_kwargs; supported: {', '.join(ACTIVATIONS)}")
    return ACTIVATIONS[name]


def _sb3_features(sd: dict, prefix: str) -> tuple[list, list]:
    """NatureCNN under ``prefix`` → (convs, [linear]); Flatten (no keys) → ([], [])."""
    if f"{prefix}.cnn.0.weight" not in sd:
        extra = [k for k in sd if k.startswith(prefix + ".")]
        if extra:
            raise TeacherError(f"unsupported SB3 features extractor ({extra[0]}); only Flatten and NatureCNN "
                               "are rebuilt — export a state dict with a named architecture or wrap it as a callable")
        return [], []
    convs = [(w, b, _stride(w.shape[-1])) for w, b in seq_linears(sd, f"{prefix}.cnn")]
    return convs, seq_linears(sd, f"{prefix}.linear")


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
    kind_name = str(act_space.get(":type:", ""))
    if "Discrete" not in kind_name and "Box" not in kind_name:
        raise TeacherError(f"{path}: only Discrete and Box action spaces are supported (got {act_space.get(':type:')})")
    shape = obs_space.get("_shape")
    shape = json.loads(shape) if isinstance(shape, str) else shape
    obs_shape = tuple(int(s) for s in shape)
    pk = data.get("policy_kwargs", {})
    normalize = pk.get("normalize_images", True) if isinstance(pk, dict) else True
    uint8 = obs_space.get("dtype") == "uint8"
    scale = 1 / 255.0 if (normalize and uint8 and len(obs_shape) == 3) else 1.0
    norm_file = vecnorm.beside(path)
    normalizer = vecnorm.load_vecnormalize(norm_file) if norm_file is not None else None
    if normalizer is not None and normalizer.mean.shape != obs_shape:
        raise TeacherError(f"{norm_file}: its statistics are for observations of shape {normalizer.mean.shape}, "
                           f"the policy in {path.name} reads {obs_shape}")
    if "Box" in kind_name:
        t = _continuous(path, sd, data, act_space, pk, obs_shape, tau)
        t.normalizer = normalizer
        return t
    n_actions = int(act_space["n"])

    if any(k.startswith("q_net.") for k in sd):  # DQN: features → q_net MLP
        convs, feat = _sb3_features(sd, "q_net.features_extractor")
        head = FunctionalNet([], seq_linears(sd, "q_net.q_net"), _sb3_activation(pk, "ReLU"), False, 1.0, False)
        net = _TwoStage(FunctionalNet(convs, feat, torch.relu, True, scale, False), head) if convs else head
        kind = "q"
    elif "action_net.weight" in sd:  # PPO / A2C
        prefix = "pi_features_extractor" if any(k.startswith("pi_features_extractor.") for k in sd) else "features_extractor"
        convs, feat = _sb3_features(sd, prefix)
        act = _sb3_activation(pk, "Tanh")
        hidden = seq_linears(sd, "mlp_extractor.policy_net")
        head = [(sd["action_net.weight"], sd["action_net.bias"])]
        kind = "policy"
        body = FunctionalNet([], hidden + head, act, last_act=False, normalize=1.0, chw_from_hwc=False)
        if convs or feat:
            net = _TwoStage(FunctionalNet(convs, feat, torch.relu, True, scale, False), body)
        else:
            net = body
    else:
        raise TeacherError(f"{path}: unrecognised SB3 policy (keys: {', '.join(list(sd)[:4])}...)")
    t = SB3Teacher(net, f"sb3:{path.name}", obs_shape, n_actions, kind, tau)
    t.normalizer = normalizer
    return t


def _bounds(act_space: dict, key: str, path: Path, dim: int) -> tuple[float, ...]:
    """A Box bound as SB3's JSON writes it: NumPy's repr of the array (``'[-1. -1.]'``)."""
    text = act_space.get(key)
    if not isinstance(text, str):
        raise TeacherError(f"{path}: the action space's {key} bound is not readable")
    try:
        vals = tuple(float(x) for x in text.replace("[", " ").replace("]", " ").replace(",", " ").split())
    except ValueError:
        raise TeacherError(f"{path}: the action space's {key} bound {text[:60]!r} is not readable") from None
    if len(vals) == 1 and dim > 1:
        vals = vals * dim
    if len(vals) != dim:
        raise TeacherError(f"{path}: the action space's {key} bound has {len(vals)} values for {dim} dimensions")
    return vals


class _GaussianPolicy(nn.Module):
    """SB3 PPO / A2C on a Box: the mean from the policy MLP, log σ a state-independent vector."""

    def __init__(self, body: nn.Module, log_std: torch.Tensor):
        super().__init__()
        self.body = body
        self.log_std = nn.Parameter(log_std.float(), False)

    def forward(self, x):
        mean = self.body(x)
        return torch.cat([mean, self.log_std.expand_as(mean)], -1)


class _SACPolicy(nn.Module):
    """SB3 SAC: latent MLP → μ and log σ (clamped to [−20, 2]) of a tanh-squashed Gaussian, read as
    the Gaussian over the env's actions it is distilled towards (:meth:`SquashedGaussian.as_gaussian`)."""

    def __init__(self, latent: nn.Module, mu, log_std, low, high):
        super().__init__()
        self.latent, self.mu, self.log_std = latent, mu, log_std
        self.low, self.high = low, high

    def forward(self, x):
        h = self.latent(x)
        params = torch.cat([self.mu(h), self.log_std(h)], -1)
        return SquashedGaussian(params, self.low, self.high).as_gaussian().target()


class _DeterministicPolicy(nn.Module):
    """SB3 TD3 / DDPG: μ(x) = the actor MLP with tanh, rescaled to the bounds; log σ = 0 is a
    placeholder (a deterministic teacher is distilled by mse_mean or nll of its action)."""

    def __init__(self, body: nn.Module, low, high):
        super().__init__()
        self.body = body
        lo, hi = torch.tensor(low, dtype=torch.float32), torch.tensor(high, dtype=torch.float32)
        self.centre, self.half = (hi + lo) / 2, (hi - lo) / 2

    def forward(self, x):
        a = self.centre + self.half * torch.tanh(self.body(x))
        return torch.cat([a, torch.zeros_like(a)], -1)


def _linear(w: torch.Tensor, b: torch.Tensor) -> nn.Linear:
    lin = nn.Linear(w.shape[1], w.shape[0])
    lin.weight.data.copy_(w)
    lin.bias.data.copy_(b)
    return lin


def _continuous(path: Path, sd: dict, data: dict, act_space: dict, pk: Any, obs_shape, tau) -> "SB3Teacher":
    shape = act_space.get("_shape")
    shape = json.loads(shape) if isinstance(shape, str) else shape
    if not shape or len(shape) != 1:
        raise TeacherError(f"{path}: only 1-D Box action spaces are supported (shape {shape})")
    dim = int(shape[0])
    low, high = _bounds(act_space, "low", path, dim), _bounds(act_space, "high", path, dim)
    if data.get("use_sde"):
        raise TeacherError(f"{path}: gSDE policies (use_sde=True) are not supported; export the mean and log σ "
                           "as a callable teacher")
    if "action_net.weight" in sd and "log_std" in sd:  # PPO / A2C
        if any(k.startswith("features_extractor.cnn") or k.startswith("pi_features_extractor.cnn") for k in sd):
            raise TeacherError(f"{path}: image policies with continuous actions are not supported")
        hidden = seq_linears(sd, "mlp_extractor.policy_net")
        body = FunctionalNet([], hidden + [(sd["action_net.weight"], sd["action_net.bias"])],
                             _sb3_activation(pk, "Tanh"), last_act=False, normalize=1.0, chw_from_hwc=False)
        net, kind, algo = _GaussianPolicy(body, sd["log_std"]), "policy", "ppo"
    elif "actor.mu.weight" in sd and "actor.log_std.weight" in sd:  # SAC
        latent = FunctionalNet([], seq_linears(sd, "actor.latent_pi"), _sb3_activation(pk, "ReLU"), last_act=True,
                               normalize=1.0, chw_from_hwc=False)
        net = _SACPolicy(latent, _linear(sd["actor.mu.weight"], sd["actor.mu.bias"]),
                         _linear(sd["actor.log_std.weight"], sd["actor.log_std.bias"]), low, high)
        net.requires_grad_(False)
        kind, algo = "policy", "sac"
    elif "actor.mu.0.weight" in sd:  # TD3 / DDPG
        body = FunctionalNet([], seq_linears(sd, "actor.mu"), _sb3_activation(pk, "ReLU"), last_act=False,
                             normalize=1.0, chw_from_hwc=False)
        net, kind, algo = _DeterministicPolicy(body, low, high), "deterministic", "td3"
    else:
        raise TeacherError(f"{path}: unrecognised SB3 continuous policy (keys: {', '.join(list(sd)[:4])}...)")
    t = SB3Teacher(net, f"sb3:{path.name}", obs_shape, dim, kind, tau)
    t.dist, t.action_low, t.action_high, t.algo = DiagGaussian, low, high, algo
    return t


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
        self.check_actions(info)
        if shp != self.obs_shape:
            raise TeacherError(f"teacher {self.name} expects observations of shape {self.obs_shape} "
                               f"but {info.spec} gives {tuple(info.obs_shape)}")

    def raw(self, obs, task_id=None):
        if self.transpose:
            obs = obs.permute(0, 3, 1, 2)
        if self.normalizer is not None:
            obs = self.normalizer(obs)
        return self.net(obs)
