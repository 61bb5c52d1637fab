"""``distillrl export RUN --out DIR``: a run's agent as a folder ready for the Hugging Face Hub.

    DIR/model.safetensors   weights + the spec that rebuilds the agent (no code, no pickle)
    DIR/config.json         env, algorithm, frames, seed, the exact command, the run's config,
                            the evaluation (every episode's return) and the teachers' provenance
    DIR/README.md           a model card: YAML front matter with a ``model-index`` block (the
                            Hub's evaluation-results format: mean_reward "m +/- s" over N episodes)
                            and the same facts in prose, with the training curve
    DIR/curve.png           training return (mean of the last 100 episodes) against frames
    DIR/run_config.yaml     the run's resolved configuration (``distillrl KIND --config run_config.yaml``)

The folder is a source like any other: ``distillrl eval DIR``, ``--teacher DIR``, ``--init-from DIR``.
The teachers a student learned from are listed with their own provenance: a zoo teacher's command,
frames and score (its ``meta.json``), an exported folder's ``config.json`` (so lineages chain),
a hub folder's layout and files, else the source as given.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from distillrl.acting.evaluation import evaluate_agent
from distillrl.core.checkpoint import load_meta
from distillrl.errors import RunDirError
from distillrl.envs.make import split_specs
from distillrl.envs.tasks import TaskSet
from distillrl.runs.rundir import CKPT
from distillrl.teachers.load import load_teacher
from distillrl.teachers.hub import cleanrl_hub_files, hub_layout, sb3_hub_files
from distillrl.teachers.zoo import export_model, load_agent, zoo_meta, zoo_names

CARD_FILES = ("model.safetensors", "config.json", "README.md", "curve.png", "run_config.yaml")


def teacher_provenance(source: str) -> dict[str, Any]:
    """What is known of where a teacher came from, read from files only."""
    s = str(source)
    if "=" in s and not Path(s).exists():  # TASK=SOURCE on a task set
        task, s = s.split("=", 1)
        return {"task": task, **teacher_provenance(s)}
    if s in zoo_names():
        m = zoo_meta(s)
        ev = m.get("eval", {})
        return {"source": s, "kind": "distillrl zoo", "env": m.get("env"), "algo": m.get("algo"),
                "frames": m.get("frames"), "command": m.get("command"),
                "score": {k: ev.get(k) for k in ("mean_return", "std_return", "episodes") if k in ev}}
    p = Path(s)
    if p.is_dir() and (p / "config.json").is_file() and (p / "model.safetensors").is_file():
        c = json.loads((p / "config.json").read_text())
        return {"source": s, "kind": "distillrl export",
                **{k: c.get(k) for k in ("env", "algo", "frames", "seed", "command", "eval", "teachers")}}
    layout = hub_layout(p)
    if layout == "sb3":
        z, cfg = sb3_hub_files(p)
        return {"source": s, "kind": "RL Zoo / huggingface_sb3 folder", "model": z.name,
                "hyperparameters": {k: v for k, v in cfg.items() if isinstance(v, (int, float, str, bool))}}
    if layout == "cleanrl":
        model, exp, arch = cleanrl_hub_files(p)
        return {"source": s, "kind": "CleanRL hub folder", "model": model.name, "exp_name": exp, "arch": arch}
    if p.is_dir() and (p / CKPT).is_file():
        meta = load_meta(p / CKPT)
        cfg = meta.get("config", {})
        return {"source": s, "kind": "distillrl run", "env": cfg.get("env"), "frames": meta.get("frames"),
                "seed": cfg.get("seed"), "algo": cfg.get("algo")}
    return {"source": s}


def _curve(run_dir: Path, out: Path, title: str) -> bool:
    from distillrl.report.runs import load_run

    try:
        r = load_run(run_dir)
    except RunDirError:
        return False
    ok = np.isfinite(r.returns)
    if not ok.any():
        return False
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3))
    ax.plot(r.frames[ok], r.returns[ok], color="tab:blue")
    ax.set_xlabel("frames")
    ax.set_ylabel("training return (last 100 episodes)")
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return True


def _command(run_dir: Path) -> str | None:
    f = run_dir / "command.txt"
    if f.is_file():
        lines = [ln for ln in f.read_text().splitlines() if ln.strip()]
        return lines[0] if lines else None
    return None


def _versions(prov: dict | None) -> list[str]:
    """The card's line on the code that made the weights (checkpoints record it since 0.2.0)."""
    if not prov:
        return ["(the run predates provenance records: the code version that made it is unknown)", ""]
    code = f"distillrl {prov.get('distillrl')}"
    if prov.get("commit"):
        code += f" (commit {prov['commit'][:12]}{', with uncommitted changes' if prov.get('dirty') else ''})"
    libs = ", ".join(f"{k} {prov[k]}" for k in ("torch", "gymnasium", "numpy") if prov.get(k))
    return [f"Made with {code}, {libs}, Python {prov.get('python')}. The same command and seed give these weights "
            "bit for bit only with the same versions on the same kind of CPU; another version trains an agent "
            "that differs in float rounding and so in its weights.", ""]


def _yaml_str(x: Any) -> str:
    return json.dumps(str(x))  # a JSON string is a valid YAML scalar


def model_card(info: dict) -> str:
    """README.md for the Hub: front matter (tags, model-index) then the facts in prose."""
    ev, env, algo = info["eval"], info["env"], info["algo"]
    value = f"{ev['mean_reward']:.2f} +/- {ev['std_reward']:.2f}"
    tags = ["reinforcement-learning", "deep-reinforcement-learning", "distillrl", env]
    if info["teachers"]:
        tags.append(info["kind"])
    front = ["---", "library_name: distillrl", "tags:", *[f"- {_yaml_str(t)}" for t in tags],
             "model-index:", f"- name: {_yaml_str(f'{algo}-{env}')}", "  results:",
             "  - task:", "      type: reinforcement-learning", "      name: reinforcement-learning",
             "    dataset:", f"      name: {_yaml_str(env)}", f"      type: {_yaml_str(env)}",
             "    metrics:", "    - type: mean_reward", f"      value: {_yaml_str(value)}",
             "      name: mean_reward", "      verified: false", "---", ""]
    body = [f"# {algo} on {env} (distillrl {info['kind']})", "",
            f"A {info['params']:,}-parameter agent trained for {info['frames']:,} frames (seed {info['seed']}) by "
            f"`distillrl {info['kind']}`. Evaluation: {ev['mode']} actions, {ev['episodes']} episodes with reset "
            f"seeds {ev['seed']}..{ev['seed'] + ev['episodes'] - 1}: mean return **{value}** (± one standard "
            "deviation over episodes; every episode's return is in `config.json`).", "",
            "## Reproduce", "", "```", *([info["command"]] if info["command"] else []),
            f"distillrl {info['kind']} --config run_config.yaml   # the run's whole resolved configuration", "```",
            "" if info["command"] else "(the run predates command.txt: its command line was not recorded)", "",
            *_versions(info.get("provenance")),
            "## Use", "", "```", f"distillrl eval {info['name']}", f"distillrl kickstart --teacher {info['name']} "
            f"--env {env}", "```", ""]
    if info["teachers"]:
        body += ["## Teachers", "", "What this agent learned from, with each teacher's own provenance:", ""]
        for t in info["teachers"]:
            parts = [f"`{t.get('source')}`"]
            for k in ("kind", "task", "env", "algo", "frames", "model", "exp_name"):
                if t.get(k) is not None:
                    parts.append(f"{k}: {t[k]:,}" if isinstance(t[k], int) else f"{k}: {t[k]}")
            score = t.get("score") or t.get("eval")
            if isinstance(score, dict) and score.get("mean_return", score.get("mean_reward")) is not None:
                m = score.get("mean_return", score.get("mean_reward"))
                parts.append(f"score: {m:.2f}")
            body.append("- " + "; ".join(parts) + (f" — trained by `{t['command']}`" if t.get("command") else ""))
        body.append("")
    if info.get("curve"):
        body += ["## Training curve", "", "![training curve](curve.png)", ""]
    body += ["## Files", "", "- `model.safetensors`: weights and the spec that rebuilds the network "
             "(loaded without executing code)", "- `config.json`: everything above, machine-readable",
             "- `run_config.yaml`: the run's resolved configuration", ""]
    return "\n".join(front + body)


def export_run(run_dir: str | Path, out: str | Path, episodes: int = 30, seed: int = 0,
               greedy: bool = True) -> dict:
    """Write the hub-ready folder ``out`` for the run at ``run_dir``; returns its config.json."""
    rd = Path(run_dir)
    if not (rd / CKPT).is_file():
        raise RunDirError(f"{rd} is not a finished run directory (no {CKPT})")
    out = Path(out)
    if out.exists() and any(out.iterdir()) and not (out / "config.json").is_file():
        raise RunDirError(f"{out} exists and is not an export folder: give an empty or new --out")
    meta = load_meta(rd / CKPT)
    cfg = meta.get("config", {})
    kind = meta.get("kind", "train")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.export-", dir=out.parent))  # same filesystem: atomic moves
    try:
        export_model(rd, tmp)
        agent, ameta = load_agent(str(tmp))
        env = cfg.get("env") or ameta.get("env")
        ts = TaskSet.build(env, agent.cfg.task_actions) if len(split_specs(env)) > 1 else None
        res = evaluate_agent(load_teacher(str(tmp)), env, episodes, seed, "greedy" if greedy else "sampled", taskset=ts)
        rets = res.returns
        per_task = {k: {"mean_reward": r.mean, "std_reward": float(np.std(r.returns))}
                    for k, r in (res.per_task or {}).items()}
        summary = json.loads((rd / "summary.json").read_text()) if (rd / "summary.json").is_file() else {}
        teachers = cfg.get("teacher") or []
        teachers = [teachers] if isinstance(teachers, str) else teachers
        info = {"name": out.name, "library": "distillrl", "kind": kind, "env": env,
                "algo": cfg.get("algo") or meta.get("algo", "ppo"), "frames": int(meta.get("frames") or summary.get("steps") or 0),
                "seed": cfg.get("seed"), "params": int(sum(p.numel() for p in agent.parameters())),
                "command": _command(rd), "run_config": cfg, "provenance": meta.get("provenance"),
                "eval": {"mode": "greedy" if greedy else "sampled", "episodes": int(episodes), "seed": seed,
                         "mean_reward": float(res.mean), "std_reward": float(np.std(rets)),
                         "returns": [float(r) for r in rets], **({"per_task": per_task} if per_task else {})},
                "teachers": [teacher_provenance(t) for t in teachers]}
        info["curve"] = _curve(rd, tmp / "curve.png", f"{kind} {env}")
        if (rd / "config.yaml").is_file():
            shutil.copy2(rd / "config.yaml", tmp / "run_config.yaml")
        (tmp / "config.json").write_text(json.dumps(info, indent=1, default=_jsonable) + "\n")
        (tmp / "README.md").write_text(model_card(info))
        # replace the folder's files only once everything is written
        out.mkdir(parents=True, exist_ok=True)
        for f in CARD_FILES:
            if (tmp / f).exists():
                os.replace(tmp / f, out / f)
            elif (out / f).exists():
                (out / f).unlink()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return info


def _jsonable(x: Any) -> Any:
    if isinstance(x, (np.floating, np.integer)):
        return x.item()
    if isinstance(x, float) and math.isnan(x):
        return None
    return str(x)
