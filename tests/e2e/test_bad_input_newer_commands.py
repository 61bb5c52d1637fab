"""Bad input to the commands added last (pbt, sweep, codistill, dataset, offline distillation, DT,
IMPALA, multi-task): a clear one-line error, a non-zero exit, no traceback, no half-made run
directory, nothing existing changed."""

import json
import shutil

import pytest

PBT_OK = ("command: train\npopulation: 2\nconfig: {env: 'gym:CartPole-v1', steps: 2000}\n"
          "pbt: {interval: 1000}\npriors: {lr: {min: 1.0e-4, max: 1.0e-3, log: true}}\n")
PBT_BAD = {
    "malformed": ("command: train\npopulation: [2\n", "bad YAML"),
    "unknown key": (PBT_OK + "populaton: 4\n", "populaton"),
    "empty prior": (PBT_OK.replace("{lr: {min: 1.0e-4, max: 1.0e-3, log: true}}", "{lr: }"), "priors.lr"),
    "negative log prior": (PBT_OK.replace("min: 1.0e-4", "min: -1.0"), "log prior needs min > 0"),
    "reversed prior": (PBT_OK.replace("min: 1.0e-4, max: 1.0e-3", "min: 1.0e-3, max: 1.0e-4"), "prior min"),
    "too small": (PBT_OK.replace("population: 2", "population: 1"), "population must be ≥ 2"),
    "foreign hparam": (PBT_OK.replace("{lr:", "{target_tau:"), "unknown hyper-parameter 'target_tau'"),
    "no priors": (PBT_OK.split("priors:")[0], "at least one tuned hyper-parameter"),
    "bad command": (PBT_OK.replace("command: train", "command: fly"), "command"),
}


def one_line_failure(p, says: str) -> None:
    err = p.stderr.strip()
    assert p.returncode != 0, p.stdout[-500:]
    assert "Traceback" not in err, err[-3000:]
    assert len(err.splitlines()) == 1, err[-3000:]
    assert says.lower() in err.lower(), err


@pytest.mark.parametrize("case", sorted(PBT_BAD))
def test_pbt_bad_experiment_files(cli, tmp_path, case):
    text, says = PBT_BAD[case]
    (tmp_path / "exp.yaml").write_text(text)
    p = cli("pbt", "--config", tmp_path / "exp.yaml", "--run-dir", tmp_path / "exp")
    one_line_failure(p, says)
    assert not (tmp_path / "exp").exists()


def test_pbt_missing_file_and_resume_without_a_population(cli, tmp_path):
    one_line_failure(cli("pbt", "--config", tmp_path / "nope.yaml", "--run-dir", tmp_path / "exp"), "nope.yaml")
    (tmp_path / "plain").mkdir()
    (tmp_path / "plain" / "keep.txt").write_text("mine")
    (tmp_path / "exp.yaml").write_text(PBT_OK)
    p = cli("pbt", "--config", tmp_path / "exp.yaml", "--run-dir", tmp_path / "plain", "--resume")
    one_line_failure(p, "no PBT experiment")
    assert [x.name for x in (tmp_path / "plain").iterdir()] == ["keep.txt"]


@pytest.mark.parametrize("args, says", [
    (["--seeds", "3-1", "--", "train"], "end before start"),
    (["--seeds", "a-b", "--", "train"], "--seeds"),
    (["--seeds", "1-2", "--grid", "warp=1,2", "--", "train", "--steps", "64"], "--warp"),
    (["--seeds", "1-2", "--grid", "lr", "--", "train"], "--grid"),
    (["--seeds", "1-2", "--"], "name the command"),
    (["--seeds", "1-2", "--", "train", "--ppo.lr", "-1"], "--ppo.lr must be > 0"),
    (["--seeds", "1-2", "--", "train", "--env", "gym:CartPole-v1?view=agent"], "unknown environment option"),
    (["--seeds", "1-2", "--", "kickstart", "--env", "minatar:breakout"], "--teacher is required"),
], ids=lambda x: " ".join(x) if isinstance(x, list) else x)
def test_sweep_bad_input(cli, tmp_path, args, says):
    p = cli("sweep", "--run-dir", tmp_path / "sw", *args)
    one_line_failure(p, says)
    assert not (tmp_path / "sw").exists()


@pytest.mark.parametrize("args, says", [
    (["--peers", "1"], "--peers must be ≥ 2"),
    (["--psi", "-1"], "--psi must be ≥ 0"),
    (["--exchange-every", "0"], "--exchange-every must be ≥ 1"),
    (["--algo", "dqn"], "ppo, a2c"),
    (["--env", "minatar:breakout?view=agent"], "unknown environment option"),
])
def test_codistill_bad_input(cli, tmp_path, args, says):
    p = cli("codistill", "--env", "minatar:breakout", "--steps", "256", "--run-dir", tmp_path / "c", *args)
    one_line_failure(p, says)
    assert not (tmp_path / "c").exists()


@pytest.mark.parametrize("args, says", [
    (["dataset", "--teacher", "no-such-teacher", "--episodes", "1"], "no-such-teacher"),
    (["dataset", "--teacher", "cartpole", "--episodes", "0"], "--episodes must be ≥ 1"),
    (["dataset", "--teacher", "cartpole", "--episodes", "1", "--epsilon", "1.5"], "--epsilon must be in [0, 1]"),
    (["dataset", "--teacher", "cartpole", "--episodes", "1", "--epsilon", "-0.1"], "--epsilon must be in [0, 1]"),
    (["dataset", "--teacher", "cartpole", "--env", "minatar:breakout", "--episodes", "1"], "cartpole"),
    (["train", "--algo", "dt", "--dataset", "distillrl/nope-v0", "--steps", "4"], "no dataset distillrl/nope-v0"),
    (["train", "--algo", "dt", "--steps", "4"], "--dataset"),
    (["distill", "--offline", "--teacher", "runs/no-such-dt", "--curriculum", "nope"], "--curriculum"),
    (["distill", "--offline", "--teacher", "runs/no-such-dt"], "no-such-dt"),
])
def test_offline_bad_input(cli, tmp_path, args, says):
    extra = ["--root", tmp_path / "data"] if args[0] == "dataset" else ["--run-dir", tmp_path / "r"]
    if args[0] != "dataset":
        extra += ["--dataset-root", tmp_path / "data"]
    p = cli(*args, *extra)
    one_line_failure(p, says)
    assert not (tmp_path / "r").exists() and not (tmp_path / "data").exists()


@pytest.mark.parametrize("args, says", [
    (["--actors", "-1"], "--actors must be ≥ 0"),
    (["--impala.rho-bar", "0"], "--impala.rho-bar must be > 0"),
    (["--impala.c-bar", "-1"], "--impala.c-bar must be > 0"),
    (["--address", "127.0.0.1:1"], "127.0.0.1:1"),
])
def test_impala_bad_input(cli, tmp_path, args, says):
    p = cli("train", "--algo", "impala", "--env", "minatar:breakout", "--steps", "640", "--run-dir", tmp_path / "r",
            *args, timeout=60)
    one_line_failure(p, says)
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize("args, says", [
    (["distill", "--env", "minatar:breakout,minatar:asterix", "--teacher", "minatar:seaquest=minatar-seaquest"],
     "minatar:seaquest"),
    (["kickstart", "--env", "minatar:breakout,minatar:asterix", "--teacher", "minatar:freeway=minatar-freeway"],
     "minatar:freeway"),
    (["train", "--env", "minatar:breakout?view=agent"], "unknown environment option 'view'"),
    (["train", "--env", "minigrid:MiniGrid-DoorKey-5x5-v0?view=sideways"], "view must be one of"),
    (["train", "--env", "gym:CartPole-v1?colour=red"], "unknown environment option 'colour'"),
])
def test_multitask_and_env_option_bad_input(cli, tmp_path, args, says):
    p = cli(*args, "--steps", "64", "--run-dir", tmp_path / "r")
    one_line_failure(p, says)
    assert not (tmp_path / "r").exists()


def test_a_failed_start_does_not_block_the_corrected_command(cli, tmp_path):
    r = tmp_path / "r"
    one_line_failure(cli("train", "--algo", "impala", "--env", "minatar:breakout", "--address", "127.0.0.1:1",
                         "--run-dir", r), "127.0.0.1:1")
    p = cli("train", "--env", "gym:CartPole-v1", "--steps", "256", "--eval-episodes", "1", "--run-dir", r, "--json",
            "--no-progress")
    assert p.returncode == 0, p.stderr[-2000:]


@pytest.fixture(scope="module")
def small_dataset(tmp_path_factory):
    from distillrl.datasets.writer import write_dataset

    root = tmp_path_factory.mktemp("data")
    write_dataset("cartpole", None, 2, "distillrl/cp-v0", root)
    return root


@pytest.mark.parametrize("damage", ["truncated arrow", "overwritten arrow", "damaged metadata", "missing metadata"])
def test_a_damaged_dataset_is_named_damaged(cli, tmp_path, small_dataset, damage):
    root = tmp_path / "data"
    shutil.copytree(small_dataset, root)
    d = root / "distillrl" / "cp-v0" / "data"
    arrow = next(d.rglob("*.arrow")) if any(d.rglob("*.arrow")) else None
    if damage == "truncated arrow":
        arrow.write_bytes(arrow.read_bytes()[: arrow.stat().st_size // 3])
    elif damage == "overwritten arrow":
        arrow.write_bytes(b"not arrow at all" * 10)
    elif damage == "damaged metadata":
        (d / "metadata.json").write_text("{ this is not json")
    else:
        (d / "metadata.json").unlink()
    p = cli("train", "--algo", "dt", "--dataset", "distillrl/cp-v0", "--dataset-root", root, "--steps", "4",
            "--run-dir", tmp_path / "r")
    one_line_failure(p, "damaged")
    assert not (tmp_path / "r").exists()
