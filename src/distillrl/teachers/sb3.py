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

from distillrl.envs.make import EnvInfo
from distillrl.errors import TeacherError
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
