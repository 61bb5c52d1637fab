"""Declared configuration (issue 23, Configuration): every option's domain and help text are
declared (``knob``), not parsed from docstrings; out-of-range values are one-line errors naming
the option and its domain; ``--help`` lists only the options of one command and learner; PBT
lists live hyper-parameters without building a trainer; DQN's old ``tau`` loads as
``target_tau``."""

import dataclasses
import math
import shutil
import typing
from pathlib import Path

import pytest

from distillrl import config as C
from distillrl.algos import TrainConfig, train_live_hparams
from distillrl.algos.base import EnvTrainer
from distillrl.algos.distill_config import DistillConfig
from distillrl.algos.dt import DTConfig, OfflineTrainer
from distillrl.algos.kickstart import KickstartConfig
from distillrl.algos.offline_distill import OfflineDistillConfig
from distillrl.cli.main import main
from distillrl.config import ConfigError, from_dict, validate
from distillrl.scale.codistill import CodistillConfig
from distillrl.scale.population import PBTConfig, Prior, pbt_config_from_dict

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "pre_restructure"
ROOTS = (TrainConfig, KickstartConfig, DistillConfig, DTConfig, OfflineDistillConfig, CodistillConfig, PBTConfig,
         Prior)


def config_classes() -> list[type]:
    """Every config dataclass reachable from the commands' configs: bases and nested sections."""
    seen: list[type] = []
    todo = list(ROOTS)
    while todo:
        cls = todo.pop()
        if cls in seen:
            continue
        seen.append(cls)
        todo += [b for b in cls.__mro__[1:] if dataclasses.is_dataclass(b)]
        hints = typing.get_type_hints(cls)
        todo += [hints[f.name] for f in dataclasses.fields(cls) if dataclasses.is_dataclass(hints[f.name])]
    return sorted(seen, key=lambda c: c.__name__)


CLASSES = config_classes()


def test_every_config_class_is_found():
    names = {c.__name__ for c in CLASSES}
    assert {"RunConfig", "TrainConfig", "PPOConfig", "DQNConfig", "PQNConfig", "ImpalaConfig", "ActorOptions",
            "NetConfig", "OnlineOptions", "IntrinsicConfig", "KickstartOptions", "KickstartConfig", "DistillConfig",
            "IEKDConfig", "DTNetConfig", "OfflineOptions", "DTConfig", "OfflineDistillConfig", "Prior", "PBTOptions",
            "PBTConfig", "CodistillConfig"} <= names
    assert len(CLASSES) >= 22


def _numeric(tp) -> bool:
    return C.is_numeric(tp)


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_every_field_is_declared_with_help_and_every_numeric_one_with_a_domain(cls):
    hints = typing.get_type_hints(cls)
    default = cls()
    for f in dataclasses.fields(cls):
        tp = hints[f.name]
        if dataclasses.is_dataclass(tp):
            continue
        assert C.field_help(f), f"{cls.__name__}.{f.name} has no help text"
        dom = C.field_domain(f)
        if _numeric(tp):
            assert dom is not None, f"{cls.__name__}.{f.name} declares no domain"
            v = getattr(default, f.name)
            for x in (v if isinstance(v, (list, tuple)) else [v]):
                assert x is None or x in dom, f"default of {cls.__name__}.{f.name} is outside {dom.text}"
        else:
            assert dom is None, f"{cls.__name__}.{f.name} is not numeric but declares a domain"
    for name in getattr(cls, "LIVE", ()):  # live hyper-parameters: numeric fields with a domain
        f = {f.name: f for f in dataclasses.fields(cls)}[name]
        assert _numeric(hints[name]) and C.field_domain(f) is not None, f"{cls.__name__}.{name}"


def test_nothing_is_parsed_from_source():
    src = "".join(p.read_text() for p in Path(C.__file__).parent.glob("*.py"))
    assert "import ast" not in src and "getsource" not in src
    # the docstring convention is gone from every config class: a field followed by a string
    import ast
    import inspect

    for cls in CLASSES:
        body = ast.parse(inspect.getsource(cls).strip()).body[0].body
        for prev, node in zip(body, body[1:]):
            if (isinstance(prev, ast.AnnAssign) and not ast.unparse(prev.annotation).startswith("ClassVar")
                    and isinstance(node, ast.Expr)):
                assert not isinstance(getattr(node, "value", None), ast.Constant), \
                    f"{cls.__name__}.{prev.target.id} still has a field docstring"


def _outside(dom: C.Domain, tp) -> float:
    """A value outside ``dom`` (of ``tp``'s kind)."""
    if math.isfinite(dom.lo):
        x = dom.lo if dom.lo_open else dom.lo - 1
    elif math.isfinite(dom.hi):
        x = dom.hi if dom.hi_open else dom.hi + 1
    else:
        return math.nan
    _, inner = C.is_optional(tp)
    if typing.get_origin(inner) in (list, tuple):
        inner = typing.get_args(inner)[0]
    return int(x) if inner is int and float(x).is_integer() else float(x)


def _numeric_paths(cls, prefix=()):
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        tp = hints[f.name]
        if dataclasses.is_dataclass(tp):
            yield from _numeric_paths(tp, prefix + (f.name,))
        elif _numeric(tp):
            yield prefix + (f.name,), tp, C.field_domain(f)


CASES = [(cls, path, tp, dom) for cls in ROOTS for path, tp, dom in _numeric_paths(cls)]


@pytest.mark.parametrize("cls, path, tp, dom", CASES,
                         ids=[f"{c.__name__}.{'.'.join(p)}" for c, p, _, _ in CASES])
def test_out_of_range_values_are_a_one_line_error_naming_the_option_and_its_domain(cls, path, tp, dom):
    bad = _outside(dom, tp)
    _, inner = C.is_optional(tp)
    value = [bad] if typing.get_origin(inner) in (list, tuple) else bad
    data: dict = {path[-1]: value}
    for p in reversed(path[:-1]):
        data = {p: data}
    with pytest.raises(ConfigError) as e:
        validate(from_dict(cls, data))
    msg = str(e.value)
    flag = "--" + ".".join(path).replace("_", "-")
    assert "\n" not in msg and msg.startswith(f"{flag} must be {dom.text}"), msg


# --------------------------------------------------------------------------- --help per algorithm

SECTION_OWNERS = {"ppo": {"ppo", "a2c"}, "dqn": {"dqn"}, "pqn": {"pqn"}, "impala": {"impala"},
                  "intrinsic": {"ppo", "a2c", "impala"}}
FLAG_OWNERS = {"--actors": {"impala"}, "--address": {"impala"}, "--rnd": {"ppo", "a2c", "impala"}}
OFFLINE_ONLY = ("--dataset", "--dataset-root", "--curriculum", "--pcgrad", "--held-out", "--net.d-model",
                "--net.context", "--warmup-steps", "--weight-decay")
ONLINE_ONLY = ("--source", "--loss", "--rollout-steps", "--net.arch", "--net.width", "--ie-kd", "--kd-control",
               "--teacher-eps", "--eer-coef", "--ppo.", "--online.")
HELP_CASES = ([("train", a) for a in ("ppo", "a2c", "dqn", "pqn", "impala", "dt")]
              + [("kickstart", a) for a in ("ppo", "a2c", "impala")] + [("distill", None), ("distill", "offline")])


def _help(capsys, *argv) -> list[str]:
    with pytest.raises(SystemExit) as e:
        main(list(argv))
    assert e.value.code == 0
    out = capsys.readouterr().out
    return [line.split()[0].rstrip(",") for line in out.splitlines() if line.startswith("  --")]


def _foreign(opt: str, algo: str) -> bool:
    sec = opt[2:].split(".", 1)[0] if "." in opt else None
    if sec in SECTION_OWNERS:
        return algo not in SECTION_OWNERS[sec]
    return opt in FLAG_OWNERS and algo not in FLAG_OWNERS[opt]


@pytest.mark.parametrize("command, algo", HELP_CASES, ids=[f"{c}-{a}" for c, a in HELP_CASES])
def test_help_per_algorithm_lists_no_foreign_option(capsys, command, algo):
    if command == "distill":
        opts = _help(capsys, "distill", *(["--offline"] if algo == "offline" else []), "--help")
        foreign = ONLINE_ONLY if algo == "offline" else OFFLINE_ONLY
        assert not [o for o in opts if o.startswith(foreign)], opts
        assert ("--dataset" in opts) == (algo == "offline") and ("--source" in opts) == (algo is None)
        return
    opts = _help(capsys, command, "--algo", algo, "--help")
    assert len(opts) == len(set(opts))
    if algo == "dt":
        assert not [o for o in opts if o.startswith(("--ppo.", "--dqn.", "--pqn.", "--impala.", "--online",
                                                     "--intrinsic.", "--actors", "--rnd"))], opts
        assert "--dataset" in opts
        return
    assert not [o for o in opts if _foreign(o, algo)], [o for o in opts if _foreign(o, algo)]
    own = {"ppo": "--ppo.lr", "a2c": "--ppo.lr", "dqn": "--dqn.target-tau", "pqn": "--pqn.q-lambda",
           "impala": "--impala.lr"}[algo]
    assert own in opts and "--algo" in opts and "--net.arch" in opts
    if algo == "impala":
        assert "--actors" in opts and "--address" in opts


def test_kickstart_ppo_help_is_smaller_and_defaults_to_the_default_learner(capsys):
    ks = _help(capsys, "kickstart", "--algo", "ppo", "--help")
    assert not [o for o in ks if o.startswith("--impala.")] and len(ks) < 88  # 88 before: 21 of them --impala.*
    train = _help(capsys, "train", "--help")  # no --algo: the default learner's (ppo) options
    assert "--ppo.lr" in train and not [o for o in train if o.startswith(("--dqn.", "--pqn.", "--impala."))]
    assert len(train) < 114


def test_an_option_of_another_learner_is_a_one_line_error(capsys):
    with pytest.raises(SystemExit) as e:
        main(["train", "--dqn.lr", "0.1"])
    err = capsys.readouterr().err
    assert e.value.code == 2 and err.strip().splitlines() == [
        "distillrl train: error: --dqn.lr is an option of --algo dqn, not of ppo"]
    with pytest.raises(SystemExit):
        main(["kickstart", "--algo", "impala", "--teacher", "x", "--ppo.num-envs", "2"])
    assert "--ppo.num-envs is an option of --algo ppo or a2c, not of impala" in capsys.readouterr().err


def test_the_learner_of_a_saved_config_chooses_the_parser(tmp_path):
    from distillrl.runs.kinds import parse_command

    (tmp_path / "c.yaml").write_text("algo: dqn\n")
    k, ns = parse_command("train", ["--config", str(tmp_path / "c.yaml"), "--dqn.lr", "0.1"])
    assert k.name == "train" and getattr(ns, "dqn.lr") == "0.1"
    (tmp_path / "d.yaml").write_text("algo: dt\n")
    k, _ = parse_command("train", ["--config", str(tmp_path / "d.yaml")])
    assert k.config_cls() is DTConfig
    k, _ = parse_command("distill", ["--offline", "--teacher", "t"])
    assert k.config_cls() is OfflineDistillConfig
    k, _ = parse_command("distill", ["--offline", "false", "--teacher", "t"])
    assert k.config_cls() is DistillConfig
    with pytest.raises(ConfigError, match="--ppo.lr is an option of --algo ppo or a2c, not of dqn"):
        parse_command("train", ["--config", str(tmp_path / "c.yaml"), "--ppo.lr", "0.1"], raising=True)


# --------------------------------------------------------------------------- live hyper-parameters


@pytest.fixture
def no_trainers(monkeypatch):
    """Building any trainer, or loading any teacher, fails."""
    def refuse(*a, **k):
        raise AssertionError("a trainer was built")

    monkeypatch.setattr(EnvTrainer, "__init__", refuse)
    monkeypatch.setattr(OfflineTrainer, "__init__", refuse)
    import distillrl.teachers.load as load

    monkeypatch.setattr(load, "load_teacher", refuse)
    monkeypatch.setattr(load, "load_task_teacher", refuse)


def test_pbt_lists_live_hyperparameters_without_building_a_trainer(no_trainers):
    from distillrl.scale.pbt import resolve

    def exp(command, config, priors):
        return pbt_config_from_dict({"command": command, "population": 2, "config": config,
                                     "priors": {n: {"min": lo, "max": hi} for n, (lo, hi) in priors.items()}})

    base, d = resolve(exp("train", {"env": "gym:CartPole-v1"}, {"lr": (1e-4, 1e-3), "clip_coef": (0.1, 0.3)}))
    assert list(d) == ["lr", "ent_coef", "vf_coef", "max_grad_norm", "gamma", "gae_lambda", "clip_coef"]
    assert d["lr"] == base.ppo.lr
    _, d = resolve(exp("train", {"algo": "dqn"}, {"target_tau": (0.1, 1.0)}))
    assert "target_tau" in d and "tau" not in d
    _, d = resolve(exp("kickstart", {"env": "minatar:all", "teacher": ["zoo"], "ppo": {"num_envs": 40}},
                       {"lambda_4": (0.01, 1.0)}))
    assert [n for n in d if n.startswith("lambda")] == ["lambda_shared"] + [f"lambda_{k}" for k in range(5)]
    _, d = resolve(exp("distill", {"env": "gym:CartPole-v1", "teacher": "cartpole"}, {"tau": (0.5, 2.0)}))
    assert list(d) == ["lr", "tau", "max_grad_norm"] and d["tau"] is None  # the teacher's own, decided later
    with pytest.raises(ConfigError) as e:  # a name the trainer does not have: one line, before anything runs
        resolve(exp("train", {"algo": "a2c"}, {"clip_coef": (0.1, 0.3)}))
    assert "unknown hyper-parameter 'clip_coef' for a train trainer" in str(e.value) and "\n" not in str(e.value)
    with pytest.raises(ConfigError, match="hyper-parameter gamma must be"):  # a prior outside the domain
        resolve(exp("train", {}, {"gamma": (0.9, 1.5)}))
    from distillrl.errors import EnvError

    with pytest.raises(EnvError):  # an unknown environment, before anything runs
        resolve(exp("train", {"env": "minatar:pong"}, {"lr": (1e-4, 1e-3)}))


@pytest.mark.parametrize("algo", ["ppo", "a2c", "dqn", "pqn"])
def test_the_static_listing_is_what_the_trainer_declares(algo):
    from distillrl.algos import make_trainer
    from distillrl.models.nets import NetConfig

    cfg = TrainConfig(algo=algo, steps=64, net=NetConfig(hidden=(8,)), eval_episodes=0)
    cfg.ppo.num_envs = cfg.pqn.num_envs = 2
    cfg.pqn.num_minibatches = 2
    tr = make_trainer(cfg)
    try:
        live = train_live_hparams(cfg)
        assert tr.hp.names() == list(live) and tr.hp.as_dict() == {n: lv.value for n, lv in live.items()}
    finally:
        tr.close()


# --------------------------------------------------------------------------- the tau rename


def test_an_old_dqn_config_with_tau_loads_as_target_tau():
    cfg = from_dict(TrainConfig, {"algo": "dqn", "dqn": {"tau": 0.5}})
    assert cfg.dqn.target_tau == 0.5 and not hasattr(cfg.dqn, "tau")
    assert from_dict(TrainConfig, {"dqn": {"target-tau": 0.25}}).dqn.target_tau == 0.25
    with pytest.raises(ConfigError, match="old name of 'target_tau'"):
        from_dict(TrainConfig, {"dqn": {"tau": 0.5, "target_tau": 0.5}})
    with pytest.raises(ConfigError, match=r"--dqn.target-tau must be \(0, 1\]"):
        validate(from_dict(TrainConfig, {"dqn": {"tau": 0.0}}))
    # the teacher temperature keeps its name
    assert from_dict(DistillConfig, {"tau": 0.5}).tau == 0.5 and from_dict(KickstartConfig, {"tau": 2}).tau == 2.0


def test_a_pre_restructure_dqn_run_loads_and_resumes_with_its_tau(tmp_path):
    from distillrl.core import checkpoint
    from distillrl.runs.kinds import build_config, kind, run_job
    from distillrl.runs.rundir import CKPT

    run = tmp_path / "train-dqn"
    shutil.copytree(FIXTURES / "train-dqn", run)
    state, meta = checkpoint.load(run / CKPT)
    assert "tau" in state["hparams"] and "tau" in meta["config"]["dqn"]  # written before the rename
    k = kind("train")
    cfg = build_config(k, run_dir=run, resume=True)
    assert cfg.algo == "dqn" and cfg.dqn.target_tau == 1.0
    # an old checkpoint's hyper-parameter "tau" is the trainer's target_tau
    from distillrl.algos import make_trainer

    tr = make_trainer(cfg)
    try:
        state["hparams"]["tau"] = 0.5
        tr.load_state_dict(state)
        assert tr.hp["target_tau"] == 0.5 and "tau" not in tr.hp
        tr.set_hparams(tau=0.25)  # a PBT experiment that tuned "tau" on a DQN
        assert tr.hp["target_tau"] == 0.25
    finally:
        tr.close()
    cfg = build_config(k, run_dir=run, resume=True)
    summary = run_job(k, dataclasses.replace(cfg, steps=cfg.steps + 200), run, resume=True, progress=False)
    assert summary["steps"] >= cfg.steps + 200
    _, meta = checkpoint.load(run / CKPT)  # the new checkpoint says target_tau; config.yaml stays as written
    assert meta["config"]["dqn"]["target_tau"] == 1.0 and "tau" not in meta["config"]["dqn"]
    assert meta["frames"] >= cfg.steps + 200 and "tau" in C.load_yaml(run / "config.yaml")["dqn"]


def test_an_old_dqn_pbt_experiment_that_tuned_tau_resolves(no_trainers):
    from distillrl.scale.pbt import resolve

    cfg = pbt_config_from_dict({"command": "train", "population": 2, "config": {"algo": "dqn", "dqn": {"tau": 0.5}},
                                "priors": {"tau": {"min": 0.1, "max": 1.0}}})
    base, defaults = resolve(cfg)
    assert list(cfg.priors) == ["target_tau"] and defaults["target_tau"] == 0.5 == base.dqn.target_tau
    from distillrl.scale.population import explore
    import numpy as np

    new, _ = explore({"target_tau": 0.5}, cfg.priors, np.random.default_rng(0))
    assert set(new) == {"target_tau"}


@pytest.mark.parametrize("run", ["train-ppo", "train-dqn", "kickstart", "distill"])
def test_every_pre_restructure_run_directory_loads_its_config_and_continues(run, tmp_path):
    """The configs written before the restructure (docstring era, DQN's ``tau``) load through the
    declared configuration, and the run's checkpoint restores into the trainer they build."""
    from distillrl.runs.kinds import build_config, command_kind
    from distillrl.runs.rundir import restore

    d = tmp_path / run
    shutil.copytree(FIXTURES / run, d)
    k, _ = command_kind(run.split("-")[0], ["--resume", "--run-dir", str(d)])
    cfg = build_config(k, run_dir=d, resume=True)
    tr = k.factory(cfg)
    try:
        assert restore(tr, d) and tr.frames > 0
        frames = tr.frames
        tr.advance(tr.log_every)
        assert tr.frames > frames
    finally:
        tr.close()
