"""``distillrl meta`` end to end on point navigation: a run trains, checkpoints, resumes to the
same result, adapts (``distillrl eval``), teaches (kickstart on a task of its family), gives
the same result on two Ray workers as in one process, and every method runs."""

import json

import pytest

pytest.importorskip("evotorch")

TINY = ["--family", "point-nav", "--steps", "4800", "--population", "4", "--tasks-per-gen", "2",
        "--test-tasks", "2", "--eval-every", "1", "--eval-tasks", "1", "--checkpoint-every", "1", "--hidden", "16",
        "--no-progress", "--json"]


def last_json(p):
    assert p.returncode == 0, p.stderr[-3000:]
    return json.loads(p.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    from conftest import run_cli

    d = tmp_path_factory.mktemp("meta") / "full"
    return d, last_json(run_cli("meta", *TINY, "--run-dir", d, timeout=300))


def test_trains_checkpoints_and_summarises(base):
    d, s = base
    assert s["family"] == "point-nav" and s["method"] == "es-dpg" and s["generations"] == 2
    assert s["steps"] >= 4800 and s["test_tasks"] == 2 and s["held_out"] is True
    for k in ("pre_return", "post_return_k1", "gain_k1", "post_lo_k1"):
        assert k in s
    # throughput: 2 generations × population 4 × 2 tasks evaluations over the generations' own time
    assert s["train_wall_s"] > 0 and s["evaluations_per_s"] == pytest.approx(16 / s["train_wall_s"])
    assert (d / "checkpoints/last.safetensors").exists() and (d / "tb").is_dir()
    rows = (d / "metrics.csv").read_text().splitlines()
    assert len(rows) == 3 and "meta/test_post_return" in rows[0] and "meta/fitness_mean" in rows[0]
    assert "meta/evaluations_per_s" in rows[0]


def test_a_killed_run_resumes_to_the_same_result(base, tmp_path, cli):
    _, full = base
    d = tmp_path / "r"
    half = [a if a != "4800" else "2400" for a in TINY]
    last_json(cli("meta", *half, "--run-dir", d, timeout=300))
    s = last_json(cli("meta", "--resume", "--run-dir", d, "--steps", "4800", "--json", "--no-progress", timeout=300))
    assert s["post_return_k1"] == full["post_return_k1"] and s["pre_return"] == full["pre_return"]
    assert len((d / "metrics.csv").read_text().splitlines()) == 3


def test_two_ray_workers_give_the_same_result_as_one_process(base, tmp_path, cli):
    _, full = base
    s = last_json(cli("meta", *TINY, "--workers", "2", "--run-dir", tmp_path / "w", timeout=300))
    assert s["post_return_k1"] == full["post_return_k1"] and s["pre_return"] == full["pre_return"]
    assert s["workers"] == 2


def test_eval_adapts_a_meta_checkpoint(base, cli):
    d, full = base
    s = last_json(cli("eval", d, "--task", "0.3/-0.2", "--k", "1,3", "--episodes", "1", "--json"))
    assert s["kind"] == "meta-es-dpg" and s["tasks"] == 1
    assert {"pre_return", "post_return_k1", "post_return_k3"} <= set(s)
    s = last_json(cli("eval", d, "--episodes", "1", "--json", "--seed", "20000"))
    assert s["tasks"] == 2
    p = cli("eval", d, "--task", "7")
    assert p.returncode == 2 and "takes tasks of 2 number(s)" in p.stderr


def test_meta_actor_kickstarts_a_student_on_a_new_task(base, tmp_path, cli):
    d, _ = base
    s = last_json(cli("kickstart", "--env", "meta:point-nav?task=0.2/0.4", "--teacher", d, "--steps", "1024",
                      "--eval-episodes", "1", "--run-dir", tmp_path / "k", "--no-progress", "--json"))
    assert s["teacher_return"] < 0 and "student_return" in s


@pytest.mark.parametrize("method", ["es-zero", "fomaml", "multitask"])
def test_every_method_runs(method, tmp_path, cli):
    s = last_json(cli("meta", *TINY, "--method", method, "--steps", "1", "--eval-k", "1,2", "--zo-directions", "1",
                      "--run-dir", tmp_path / method, timeout=300))
    assert s["method"] == method and s["generations"] == 1 and "post_return_k2" in s


@pytest.mark.parametrize("args, msg", [
    (["--family", "nope"], "unknown task family 'nope'"),
    (["--k", "0"], "--k must be ≥ 1"),
    (["--sigma", "0"], "--sigma must be > 0"),
    (["--population", "5"], "--population must be even"),
    (["--family", "point-nav", "--eval-k", "a"], "--eval-k takes integers"),
])
def test_bad_input_is_one_line_and_leaves_nothing(args, msg, tmp_path, cli):
    p = cli("meta", *args, "--run-dir", tmp_path / "bad", "--no-progress", timeout=120)
    assert p.returncode == 2 and msg in p.stderr and len(p.stderr.strip().splitlines()) == 1, p.stderr
    assert not (tmp_path / "bad").exists()


def test_a_sweep_runs_meta_trials(tmp_path, cli):
    s = last_json(cli("sweep", "--seeds", "1-2", "--run-dir", tmp_path / "sw", "--json", "--no-progress", "--",
                      "meta", "--family", "point-nav", "--steps", "1", "--population", "2", "--tasks-per-gen", "1",
                      "--test-tasks", "1", "--eval-every", "0", "--hidden", "8", timeout=300))
    assert s["finished"] == 2


def test_pbt_tunes_the_es_hyper_parameters(tmp_path, cli):
    import yaml

    cfg = tmp_path / "p.yaml"
    cfg.write_text(yaml.safe_dump({
        "command": "meta", "population": 2,
        "config": {"family": "point-nav", "steps": 9600, "population": 4, "tasks_per_gen": 1, "test_tasks": 1,
                   "eval_every": 0, "hidden": 8},
        "pbt": {"interval": 2400, "selection": "truncation"},
        "priors": {"sigma": {"min": 0.01, "max": 0.2, "log": True}, "k": {"min": 1, "max": 3}}}))
    s = last_json(cli("pbt", "--config", cfg, "--run-dir", tmp_path / "e", "--json", "--no-progress", timeout=400))
    assert s["command"] == "meta" and s["members_finished"] == 2 and not s["errors"]
    assert set(s["best_hparams"]) == {"lr", "sigma", "inner_lr", "population", "k"}
