"""Markdown tables for BENCHMARKS §15 from the continuous-control results in bench/results/.

    python bench/summarize_continuous.py
"""

from __future__ import annotations

import json
from pathlib import Path

R = Path(__file__).resolve().parent / "results"


def fmt_ci(d: dict | None, digits: int = 1, pct: bool = False) -> str:
    if not d or d.get("mean") is None:
        return "–"
    k = 100.0 if pct else 1.0
    m = f"{d['mean'] * k:.{digits}f}"
    if "lo" in d:
        return f"{m} [{d['lo'] * k:.{digits}f}, {d['hi'] * k:.{digits}f}] (n={d['n']})"
    return f"{m} (n={d['n']})"


def load(name: str) -> dict | None:
    p = R / name
    return json.loads(p.read_text()) if p.exists() else None


def ppo_vs_cleanrl() -> None:
    for f in sorted(R.glob("ppo_continuous_*.json")):
        d = json.loads(f.read_text())
        print(f"\n**{d['env']}**, {d['frames']:,} frames per run (`{f.name}`)\n")
        print("| seed | order | distillrl sps | CleanRL sps | ratio | distillrl return (last 10 %) | CleanRL return "
              "(last 10 %) | distillrl 30-episode eval |")
        print("|---|---|---|---|---|---|---|---|")
        for s, v in d.get("per_seed", {}).items():
            o, p = v["ours"], v["peer"]
            print(f"| {s} | {' → '.join(v['order'])} | {o['sps']:.0f} | {p['sps']:.0f} | {v['sps_ratio']:.2f} | "
                  f"{o['tail_return']:.0f} | {p['tail_return']:.0f} | {o['eval_mean']:.0f} ± {o['eval_ci95']:.0f} |")
        sm = d.get("summary")
        if sm:
            print(f"\nsps ratio {fmt_ci(sm['sps_ratio'], 2)}; return difference (distillrl − CleanRL) "
                  f"{fmt_ci(sm['return_diff'], 0)}; distillrl {fmt_ci(sm['ours_tail_return'], 0)}, CleanRL "
                  f"{fmt_ci(sm['peer_tail_return'], 0)}.")


def privileged() -> None:
    d = load("privileged_pendulum.json")
    if not d:
        return
    t = d["teacher"]
    print(f"\nTeacher (full state): {t['mean_return']:.1f} ± {t['ci95']:.1f} over {t['episodes']} episodes; uniform "
          f"random {d['random_return']:.1f}. Normalised = (S − R)/(T − R).\n")
    print("| student (sees the angle only) | return | normalised % of teacher | drop when λ reaches 0 | drop when RL "
          "fine-tuning starts |")
    print("|---|---|---|---|---|")
    for name, v in d.get("summary", {}).items():
        print(f"| {name} | {fmt_ci(v['mean_return'])} | {fmt_ci(v['normalised'], 1, pct=True)} | "
              f"{fmt_ci(v.get('drop')) if 'drop' in v else '–'} | "
              f"{fmt_ci(v.get('start_drop')) if 'start_drop' in v else '–'} |")


def sb3() -> None:
    for f in sorted(R.glob("sb3_sac_pendulum*.json")):
        sb3_one(json.loads(f.read_text()), f.name)


def sb3_one(d: dict, name: str) -> None:
    print(f"\n`{name}`:")
    print(f"\nSB3 SAC teacher ({d['teacher']['steps']:,} steps, VecNormalize), students distilled for {d['frames']:,} "
          f"frames:\n")
    print("| seed | teacher return | student return | normalised % | student / teacher params |")
    print("|---|---|---|---|---|")
    for s, v in d["per_seed"].items():
        print(f"| {s} | {v['teacher_return']:.1f} | {v['student_return']:.1f} | {100 * v['normalised']:.1f} | "
              f"{v['student_params']:,} / {v['teacher_params']:,} |")
    if "summary" in d:
        print(f"\nnormalised % of teacher {fmt_ci(d['summary']['normalised'], 1, pct=True)}")


def distill_kick() -> None:
    for f in sorted(R.glob("distill_*cheetah*.json")):
        d = json.loads(f.read_text())
        print(f"\n`{f.name}`: teacher `{d['teacher']}`, {d['frames']:,} frames per student\n")
        print("| student size (acting params) | per-seed % of teacher (greedy) | mean % [95 % t-interval] | "
              "per-seed student return, sampled |")
        print("|---|---|---|---|")
        for size, v in d["per_size"].items():
            per = ", ".join(f"{100 * x['ratio']:.1f}" for x in v["per_seed"].values())
            sampled = ", ".join(f"{x.get('student_sampled_return') or float('nan'):.0f}" for x in v["per_seed"].values())
            n = next(iter(v["per_seed"].values()))
            print(f"| {float(size):.0%} ({n['student_params']:,} of {n['teacher_params']:,}) | {per} | "
                  f"{fmt_ci(v['ratio'], 1, pct=True)} | {sampled} |")
        t = {round(x["teacher_return"], 1) for v in d["per_size"].values() for x in v["per_seed"].values()}
        print(f"\nTeacher on each seed's 30 greedy episodes (the student plays the same ones): {', '.join(map(str, sorted(t)))}.")
    for f in sorted(R.glob("kickstart_hopper*.json")):
        d = json.loads(f.read_text())
        print(f"\n`{f.name}`: teacher score {d['teacher_score']:.0f}; frames until the training return reaches x % of "
              "it (mean over the runs that reached it; reached/runs)\n")
        print("| | 50 % | 75 % | 90 % | 100 % | final 30-episode score |")
        print("|---|---|---|---|---|---|")
        for who in ("kickstart", "scratch"):
            sm = d.get(f"{who}_summary")
            if not sm:
                continue
            n = len(d[who])
            cells = [f"{fmt_ci(sm[k], 0)} ({sm['reached'][k]}/{n})" for k in ("50%", "75%", "90%", "100%")]
            print(f"| {who} | {' | '.join(cells)} | {fmt_ci(sm['score'], 0)} |")
        if d.get("speedup"):
            print("\nMatched speed-up (the from-scratch run of the same seed ÷ the kickstarted one, frames to x %; "
                  "95% t-interval over the seeds where both got there):\n")
            print("| | per seed | mean | scratch never got there (kickstarted did) |")
            print("|---|---|---|---|")
            for k, v in d["speedup"].items():
                per = ", ".join(f"s{s}: {r:.1f}×" for s, r in v["per_seed"].items()) or "–"
                print(f"| {k} | {per} | {fmt_ci(v['ratio'], 1)} | {v['scratch_missed_kickstart_reached']} of "
                      f"{v['pairs']} |")


if __name__ == "__main__":
    ppo_vs_cleanrl()
    privileged()
    sb3()
    distill_kick()
