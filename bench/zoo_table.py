"""Markdown table of the shipped teacher zoo (from each entry's meta.json).

The interval is the 95 % t-interval over the entry's evaluation *episodes* (one training seed:
it covers the evaluation's noise, not the spread between training seeds), from the recorded
returns, or from the recorded mean, standard deviation and count where an older entry kept no
returns (:mod:`distillrl.core.stats`).

    python bench/zoo_table.py
"""

from distillrl.core.stats import episode_interval, t_interval_from_moments
from distillrl.teachers.zoo import zoo_meta, zoo_names


def score_interval(ev: dict) -> dict:
    """The episode interval of a zoo entry's greedy evaluation (``std_return`` is NumPy's ddof=0)."""
    if ev.get("returns"):
        return episode_interval(ev["returns"])
    return t_interval_from_moments(ev["mean_return"], ev["std_return"], ev["episodes"], ddof=0)


if __name__ == "__main__":
    print("| teacher | env | frames | greedy score: mean ± std [95% episode interval] | episodes | reference | params | command |")
    print("|---|---|---|---|---|---|---|---|")
    for n in zoo_names():
        m = zoo_meta(n)
        e = m["eval"]
        ti = score_interval(e)
        iv = f"[{ti['lo']:.2f}, {ti['hi']:.2f}]" if ti["n"] > 1 else "(no interval)"
        print(f"| {n} | {m['env']} | {m['frames']:,} | {e['mean_return']:.2f} ± {e['std_return']:.2f} {iv} | {ti['n']} | "
              f"{m.get('reference', '-')} | {m['n_params']:,} | `{m['command']}` |")
