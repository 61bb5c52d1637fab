"""`report` groups runs by their configs: seeds of one experiment made by two versions of distillrl
(the newer one records keys the older did not) stay one group; a real difference still splits."""

import numpy as np

from distillrl.report.runs import Run, group_runs


def _run(kind: str, config: dict) -> Run:
    return Run(path=None, kind=kind, config=config, summary={}, frames=np.zeros(1), returns=np.zeros(1),
               lambdas={})


def test_keys_only_newer_configs_record_do_not_split_a_group():
    old = {"env": "minatar:breakout", "steps": 1000, "seed": 1, "ppo": {"lr": 5e-4}}
    new = {"env": "minatar:breakout", "steps": 1000, "seed": 4, "ppo": {"lr": 5e-4, "pg_coef": 1.0}, "device": "cpu"}
    gs = group_runs([_run("train", old), _run("train", new)])
    assert len(gs) == 1 and len(gs[0].runs) == 2 and gs[0].label == "train"


def test_a_recorded_difference_still_splits_and_labels_the_groups():
    a = {"env": "minatar:breakout", "steps": 1000, "seed": 1, "ppo": {"lr": 5e-4}, "device": "cpu"}
    b = {"env": "minatar:breakout", "steps": 1000, "seed": 2, "ppo": {"lr": 1e-3}, "device": "cpu"}
    c = {"env": "minatar:breakout", "steps": 1000, "seed": 3, "ppo": {"lr": 1e-3}}
    gs = group_runs([_run("train", a), _run("train", b), _run("train", c)])
    assert sorted(g.label for g in gs) == ["train ppo.lr=0.0005", "train ppo.lr=0.001"]
    assert sorted(len(g.runs) for g in gs) == [1, 2]


def test_kinds_compare_their_own_keys():
    ks = {"env": "e", "steps": 10, "teacher": ["t"], "schedule": "linear"}
    tr = {"env": "e", "steps": 10}
    gs = group_runs([_run("kickstart", ks), _run("kickstart", {**ks, "teacher": ["u"]}), _run("train", tr)])
    assert sorted(g.label for g in gs) == ["kickstart teacher=t", "kickstart teacher=u", "train"]
