"""Population-based training and sweeps on Ray Tune: exploit from the trainer's side, a tiny
population with an injected crash, resume after an interrupt, bad inputs, and a real two-node
Ray cluster on loopback."""

import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import yaml

from distillrl.core import checkpoint
from loopback import free_port, stop_nodes
from distillrl.runs.kinds import build_config, kind
from distillrl.scale.pbt_member import restore_member

RAY = Path(sys.executable).with_name("ray")


def _kickstart_trainer(seed: int, lr: float = 1e-3):
    k = kind("kickstart")
    cfg = build_config(k, {"env": "gym:CartPole-v1", "teacher": ["cartpole", "cartpole"], "schedule": "constant",
                           "seed": seed, "steps": 10_000, "eval_episodes": 0,
                           "ppo": {"anneal_lr": False, "lr": lr}})
    return k.factory(cfg)


def test_exploit_copies_state_and_the_new_hyperparameters_are_in_effect(tmp_path):
    donor = _kickstart_trainer(seed=1)
    donor.set_hparams(lr=1e-3, lambda_shared=1.0, lambda_0=1.0, lambda_1=1.0)
    donor.advance(256)
    path = tmp_path / "donor.safetensors"
    checkpoint.save(path, donor.state_dict(), {"member": 0})
    state, meta = checkpoint.load(path)

    recipient = _kickstart_trainer(seed=2)
    new = {"lr": 3e-4, "lambda_shared": 0.5, "lambda_0": 0.25, "lambda_1": 0.04}
    foreign = restore_member(recipient, state, meta, {"member": 1, "seed": 2, "hparams": new})
    assert foreign
    # everything of the donor was copied: weights and the optimizer's moments
    for (n, a), b in zip(donor.agent.state_dict().items(), recipient.agent.state_dict().values()):
        assert torch.equal(a, b), n
    so, ro = donor.learner.opt.state_dict(), recipient.learner.opt.state_dict()
    assert all(torch.equal(so["state"][i]["exp_avg"], ro["state"][i]["exp_avg"]) for i in so["state"])
    assert recipient.frames == donor.frames
    # ... but its own sampling noise (reseeded from its seed), not the donor's
    assert not torch.equal(recipient.gen.get_state(), donor.gen.get_state())
    # and the new hyper-parameters, not the donor's restored ones, drive the very next update
    rows = recipient.advance(256)
    assert recipient.learner.opt.param_groups[0]["lr"] == pytest.approx(3e-4)
    assert rows[-1]["kickstart/lambda_0"] == pytest.approx(0.5 * 0.25)
    assert rows[-1]["kickstart/lambda_1"] == pytest.approx(0.5 * 0.04)
    assert rows[-1]["hparams/lr"] == pytest.approx(3e-4)
    # restoring the member's own checkpoint is not a copy: no reseed
    own = _kickstart_trainer(seed=1)
    assert restore_member(own, state, meta, {"member": 0, "seed": 1, "hparams": new}) is False
    assert torch.equal(own.gen.get_state(), donor.gen.get_state())
    for t in (donor, recipient, own):
        t.close()


def _config(tmp_path: Path, **over) -> Path:
    doc = {"command": "train", "population": 3,
           "config": {"env": "gym:CartPole-v1", "steps": 16_000, "eval_episodes": 2},
           "pbt": {"interval": 4000, "selection": "truncation", "quantile": 0.34, "seed": 1},
           "priors": {"lr": {"min": 1e-4, "max": 3e-3, "log": True}, "ent_coef": {"min": 0.0, "max": 0.02}}}
    for k, v in over.items():
        doc[k] = {**doc[k], **v} if isinstance(v, dict) and isinstance(doc.get(k), dict) else v
    p = tmp_path / "pbt.yaml"
    p.write_text(yaml.safe_dump(doc))
    return p


def _rows(member_dir: Path) -> list[dict]:
    with open(member_dir / "metrics.csv", newline="") as f:
        return list(csv.DictReader(f))


@pytest.mark.slow
def test_tiny_population_survives_a_crash_and_exploits_take_effect(tmp_path, cli):
    cfg = _config(tmp_path, inject_fault={"member": 1, "frames": 6000, "how": "exit"})
    exp = tmp_path / "exp"
    p = cli("pbt", "--config", cfg, "--run-dir", exp, "--json", "--no-progress", timeout=400)
    assert p.returncode == 0, p.stderr[-3000:]
    s = json.loads(p.stdout.strip().splitlines()[-1])
    assert s["members_finished"] == 3 and s["errors"] == []
    assert (exp / "members/member-01/fault-injected").exists()  # it really crashed, and was restarted
    for i in range(3):
        m = exp / f"members/member-{i:02d}"
        assert json.loads((m / "summary.json").read_text())["steps"] >= 16_000
        assert (m / "checkpoints/last.safetensors").exists() and (m / "config.yaml").exists()
    events = [json.loads(x) for x in (exp / "lineage.jsonl").read_text().splitlines()]
    exploits = [e for e in events if e["event"] == "exploit"]
    assert exploits, "truncation with 3 members exploits at every ready point of the worst"
    last = {}
    for e in exploits:
        assert e["member"] != e["donor"] and set(e["new"]) == {"lr", "ent_coef"}
        assert 1e-4 <= e["new"]["lr"] <= 3e-3 and 0 <= e["new"]["ent_coef"] <= 0.02
        last[e["member"]] = e
    for m, e in last.items():  # after its last exploit, the recipient trains with the new values
        after = [r for r in _rows(exp / f"members/member-{m:02d}") if float(r["frames"]) > e["donor_frames"]]
        assert after, f"member {m} has no rows after its exploit"
        assert float(after[0]["hparams/lr"]) == pytest.approx(e["new"]["lr"], rel=1e-6)
        assert float(after[0]["hparams/ent_coef"]) == pytest.approx(e["new"]["ent_coef"], rel=1e-6, abs=1e-12)
        marked = [r for r in _rows(exp / f"members/member-{m:02d}") if r.get("pbt/copied_from")]
        assert marked, f"member {m}'s metrics do not mark the copy"  # the copied frame counter is explained
        assert {int(float(r["pbt/copied_from"])) for r in marked} <= {x["donor"] for x in exploits if x["member"] == m}
        # the frames the lineage records are the frames of the checkpoint really copied
        assert {int(float(r["pbt/copied_at"])) for r in marked} <= {x["donor_frames"] for x in exploits if x["member"] == m}
    # the report draws the winning lineage
    r = cli("report", exp, "--out", tmp_path / "rep", "--json")
    assert r.returncode == 0, r.stderr[-2000:]
    rep = json.loads(r.stdout.strip().splitlines()[-1])
    assert rep["pbt"]["best_member"] == s["best_member"] and (tmp_path / "rep/lineage.png").exists()


@pytest.mark.slow
def test_interrupted_population_resumes_without_losing_finished_work(tmp_path):
    # 40k frames: members no longer pause for each other (scale.pbt_scheduler), so a shorter run
    # could finish between the third ready point and the interrupt on a loaded machine
    steps = 40_000
    cfg = _config(tmp_path, population=2, pbt={"selection": "ttest", "pvalue": 0.5},
                  config={"env": "gym:CartPole-v1", "steps": steps, "eval_episodes": 2})
    exp = tmp_path / "exp"
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    exe = str(Path(sys.executable).with_name("distillrl"))
    proc = subprocess.Popen([exe, "pbt", "--config", str(cfg), "--run-dir", str(exp), "--json", "--no-progress"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    deadline = time.time() + 240
    while time.time() < deadline:  # interrupt once the members have checkpointed a few times
        lin = exp / "lineage.jsonl"
        if lin.exists() and len(lin.read_text().splitlines()) >= 3:
            break
        time.sleep(0.5)
    proc.send_signal(signal.SIGINT)
    proc.communicate(timeout=120)
    done_before = {i for i in range(2) if (exp / f"members/member-{i:02d}/summary.json").exists()}
    assert len(done_before) < 2, "the population finished before it could be interrupted"
    rows_before = {i: len(_rows(exp / f"members/member-{i:02d}")) for i in range(2)}
    p = subprocess.run([exe, "pbt", "--config", str(cfg), "--run-dir", str(exp), "--resume", "--json",
                        "--no-progress"], capture_output=True, text=True, env=env, timeout=300)
    assert p.returncode == 0, p.stderr[-3000:]
    s = json.loads(p.stdout.strip().splitlines()[-1])
    assert s["members_finished"] == 2
    for i in range(2):
        rows = _rows(exp / f"members/member-{i:02d}")
        frames = [float(r["frames"]) for r in rows]
        assert frames == sorted(frames) and frames[-1] >= steps  # continued, not restarted from 0
        assert len(rows) >= rows_before[i] * 0.5


@pytest.mark.parametrize("over, message", [
    ({"population": 1}, "population must be ≥ 2"),
    ({"priors": {"lr": {"min": 1e-4, "max": 1e-3}, "warp_speed": {"min": 0, "max": 1}}},
     "unknown hyper-parameter 'warp_speed' for a train trainer"),
    ({"priors": {"lr": {"min": 1e-3, "max": 1e-4}}}, "prior min 0.001 > max 0.0001"),
])
def test_pbt_bad_input_is_one_line(tmp_path, cli, over, message):
    p = cli("pbt", "--config", _config(tmp_path, **over), "--run-dir", tmp_path / "e", timeout=120)
    assert p.returncode == 2 and message in p.stderr and len(p.stderr.strip().splitlines()) == 1, p.stderr
    assert not (tmp_path / "e").exists()


def test_unreachable_address_is_one_line_and_fast(tmp_path, cli):
    t = time.time()
    p = cli("pbt", "--config", _config(tmp_path), "--address", f"127.0.0.1:{free_port()}", "--run-dir",
            tmp_path / "e", timeout=120)
    assert p.returncode == 2 and "cannot reach a Ray cluster at 127.0.0.1:" in p.stderr
    assert len(p.stderr.strip().splitlines()) == 1 and time.time() - t < 60
    q = cli("sweep", "--seeds", "1-2", "--address", "nowhere", "--", "train", timeout=60)
    assert q.returncode == 2 and "bad --address 'nowhere'" in q.stderr


def test_sweep_bad_input_is_one_line(tmp_path, cli):
    for args, msg in ((["--seeds", "3-1", "--", "train"], "end before start"),
                      (["--seeds", "1", "--", "train", "--seed", "3"], "--seed is set by the sweep"),
                      (["--seeds", "1", "--", "train", "--bogus", "1"], "unrecognized arguments: --bogus"),
                      (["--seeds", "1", "--grid", "ppo.lr=-1", "--", "train"], "--ppo.lr must be > 0"),
                      (["--seeds", "1"], "name the command to sweep")):
        p = cli("sweep", "--run-dir", tmp_path / "s", *args, timeout=60)
        assert p.returncode == 2 and msg in p.stderr and len(p.stderr.strip().splitlines()) == 1, (args, p.stderr)


@pytest.mark.slow
def test_two_node_cluster_on_loopback_runs_a_population_and_a_sweep(tmp_path):
    """A real Ray cluster: a head and a second node (one CPU each) on 127.0.0.1; a population of
    two and a sweep of two seeds through --address land on both nodes."""
    import secrets

    port = free_port()
    # Ray's token authentication, shared by the head, the second node and the driver
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "token",
           "RAY_AUTH_TOKEN": secrets.token_hex(16), "PYTHONHASHSEED": "0"}
    tmp = Path("/tmp") / f"ray-dr-{os.getpid()}"  # Ray's socket paths must stay short

    def ray(*args, timeout=120):
        return subprocess.run([str(RAY), *args], capture_output=True, text=True, env=env, timeout=timeout)

    def cli(*args, timeout=300):
        return subprocess.run([str(Path(sys.executable).with_name("distillrl")), *map(str, args)],
                              capture_output=True, text=True, env=env, timeout=timeout)

    try:
        h = ray("start", "--head", "--node-ip-address=127.0.0.1", f"--port={port}", "--num-cpus=1",
                "--include-dashboard=false", f"--temp-dir={tmp}", "--disable-usage-stats")
        assert h.returncode == 0, h.stderr[-2000:]
        w = ray("start", f"--address=127.0.0.1:{port}", "--node-ip-address=127.0.0.1", "--num-cpus=1",
                "--disable-usage-stats")
        assert w.returncode == 0, w.stderr[-2000:]
        # members long enough (~10 s) to run at the same time, so the second must use the second node
        cfg = _config(tmp_path, population=2, config={"env": "gym:CartPole-v1", "steps": 40_000, "eval_episodes": 1,
                                                      "track": True, "wandb_mode": "offline"},
                      pbt={"cpus_per_member": 1, "selection": "ttest", "interval": 10_000})
        p = cli("pbt", "--config", cfg, "--address", f"127.0.0.1:{port}", "--run-dir", tmp_path / "exp", "--json",
                "--no-progress", timeout=300)
        assert p.returncode == 0, p.stderr[-3000:]
        s = json.loads(p.stdout.strip().splitlines()[-1])
        assert s["ray"]["nodes"] == 2 and s["members_finished"] == 2
        nodes = set().union(*(json.loads((tmp_path / f"exp/members/member-{i:02d}/summary.json").read_text())["nodes"]
                              for i in range(2)))
        assert len(nodes) == 2, "one CPU per node and per member: the members ran on both nodes"
        # --track: one W&B run per member, resumed across its exploits, grouped by the experiment
        from wandb_records import read_offline_run

        for i in range(2):
            w = read_offline_run(tmp_path / f"exp/members/member-{i:02d}")
            assert w["run"]["group"] == "exp" and w["run"]["name"] == f"exp-member-{i:02d}"
            assert any("charts/return_recent" in h for h in w["history"])
        q = cli("sweep", "--seeds", "1-2", "--address", f"127.0.0.1:{port}", "--run-dir", tmp_path / "sw", "--json",
                "--no-progress", "--", "train", "--env", "gym:CartPole-v1", "--steps", "2048", "--eval-episodes", "1",
                "--track", "--wandb-mode", "offline", timeout=300)
        assert q.returncode == 0, q.stderr[-3000:]
        sw = json.loads(q.stdout.strip().splitlines()[-1])
        assert sw["finished"] == 2 and sw["ray"]["nodes"] == 2
        assert {r["seed"] for r in sw["results"]} == {"1", "2"}
        runs = [d for d in (tmp_path / "sw").iterdir() if (d / "summary.json").exists()]
        assert len(runs) == 2 and {read_offline_run(d)["run"]["group"] for d in runs} == {"sw"}
        # codistillation's peers as Ray actors on the cluster: one CPU each, so one per node
        c = cli("codistill", "--env", "gym:CartPole-v1", "--peers", "2", "--steps", "2048", "--address",
                f"127.0.0.1:{port}", "--run-dir", tmp_path / "cd", "--eval-episodes", "1", "--json", "--no-progress",
                timeout=300)
        assert c.returncode == 0, c.stderr[-3000:]
        cd = json.loads(c.stdout.strip().splitlines()[-1])
        assert cd["nodes"] == 2 and cd["total_frames"] == 2 * 2048
        # meta-learning's ES workers (one CPU each: one per node)
        m = cli("meta", "--family", "point-nav", "--steps", "2400", "--population", "4", "--tasks-per-gen", "1",
                "--test-tasks", "2", "--eval-every", "0", "--workers", "2", "--address", f"127.0.0.1:{port}",
                "--run-dir", tmp_path / "meta", "--json", "--no-progress", timeout=300)
        assert m.returncode == 0, m.stderr[-3000:]
        assert json.loads(m.stdout.strip().splitlines()[-1])["nodes"] == 2
    finally:
        stop_nodes(port, tmp)  # only what this test started (`ray stop` would stop every Ray here)
        shutil.rmtree(tmp, ignore_errors=True)


def test_distillation_population_must_be_ranked_by_the_student(tmp_path, cli):
    p = tmp_path / "d.yaml"
    p.write_text(yaml.safe_dump({"command": "distill", "population": 2,
                                 "config": {"teacher": "cartpole", "source": "teacher", "steps": 2000},
                                 "priors": {"lr": {"min": 1e-4, "max": 1e-3}}}))
    r = cli("pbt", "--config", p, "--run-dir", tmp_path / "e", timeout=120)
    assert r.returncode == 2 and "use source: student, dagger or eer" in r.stderr


@pytest.mark.slow
def test_no_selection_baseline_keeps_its_draws_and_best_is_chosen_on_selection_episodes(tmp_path, cli):
    """selection: none is PBT's matched baseline (the same members and draws, nobody copies); with
    select_episodes the best member is picked on episodes apart from the ones it is reported on."""
    cfg = _config(tmp_path, population=2, config={"env": "gym:CartPole-v1", "steps": 8000, "eval_episodes": 2},
                  pbt={"interval": 2000, "selection": "none", "select_episodes": 3, "seed": 1})
    exp = tmp_path / "exp"
    p = cli("pbt", "--config", cfg, "--run-dir", exp, "--json", "--no-progress", timeout=400)
    assert p.returncode == 0, p.stderr[-3000:]
    s = json.loads(p.stdout.strip().splitlines()[-1])
    assert s["exploits"] == 0 and s["ready_points"] >= 2
    assert s["chosen_on"].startswith("selection episodes")
    members = [json.loads((exp / f"members/member-{i:02d}/summary.json").read_text()) for i in range(2)]
    assert [len(m["select_returns"]) for m in members] == [3, 3]
    assert s["select_scores"] == [m["select_score"] for m in members]
    assert s["best_member"] == int(max(range(2), key=lambda i: members[i]["select_score"]))
    assert s["best_return"] == members[s["best_member"]]["mean_return"]  # reported on the evaluation episodes
    first = {}
    for e in (json.loads(x) for x in (exp / "lineage.jsonl").read_text().splitlines()):
        assert e["event"] == "ready" and e["decision"] == "keep"
    for i, m in enumerate(members):  # each member trained its initial draw to the end
        rows = _rows(exp / f"members/member-{i:02d}")
        first[i] = float(rows[0]["hparams/lr"])
        assert float(rows[-1]["hparams/lr"]) == pytest.approx(first[i]) == pytest.approx(m["hparams"]["lr"])
    assert first[0] != first[1]
    r = cli("report", exp, "--out", tmp_path / "rep", "--json")
    assert r.returncode == 0, r.stderr[-2000:]
    assert json.loads(r.stdout.strip().splitlines()[-1])["pbt"]["best_member"] == s["best_member"]
