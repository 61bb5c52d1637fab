"""Codistillation: the peers' term, weight exchange every K updates, staleness, churn, resume."""

import csv
import json

import numpy as np
import pytest
import torch

from distillrl.core import losses as L
from distillrl.algos import make_trainer
from distillrl.scale.codistill import CodistillConfig, Peer, churn, peer_config, run_codistill
from distillrl.terms.codistill import CodistillTerm
from distillrl.config import to_dict
from distillrl.errors import ConfigError


def _cfg(**kw):
    kw = {"peers": 2, **kw}
    cfg = CodistillConfig(env="gym:CartPole-v1", steps=1024, exchange_every=8, in_process=True,
                          eval_episodes=2, checkpoint_every=256, **kw)
    cfg.ppo.num_envs, cfg.ppo.num_steps, cfg.ppo.num_minibatches, cfg.ppo.update_epochs = 4, 32, 2, 2
    return cfg


def _rows(path):
    return list(csv.DictReader(open(path / "metrics.csv")))


def test_term_is_psi_times_cross_entropy_to_the_mean_of_the_stale_peers():
    cfg = _cfg()
    tr = make_trainer(peer_config(cfg, 0))
    term = CodistillTerm(0.5)
    tr.add_loss(term)
    others = [make_trainer(peer_config(cfg, i)).agent for i in (1, 2)]
    term.set_peers([{k: v.numpy() for k, v in a.state_dict().items()} for a in others], version=3)
    obs = torch.randn(5, 4)
    with torch.no_grad():
        want = (torch.softmax(others[0](obs).logits, -1) + torch.softmax(others[1](obs).logits, -1)) / 2
    torch.testing.assert_close(term.peer_probs(obs, torch.zeros(5, dtype=torch.long)), want)
    from distillrl.core.data import Batch

    out = tr.agent(obs)
    mb = Batch(obs=obs, actions=torch.zeros(5, dtype=torch.long), task_id=torch.zeros(5, dtype=torch.long),
               extras={"p_codistill": want})
    by_hand = -(want * torch.log_softmax(out.logits, -1)).sum(-1).mean()
    torch.testing.assert_close(term(out, mb)["loss_codistill"], by_hand)
    torch.testing.assert_close(by_hand, L.cross_entropy(out.logits, want))
    assert term.weights(tr) == {"loss_codistill": 0.5}
    tr.set_hparams(psi=2.0)
    assert term.weights(tr) == {"loss_codistill": 2.0}
    term.burn_in = 10**9  # before the burn-in ends the term is off
    assert term.weights(tr) == {"loss_codistill": 0.0}


def test_weights_are_exchanged_every_k_updates_and_stay_stale_in_between(tmp_path):
    cfg = _cfg()
    d = to_dict(cfg)
    a, b = Peer(d, 0, str(tmp_path / "a"), False, 0), Peer(d, 1, str(tmp_path / "b"), False, 0)
    wa0, wb0 = a.weights(), b.weights()
    a.run_round([wb0], 0, 8)
    b.run_round([wa0], 0, 8)
    # a trained on b's weights as they were at the exchange, not as b's are now
    stale = a.term.peers[0].state_dict()
    assert all(np.array_equal(stale[k].numpy(), wb0[k]) for k in wb0)
    assert any(not np.array_equal(wb0[k], v) for k, v in b.weights().items())
    # one iteration is 2 epochs × 2 minibatches = 4 updates: a round of K = 8 is two iterations
    assert a.trainer.updates == 8 and a.term.version == 0
    a.log.close()
    rows = _rows(tmp_path / "a")
    assert [float(r["codistill/staleness"]) for r in rows] == [0.0, 4.0]  # updates since the copies arrived
    assert {float(r["codistill/version"]) for r in rows} == {0.0}
    a.run_round([b.weights()], 1, 8)
    assert a.term.version == 1 and a.trainer.updates == 16


def test_psi_zero_peers_are_exactly_independent_runs(tmp_path):
    cfg = _cfg(psi=0.0)
    run_codistill(cfg, tmp_path / "ind", resume=False, progress=False)
    for i in range(2):
        solo = make_trainer(peer_config(cfg, i))
        while solo.frames < cfg.steps:
            solo.step()
        from distillrl.core.checkpoint import load

        state, _ = load(tmp_path / "ind" / f"peer{i}" / "checkpoints" / "last.safetensors")
        for k, v in solo.agent.state_dict().items():
            torch.testing.assert_close(state["agent"][k], v)


def test_codistill_run_summary_churn_and_resume_after_a_kill(tmp_path, monkeypatch):
    cfg = _cfg()
    full = run_codistill(cfg, tmp_path / "full", resume=False, progress=False)
    assert full["peers"] == 2 and full["total_frames"] == 2 * 1024 and 0.0 <= full["churn"] <= 1.0
    assert full["churn_states"] > 0 and len(full["peer_returns"]) == 2
    # kill the run after its third round (between two peers' steps), then resume it
    calls = {"n": 0}
    orig = Peer.run_round

    def dying(self, *a):
        calls["n"] += 1
        if calls["n"] == 7:
            raise KeyboardInterrupt
        return orig(self, *a)

    monkeypatch.setattr(Peer, "run_round", dying)
    with pytest.raises(KeyboardInterrupt):
        run_codistill(cfg, tmp_path / "cut", resume=False, progress=False)
    monkeypatch.setattr(Peer, "run_round", orig)
    committed = json.loads((tmp_path / "cut" / "codistill.json").read_text())["round"]
    assert committed >= 1
    import shutil

    shutil.copytree(tmp_path / "cut", tmp_path / "cut2")
    # environments restart on resume (see distillrl.trainer), so a resumed run is not the uninterrupted
    # one — but it is deterministic given its checkpoints, and every peer resumes from the same round
    again = run_codistill(cfg, tmp_path / "cut", resume=True, progress=False)
    twice = run_codistill(cfg, tmp_path / "cut2", resume=True, progress=False)
    assert again["peer_returns"] == twice["peer_returns"] and again["churn"] == twice["churn"]
    assert again["steps_per_peer"] == 1024
    for i in range(2):
        frames = [int(r["frames"]) for r in _rows(tmp_path / "cut" / f"peer{i}")]
        assert frames == sorted(set(frames)) and frames[-1] == 1024  # no row lost or written twice
        assert frames == [int(r["frames"]) for r in _rows(tmp_path / "full" / f"peer{i}")]


def test_killed_between_two_peers_checkpoints_twice_resumes_from_the_committed_round(tmp_path, monkeypatch):
    cfg = _cfg()
    orig = Peer.save
    state = {"saves": 0, "die_at": 0}

    def dying(self):
        state["saves"] += 1
        if state["saves"] == state["die_at"]:
            raise KeyboardInterrupt  # the other peer has already written this round
        return orig(self)

    monkeypatch.setattr(Peer, "save", dying)
    rd = tmp_path / "x"
    state["die_at"] = 4  # round 2's save: peer 0 wrote it, peer 1 did not
    with pytest.raises(KeyboardInterrupt):
        run_codistill(cfg, rd, resume=False, progress=False)
    first = json.loads((rd / "codistill.json").read_text())["round"]
    state.update(saves=0, die_at=4)  # and once more, after resuming
    with pytest.raises(KeyboardInterrupt):
        run_codistill(cfg, rd, resume=True, progress=False)
    second = json.loads((rd / "codistill.json").read_text())["round"]
    assert second > first
    state.update(saves=0, die_at=-1)
    done = run_codistill(cfg, rd, resume=True, progress=False)
    assert done["steps_per_peer"] == 1024
    for i in range(2):
        ck = sorted(p.name for p in (rd / f"peer{i}" / "checkpoints").glob("*.safetensors"))
        assert "last.safetensors" in ck and len([c for c in ck if c.startswith("round-")]) == 1


def test_churn_counts_disagreeing_states():
    c = churn([np.array([0, 1, 1, 0]), np.array([0, 1, 0, 0]), np.array([1, 1, 0, 0])])
    assert c["churn_pairs"] == {"0-1": 0.25, "0-2": 0.5, "1-2": 0.25}
    assert c["churn"] == pytest.approx(1 / 3)


def test_bad_codistill_inputs(cli, tmp_path):
    for args, msg in ((["--peers", "0"], "--peers must be ≥ 2"), (["--peers", "1"], "--peers must be ≥ 2"),
                      (["--psi", "-1"], "--psi must be ≥ 0"), (["--algo", "dqn"], "--algo: expected one of ppo, a2c"),
                      (["--exchange-every", "0"], "--exchange-every must be ≥ 1"),
                      (["--net.lstm", "8"], "drop --net.lstm")):
        p = cli("codistill", "--env", "gym:CartPole-v1", "--in-process", *args, "--run-dir", tmp_path / "x")
        assert p.returncode == 2 and msg in p.stderr and len(p.stderr.strip().splitlines()) == 1, (args, p.stderr)
    assert not (tmp_path / "x").exists()
    with pytest.raises(ConfigError):
        run_codistill(_cfg(peers=1), tmp_path / "y", resume=False, progress=False)


def test_codistill_peers_as_ray_actors_match_in_process(cli, tmp_path):
    args = ["codistill", "--env", "gym:CartPole-v1", "--peers", "2", "--steps", "512", "--exchange-every", "8",
            "--ppo.num-envs", "4", "--ppo.num-steps", "32", "--eval-episodes", "2", "--no-progress", "--json"]
    r = cli(*args, "--run-dir", tmp_path / "ray", check=True, timeout=300)
    i = cli(*args, "--in-process", "--run-dir", tmp_path / "inp", check=True, timeout=300)
    sr, si = (json.loads(p.stdout.strip().splitlines()[-1]) for p in (r, i))
    assert sr["peer_returns"] == si["peer_returns"] and sr["churn"] == si["churn"]
