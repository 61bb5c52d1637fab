"""Export finished teacher runs into the shipped zoo (src/distillrl/zoo/<name>/).

Each entry gets model.safetensors (weights + the config that built them) and meta.json with
the greedy evaluation (``--episodes`` episodes, reset seeds 0..N−1, the same protocol as
`distillrl eval`; every episode's return is recorded, so a test can replay the first few), the
frames trained, the exact command that trained it and the MinAtar paper's 5M-frame reference
for its kind (actor-critic for policy teachers, DQN for Q-teachers; read from its plots).

    python bench/make_zoo.py runs/zoo/minatar-breakout [...] [--episodes 100]
    python bench/make_zoo.py runs/zoo2/x --name minatar-breakout --command "distillrl train ..."
    python bench/make_zoo.py --reevaluate minatar-freeway
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from distillrl.core.checkpoint import load_meta
from distillrl.core.stats import episode_interval
from distillrl.acting.evaluate import evaluate, summarize
from distillrl.models.fastpolicy import make_fast_policy
from distillrl.teachers.zoo import ZOO_DIR, export_model, load_agent

REFERENCE_AC = {"minatar:breakout": 17.5, "minatar:asterix": 19.0, "minatar:freeway": 47.5,
                "minatar:space_invaders": 185.0, "minatar:seaquest": 15.5, "gym:CartPole-v1": 500.0}
REFERENCE_DQN = {"minatar:breakout": 10.0, "minatar:asterix": 17.0, "minatar:freeway": 50.0,
                 "minatar:space_invaders": 44.0, "minatar:seaquest": 20.0}
# CleanRL's ppo_continuous_action.py at 1M steps on MuJoCo v4 (docs/benchmark/ppo_continuous_action.md,
# openrlbenchmark tag pr-424): mean ± std over its seeds. Our entries run the v5 envs.
REFERENCE_MUJOCO = {"HalfCheetah": 1442.64, "Hopper": 2382.86, "Walker2d": 2287.95, "InvertedPendulum": 963.09,
                    "Humanoid": 716.11}
Q_ALGOS = ("dqn", "pqn")


def t_interval(rets) -> float:
    """Half-width of the 95 % t-interval over the evaluation *episodes* of ``rets``
    (:func:`distillrl.core.stats.episode_interval`; one episode: 0.0, as before)."""
    e = episode_interval(rets)
    return float(e["hi"] - e["mean"]) if e["n"] > 1 else 0.0


def describe(ev: dict, ref) -> str:
    """``m [lo, hi] (95% episode interval, N episodes; reference …)`` for the export's log line."""
    e = episode_interval(ev["returns"])
    iv = f"[{e['lo']:.2f}, {e['hi']:.2f}]" if e["n"] > 1 else "(no interval)"
    return f"{e['mean']:.2f} {iv} (95% episode interval, {e['n']} episodes; reference {ref})"


def reference_for(env: str, q: bool):
    base = env.split("?", 1)[0]
    for name, score in REFERENCE_MUJOCO.items():
        if base.startswith(f"gym:{name}-"):
            return score, ("CleanRL ppo_continuous_action.py, MuJoCo v4, 1M steps (docs/benchmark/"
                           "ppo_continuous_action.md, openrlbenchmark pr-424)")
    ref = (REFERENCE_DQN if q else REFERENCE_AC).get(env)
    src = (f"MinAtar paper (Young & Tian 2019), {'DQN' if q else 'actor-critic'} at 5M frames, read from its plots"
           if env.startswith("minatar") else "CartPole-v1 maximum return" if env == "gym:CartPole-v1" else None)
    return ref, src


def export(rd: Path, name: str, command: str | None, episodes: int) -> dict:
    meta = load_meta(rd / "checkpoints/last.safetensors")
    cfg = meta["config"]
    env = cfg["env"]
    out = ZOO_DIR / name
    command = command or (f"distillrl train --env {env} --algo {cfg['algo']} --steps {cfg['steps']} "
                          f"--seed {cfg['seed']} --run-dir runs/zoo/{name}")
    export_model(rd, out)
    agent, _ = load_agent(str(out))
    actor = make_fast_policy(agent)
    rets, lens = evaluate(lambda o: actor(o)[0], env, episodes, seed=0, dist=agent.dist)
    ev = summarize(rets)
    ev["mean_length"] = float(lens.mean())
    ev["t95_return"] = t_interval(rets)
    ev["returns"] = [float(r) for r in rets]
    q = cfg["algo"] in Q_ALGOS
    ref, ref_src = reference_for(env, q)
    entry = {"name": name, "env": env, "algo": cfg["algo"], "kind": "q" if q else "policy",
             "frames": int(meta["frames"]), "n_params": int(meta["n_params"]), "eval": ev,
             "eval_protocol": f"greedy, {episodes} episodes, reset seeds 0-{episodes - 1}",
             "reference": ref, "reference_source": ref_src,
             "command": command, "config": cfg, "provenance": meta.get("provenance")}
    (out / "meta.json").write_text(json.dumps(entry, indent=2) + "\n")
    print(f"{name}: {describe(ev, ref)} after {entry['frames']:,} frames")
    return entry


def reevaluate(name: str, episodes: int) -> dict:
    """Evaluate a shipped entry again (same weights) with the current protocol; meta.json keeps
    its command and config."""
    meta = json.loads((ZOO_DIR / name / "meta.json").read_text())
    agent, _ = load_agent(name)
    actor = make_fast_policy(agent)
    rets, lens = evaluate(lambda o: actor(o)[0], meta["env"], episodes, seed=0, dist=agent.dist)
    ev = summarize(rets)
    ev["mean_length"] = float(lens.mean())
    ev["t95_return"] = t_interval(rets)
    ev["returns"] = [float(r) for r in rets]
    meta.update({"eval": ev, "eval_protocol": f"greedy, {episodes} episodes, reset seeds 0-{episodes - 1}",
                 "kind": meta.get("kind", "policy")})
    (ZOO_DIR / name / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")
    print(f"{name}: {describe(ev, meta.get('reference'))}")
    return meta


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run_dirs", nargs="*")
    ap.add_argument("--reevaluate", nargs="*", default=[], help="shipped entries to evaluate again (no run dir)")
    ap.add_argument("--name", help="zoo name (one run directory; default: the directory's name)")
    ap.add_argument("--command", help="the exact command that trained it (default: rebuilt from its config)")
    ap.add_argument("--episodes", type=int, default=100)
    a = ap.parse_args()
    for name in a.reevaluate:
        reevaluate(name, a.episodes)
    for rd in a.run_dirs:
        rd = Path(rd)
        export(rd, a.name or rd.name, a.command, a.episodes)


if __name__ == "__main__":
    main()
