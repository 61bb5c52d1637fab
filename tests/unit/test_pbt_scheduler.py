"""The PBT scheduler's choice of whom to compare with, on stand-in trials (Ray Tune's scheduler
class, no Ray cluster): a member that was just given a copy and has not restored it yet is never
ranked against nor copied from, since its last returns belong to the network it is dropping."""

import json
from types import SimpleNamespace
import pytest

pytest.importorskip("ray.tune")

from ray.tune.schedulers.pbt import _PBTTrialState  # noqa: E402

from distillrl.scale.pbt_scheduler import make_scheduler  # noqa: E402
from distillrl.scale.population import pbt_config_from_dict  # noqa: E402


class FakeTrial:
    """What the scheduler reads of a Ray trial (hashed by identity, as Ray's are)."""

    def __init__(self, **kw):
        self.__dict__.update(kw)

    def is_finished(self) -> bool:
        return False


def _population(tmp_path, selection: str, scores: list[float]):
    cfg = pbt_config_from_dict({"command": "kickstart", "population": len(scores),
                                "pbt": {"interval": 1000, "selection": selection, "seed": 3},
                                "priors": {"lambda_0": {"min": 0.01, "max": 1.0}}})
    lineage = tmp_path / "lineage.jsonl"
    sched = make_scheduler(cfg, lineage, total_frames=10**9)
    trials = []
    for m, score in enumerate(scores):
        t = FakeTrial(config={"member": m, "hparams": {"lambda_0": 0.5}}, experiment_tag=str(m),
                      checkpoint=object())
        t.latest_checkpoint_result = SimpleNamespace(checkpoint=t.checkpoint, metrics={"frames": 5000})
        st = _PBTTrialState(t)
        # ten returns around the score with a little spread, as a member reports them
        st.last_result = {"frames": 5000, "return_recent": score,
                          "returns": [score + d for d in (-0.2, 0.1, 0.0, 0.2, -0.1) * 2]}
        st.last_score = score
        sched._trial_state[t] = st
        trials.append(t)
    copies = []
    sched._exploit = lambda controller, trial, donor: copies.append((trial, donor))
    return sched, trials, lineage, copies


def _events(lineage):
    return [json.loads(line) for line in lineage.read_text().splitlines()]


def test_ttest_never_compares_with_a_member_waiting_to_restore_its_copy(tmp_path):
    # member 1 scores far higher on its last returns, but it has just been given member 2's copy
    sched, (t0, t1, t2), lineage, copies = _population(tmp_path, "ttest", [1.0, 50.0, 2.0])
    sched._waiting[t1] = t2
    for _ in range(40):  # the candidate is drawn at random: many ready points of member 0
        sched._checkpoint_or_exploit(t0, None, [], [])
    cands = {e["candidate"] for e in _events(lineage)}
    assert cands == {2}                                   # never the waiting member
    assert copies and all(d is t2 for _, d in copies)     # 2.0 vs 1.0 with this spread: copied
    # once member 1 reports again (its copy restored) it is a candidate again
    sched._waiting.clear()
    for _ in range(40):
        sched._checkpoint_or_exploit(t0, None, [], [])
    assert {e["candidate"] for e in _events(lineage)} == {1, 2}


def test_ttest_with_nobody_to_compare_keeps_and_says_why(tmp_path):
    sched, (t0, t1), lineage, copies = _population(tmp_path, "ttest", [1.0, 50.0])
    sched._waiting[t1] = t0
    sched._checkpoint_or_exploit(t0, None, [], [])
    (ev,) = _events(lineage)
    assert ev["decision"] == "keep" and ev["reason"] == "no member to compare with" and not copies


def test_truncation_ranks_without_a_member_waiting_to_restore_its_copy(tmp_path):
    # 4 members, quantile 0.25: one at the bottom, one at the top. Member 3's stale score (99)
    # would put it at the top and make it the only donor; waiting, it is left out of the ranking.
    sched, (t0, t1, t2, t3), lineage, copies = _population(tmp_path, "truncation", [1.0, 5.0, 7.0, 99.0])
    sched._waiting[t3] = t0
    sched._checkpoint_or_exploit(t0, None, [], [])
    (ev,) = _events(lineage)
    assert ev["bottom"] and ev["decision"] == "copy"
    assert copies == [(t0, t2)]
