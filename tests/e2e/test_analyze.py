"""``distillrl analyze effects`` over run directories (written here as a finished distill run
leaves them: config.yaml, metrics.csv, summary.json)."""

import json

import yaml

TARGETS = {"hard": {"loss": "nll", "kd_control": "none"}, "universe": {"loss": "kl", "kd_control": "universe"},
           "domain": {"loss": "kl", "kd_control": "domain"}, "instance_removed": {"loss": "kl", "kd_control": "instance"},
           "full": {"loss": "kl", "kd_control": "none"}}


def fake_runs(root, per_seed, env="minatar:breakout", teacher="minatar-breakout"):
    dirs = []
    for seed, vals in per_seed.items():
        for (name, cfg), v in zip(TARGETS.items(), vals):
            d = root / f"{name}-s{seed}"
            d.mkdir(parents=True)
            (d / "config.yaml").write_text(yaml.safe_dump({"env": env, "teacher": teacher, "seed": seed, **cfg}))
            (d / "metrics.csv").write_text("frames,charts/return_recent\n1000,1.0\n")
            (d / "summary.json").write_text(json.dumps({"mean_return": v / 10, "score_ratio": v / 100,
                                                        "source": "student", "loss": cfg["loss"]}))
            dirs.append(d)
    return dirs


def test_effects_over_seeds(cli, tmp_path):
    dirs = fake_runs(tmp_path, {1: (40, 42, 45, 20, 80), 2: (30, 31, 36, 25, 70), 3: (50, 50, 52, 30, 90)})
    p = cli("analyze", "effects", *dirs)
    assert p.returncode == 0, p.stderr
    assert "% of teacher" in p.stdout and "| instance (per-state rescaling) | +55.00" in p.stdout
    assert "138 %" in p.stdout and "warning" not in p.stderr
    s = json.loads(cli("analyze", "effects", *dirs, "--json").stdout.strip().splitlines()[-1])
    assert s["n"] == 3 and abs(s["effects"]["gain"]["mean"] - 40) < 1e-9


def test_one_seed_warns_instead_of_printing_nan_shares(cli, tmp_path):
    p = cli("analyze", "effects", *fake_runs(tmp_path, {1: (40, 42, 45, 20, 80)}))
    assert p.returncode == 0 and "warning: only 1 seed" in p.stderr
    assert "nan" not in p.stdout.lower() and "no interval: n = 1" in p.stdout


def test_bad_input_is_one_line(cli, tmp_path):
    dirs = fake_runs(tmp_path / "a", {1: (40, 42, 45, 20, 80)})
    p = cli("analyze", "effects", *dirs[:4])
    assert p.returncode == 2 and "missing: full" in p.stderr and len(p.stderr.strip().splitlines()) == 1
    other = fake_runs(tmp_path / "b", {2: (1, 1, 1, 1, 1)}, teacher="minatar-asterix")
    p = cli("analyze", "effects", *dirs, *other)
    assert p.returncode == 2 and "different teachers" in p.stderr
    p = cli("analyze", "effects", tmp_path / "nope")
    assert p.returncode == 2 and "not a run directory" in p.stderr
