"""Why the t-test PBT rule rarely copies (issue 27): the comparisons it made, read back from the
experiments' lineages (``bench/results/pbt/<experiment>/lineage.jsonl``; no training).

At each ready point the member draws one other member and copies it when that member's last
``window`` episode returns are higher on average and Welch's t-test gives p < 0.05. For every
comparison with a p-value, the standard error of the difference is backed out of the score gap
and p (|t| = Φ⁻¹-like quantile of Student's t with the window's degrees of freedom), which gives
the smallest gap the test could have detected at that point. Writes
``bench/results/pbt_ttest_analysis.json`` and prints one row per experiment.

    python bench/analyze_pbt_ttest.py
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from scipy import stats

ROOT = Path("bench/results/pbt")
OUT = Path("bench/results/pbt_ttest_analysis.json")


def analyse(lineage: Path, window: int) -> dict | None:
    ev = [json.loads(x) for x in lineage.read_text().splitlines() if x]
    ready = [e for e in ev if e["event"] == "ready" and e.get("selection") == "ttest" and e.get("reason") != "final"]
    if not ready:
        return None
    df = 2 * window - 2  # Welch's df is at most this (equal variances); a smaller df only widens the test
    tcrit = float(stats.t.ppf(0.975, df))
    rows = [e for e in ready if e.get("p") is not None and e.get("candidate_score") is not None]
    gaps, detectable = [], []
    for e in rows:
        gap = float(e["candidate_score"]) - float(e["score"])
        gaps.append(abs(gap))
        p = float(e["p"])
        if gap > 0 and 0 < p < 1:  # p = 1 is recorded when the candidate is not higher (no test)
            t = float(stats.t.ppf(1 - p / 2, df))
            if t > 0:
                detectable.append(tcrit * gap / t)
    ps = np.array([float(e["p"]) for e in rows if 0 < float(e["p"]) < 1])
    return {"experiment": lineage.parent.name, "ready_points": len(ready), "compared": len(rows),
            "no_candidate_result": len(ready) - len(rows),
            "candidate_higher": int(sum(1 for e in rows if float(e["candidate_score"]) > float(e["score"]))),
            "copies": int(sum(1 for e in ready if e.get("decision") == "copy")),
            "p_median": float(np.median(ps)) if len(ps) else None,
            "p_below_0.2": int((ps < 0.2).sum()),
            "score_gap_mean": float(np.mean(gaps)) if gaps else None,
            "detectable_gap_median": float(np.median(detectable)) if detectable else None,
            "window": window}


def main() -> None:
    out = []
    for lin in sorted(ROOT.glob("*/lineage.jsonl")):
        cfg = lin.parent / "pbt.yaml"
        window = 10
        if cfg.exists():
            import yaml

            window = int((yaml.safe_load(cfg.read_text()).get("pbt") or {}).get("window", 10))
        r = analyse(lin, window)
        if r:
            out.append(r)
    OUT.write_text(json.dumps(out, indent=2) + "\n")
    print("| experiment | ready points | compared | candidate higher | p < 0.2 | copies | median p | mean score gap "
          "| gap the test could detect (median) |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in out:
        print(f"| {r['experiment']} | {r['ready_points']} | {r['compared']} | {r['candidate_higher']} | "
              f"{r['p_below_0.2']} | {r['copies']} | {r['p_median']:.2f} | {r['score_gap_mean']:.2f} | "
              f"{r['detectable_gap_median']:.2f} |")


if __name__ == "__main__":
    main()
