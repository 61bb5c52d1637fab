"""Every README command as written, at the test budget: its runtime and its result (issue 24's
table in BENCHMARKS.md). Same machinery as tests/e2e/test_readme_commands.py.

    python bench/readme_examples.py [--out bench/results/readme_examples.json]
    python bench/readme_examples.py --table      # the markdown table of the last run
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "e2e"))
from readme_commands import commands, prepare, run_command  # noqa: E402  (test support: the README's commands)


def headline(work: Path, before: set[Path], r: dict) -> str:
    """What the command produced: the new run's score (or return), else its output's last line."""
    runs = work / "runs"
    new = sorted((p for p in runs.rglob("summary.json") if p.parent not in before), key=lambda p: p.stat().st_mtime)
    if r["rc"]:
        return "failed: " + (r["stderr"].strip().splitlines() or ["?"])[-1][:120]
    if new:
        s = json.loads(new[-1].read_text())
        for k in ("score", "mean_return", "student_return", "best_return"):
            if isinstance(s.get(k), (int, float)):
                return f"{k} {s[k]:.3g} ({s.get('score_mode', 'greedy')})" if k == "score" else f"{k} {s[k]:.3g}"
        return "summary written"
    out = [x for x in r["stdout"].strip().splitlines() if x.strip()]
    return (out[-1][:120] if out else "ok")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="bench/results/readme_examples.json")
    ap.add_argument("--table", action="store_true", help="print the markdown table of --out and exit")
    args = ap.parse_args()
    if args.table:
        print("| README command (as written) | test budget added | exit | seconds | result |\n|---|---|---|---|---|")
        for r in json.loads(Path(args.out).read_text())["rows"]:
            wall = "-" if r["wall_s"] is None else f"{r['wall_s']:.0f}"
            rc = "skipped" if r["rc"] is None else r["rc"]
            print(f"| `{r['command']}` | `{r['budget']}` | {rc} | {wall} | {r['result'].replace('|', '/')} |")
        return
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp) / "readme"
        prepare(work)
        for c in commands():
            if c.skip:
                rows.append({"command": c.line, "budget": "", "rc": None, "wall_s": None, "result": f"skipped: {c.skip}"})
                continue
            before = {p.parent for p in (work / "runs").rglob("summary.json")} if (work / "runs").exists() else set()
            r = run_command(c, work)
            rows.append({"command": c.line, "budget": r["budget"], "rc": r["rc"], "wall_s": round(r["wall_s"], 1),
                         "result": headline(work, before, r)})
            print(f"{r['rc']:>3} {r['wall_s']:6.1f}s  {c.line[:90]}  →  {rows[-1]['result']}", flush=True)
    Path(args.out).write_text(json.dumps({"command": "python bench/readme_examples.py", "rows": rows}, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
