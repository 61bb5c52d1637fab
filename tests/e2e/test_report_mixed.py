"""`report` refuses runs it cannot compare (different environments) in one line, separates them on
request, reads a sweep's folder directly, and warns about different frame budgets."""

import json
import shutil


def _train(cli, d, env, steps):
    p = cli("train", "--env", env, "--steps", steps, "--eval-episodes", "1", "--run-dir", d, "--json", "--no-progress")
    assert p.returncode == 0, p.stderr[-2000:]


def test_report_on_mixed_envs_sweeps_and_budgets(cli, tmp_path):
    _train(cli, tmp_path / "cp", "gym:CartPole-v1", "1024")
    _train(cli, tmp_path / "ab", "gym:Acrobot-v1", "1024")
    p = cli("report", tmp_path / "cp", tmp_path / "ab", "--out", tmp_path / "rep")
    err = p.stderr.strip()
    assert p.returncode == 2 and len(err.splitlines()) == 1 and "different environments" in err, err
    assert "--separate" in err and not (tmp_path / "rep").exists()
    p = cli("report", tmp_path / "cp", tmp_path / "ab", "--out", tmp_path / "rep", "--separate", "--json")
    assert p.returncode == 0, p.stderr[-2000:]
    res = json.loads(p.stdout.strip().splitlines()[-1])
    assert set(res["reports"]) == {"gym:CartPole-v1", "gym:Acrobot-v1"}
    assert all((tmp_path / "rep" / d / "report.md").exists() for d in ("gym-CartPole-v1", "gym-Acrobot-v1"))
    # a sweep's folder stands for its trials; a longer run beside them draws a budget warning
    sw = tmp_path / "sweep"
    sw.mkdir()
    (sw / "sweep-plan.json").write_text("{}")
    shutil.copytree(tmp_path / "cp", sw / "seed-1")
    _train(cli, tmp_path / "cp-long", "gym:CartPole-v1", "4096")
    p = cli("report", sw, tmp_path / "cp-long", "--out", tmp_path / "rep2", "--json")
    assert p.returncode == 0, p.stderr[-2000:]
    res = json.loads(p.stdout.strip().splitlines()[-1])
    assert sum(g["seeds"] for g in res["groups"]) == 2
    assert "different frame budgets" in res.get("warning", "") and "different frame budgets" in p.stderr
