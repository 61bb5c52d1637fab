"""Teachers from folders laid out like Hugging Face Hub repositories — read from local files only,
never unpickling anything.

* **RL Zoo / huggingface_sb3** (``sb3/ppo-CartPole-v1``): one SB3 ``<algo>-<env>.zip``, RL Zoo's
  ``config.yml`` (the hyper-parameters, written by PyYAML with ``!!python/object/apply`` tags:
  read by a safe loader that turns an ``OrderedDict`` tag into a plain mapping and refuses every
  other Python tag) and, when the agent was trained inside ``VecNormalize``, ``vec_normalize.pkl``
  (read by :mod:`vecnorm`'s closed unpickler). ``normalize: true`` in ``config.yml`` without the
  statistics file is an error: the teacher would see unnormalised observations.
* **CleanRL** (``cleanrl/CartPole-v1-dqn-seed1``): ``<exp_name>.cleanrl_model`` (a ``torch.save``
  of the state dict: ``weights_only=True``) beside ``<exp_name>.py``; the script's name says the
  architecture (``dqn`` → ``cleanrl-dqn``, ``ppo_atari`` → ``cleanrl-ppo-atari``, …). JAX/Flax
  models (``*_jax``) are not PyTorch weights and are refused by name.
* ``hf://org/repo``: read from the local Hugging Face cache when the repository is there
  (``~/.cache/huggingface/hub/models--org--repo/snapshots/<rev>/``, or ``$HF_HUB_CACHE``);
  otherwise one error with the ``huggingface-cli download`` command to run. Nothing is downloaded
  at run time.
* A folder written by ``distillrl export`` (``model.safetensors`` + ``config.json``) is a run's
  agent and loads as one (:mod:`zoo`).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import yaml

from distillrl.errors import TeacherError
from distillrl.teachers import vecnorm

CLEANRL_EXP_ARCH = {
    "dqn": "cleanrl-dqn",
    "dqn_atari": "cleanrl-dqn-atari",
    "ppo": "cleanrl-ppo",
    "ppo_atari": "cleanrl-ppo-atari",
    "ppo_continuous_action": "cleanrl-ppo-continuous",
}
"""CleanRL script (``exp_name``) → the architecture it saves (:data:`cleanrl.CLEANRL_ARCHES`)"""


class _ZooConfigLoader(yaml.SafeLoader):
    """PyYAML's safe loader plus RL Zoo's one Python tag (``OrderedDict``), as a plain dict."""


def _ordered_dict(loader: yaml.SafeLoader, node: yaml.Node) -> dict:
    seq = loader.construct_sequence(node, deep=True)
    items = seq[0] if len(seq) == 1 and isinstance(seq[0], list) else seq
    try:
        return {k: v for k, v in items}
    except (TypeError, ValueError):
        raise yaml.constructor.ConstructorError(None, None, "an OrderedDict that is not a list of pairs",
                                                node.start_mark) from None


_ZooConfigLoader.add_constructor("tag:yaml.org,2002:python/object/apply:collections.OrderedDict", _ordered_dict)


def read_zoo_config(path: Path) -> dict[str, Any]:
    """RL Zoo's ``config.yml`` as a dict, without constructing any Python object it may name."""
    try:
        data = yaml.load(path.read_text(), Loader=_ZooConfigLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as e:
        first = str(e).splitlines()[0][:200]
        raise TeacherError(f"refused {path}: not a plain RL Zoo config (nothing in it was run: {first})") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise TeacherError(f"{path}: expected a mapping of hyper-parameters, got {type(data).__name__}")
    return data


def hub_layout(folder: Path) -> str | None:
    """``sb3``, ``cleanrl``, ``export`` or None: which hub layout ``folder`` has, from its files."""
    if not folder.is_dir():
        return None
    names = {p.name for p in folder.iterdir() if p.is_file()}
    if any(n.endswith(".cleanrl_model") for n in names):
        return "cleanrl"
    if any(n.endswith(".zip") for n in names) and ({"config.yml", "config.yaml"} & names or
                                                   any(n.startswith(("vec_normalize", "vecnormalize"))
                                                       for n in names) or
                                                   sum(n.endswith(".zip") for n in names) == 1):
        return "sb3"
    if "model.safetensors" in names and "config.json" in names:
        return "export"
    return None


def _one(folder: Path, pattern: str, what: str) -> Path:
    found = sorted(folder.glob(pattern))
    if len(found) != 1:
        listing = ", ".join(p.name for p in found) or "none"
        raise TeacherError(f"{folder}: expected one {what} ({pattern}), found {listing}")
    return found[0]


def sb3_hub_files(folder: Path) -> tuple[Path, dict[str, Any]]:
    """The zip of an RL Zoo / huggingface_sb3 folder and its ``config.yml`` ({} without one)."""
    zips = sorted(folder.glob("*.zip"))
    if len(zips) > 1:  # RL Zoo names the model <algo>-<env>.zip; prefer the one named like the folder
        named = [z for z in zips if z.stem == folder.name]
        zips = named or zips
    if len(zips) != 1:
        raise TeacherError(f"{folder}: expected one SB3 model .zip, found {', '.join(z.name for z in zips) or 'none'}")
    cfg_file = next((folder / n for n in ("config.yml", "config.yaml") if (folder / n).is_file()), None)
    cfg = read_zoo_config(cfg_file) if cfg_file is not None else {}
    if cfg.get("normalize") and vecnorm.beside(zips[0]) is None:  # the names load_sb3_zip looks for
        raise TeacherError(f"{folder}: config.yml says the agent was trained with normalize: "
                           f"{cfg['normalize']!r}, but there is no vec_normalize.pkl beside {zips[0].name}")
    return zips[0], cfg


def cleanrl_hub_files(folder: Path) -> tuple[Path, str, str]:
    """(model file, exp_name, architecture) of a CleanRL hub folder."""
    model = _one(folder, "*.cleanrl_model", "CleanRL model")
    exp = model.name[: -len(".cleanrl_model")]
    if exp.endswith("_jax") or "_jax_" in exp:
        raise TeacherError(f"{model}: a JAX/Flax model ({exp}); only CleanRL's PyTorch scripts "
                           f"({', '.join(CLEANRL_EXP_ARCH)}) can be teachers")
    arch = CLEANRL_EXP_ARCH.get(exp)
    if arch is None:
        raise TeacherError(f"{model}: unknown CleanRL script {exp!r}; supported: {', '.join(CLEANRL_EXP_ARCH)} "
                           "(or pass the weights file with --teacher-arch)")
    return model, exp, arch


_HF = re.compile(r"hf://([A-Za-z0-9][\w.-]*)/([\w.-]+)(?:@([\w.-]+))?/?$")


def resolve_hf(source: str) -> Path:
    """``hf://org/repo[@revision]`` → the repository's folder in the local Hugging Face cache."""
    m = _HF.match(source)
    if not m:
        raise TeacherError(f"{source!r}: expected hf://ORG/REPO (optionally @REVISION)")
    org, repo, rev = m.groups()
    cache = Path(os.environ.get("HF_HUB_CACHE") or Path(os.environ.get("HF_HOME", Path.home() / ".cache" /
                                                                        "huggingface")) / "hub")
    snaps = cache / f"models--{org}--{repo}" / "snapshots"
    if snaps.is_dir():
        ref = cache / f"models--{org}--{repo}" / "refs" / (rev or "main")
        want = ref.read_text().strip() if ref.is_file() else rev
        cands = [snaps / want] if want and (snaps / want).is_dir() else sorted(snaps.iterdir())
        if cands:
            return cands[-1]
    raise TeacherError(f"{source}: not in the local Hugging Face cache and this library does not download at run "
                       f"time; download it with `huggingface-cli download {org}/{repo}"
                       f"{' --revision ' + rev if rev else ''} --local-dir DIR` and pass --teacher DIR")
