"""Markdown table of the shipped teacher zoo (from each entry's meta.json).

    python bench/zoo_table.py
"""

from distillrl.teachers.zoo import zoo_meta, zoo_names

print("| teacher | env | frames | greedy score (30 episodes) mean ± std [95% CI] | reference (MinAtar paper AC, 5M) | params | command |")
print("|---|---|---|---|---|---|---|")
for n in zoo_names():
    m = zoo_meta(n)
    e = m["eval"]
    print(f"| {n} | {m['env']} | {m['frames']:,} | {e['mean_return']:.2f} ± {e['std_return']:.2f} "
          f"[±{e['ci95_return']:.2f}] | {m.get('reference', '-')} | {m['n_params']:,} | `{m['command']}` |")
