"""A PBT experiment written by the code before the package restructure (a population killed
at ≈ 4k of its 12k frames, kept as a fixture) resumes: Ray unpickles its old module names, the
members continue from their checkpoints where the experiment is now, and the population finishes."""

import csv
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "pre_restructure"


def _frames(member: Path) -> list[float]:
    with open(member / "metrics.csv") as f:
        return [float(r["frames"]) for r in csv.DictReader(f)]


@pytest.mark.slow
def test_a_pre_restructure_pbt_experiment_resumes_and_finishes(tmp_path):
    exp = tmp_path / "pbt"  # moved: not where it was started (/tmp/fxp/pbt)
    shutil.copytree(FIXTURE / "pbt", exp)
    (exp / "summary.json").unlink(missing_ok=True)
    before = {m.name: _frames(m) for m in sorted((exp / "members").iterdir())}
    lineage_before = (exp / "lineage.jsonl").read_text().count("\n")
    assert all(0 < f[-1] < 12_000 for f in before.values())
    exe = str(Path(sys.executable).with_name("distillrl"))
    p = subprocess.run([exe, "pbt", "--config", str(FIXTURE / "pbt.yaml"), "--run-dir", str(exp), "--resume",
                        "--json", "--no-progress"], capture_output=True, text=True, timeout=600,
                       env={**os.environ, "PYTHONHASHSEED": "0"})
    assert p.returncode == 0, p.stderr[-3000:]
    s = json.loads(p.stdout.strip().splitlines()[-1])
    assert s["members_finished"] == 2 and not s["errors"], s
    # the scheduler is this version's (not the one pickled by value in tuner.pkl), writing its
    # lineage where the experiment is now; donor checkpoints were found in the moved directory
    assert (exp / "lineage.jsonl").read_text().count("\n") > lineage_before
    assert not Path("/tmp/fxp").exists()
    for name, old in before.items():
        frames = _frames(exp / "members" / name)
        kept = next((i for i, (a, b) in enumerate(zip(frames, old)) if a != b), min(len(frames), len(old)))
        assert kept >= len(old) // 2  # continued from a checkpoint (rows after it are rewritten), not from 0
        assert frames[-1] >= 12_000  # and the member ran on to its budget
        assert frames == sorted(frames) and len(set(frames)) == len(frames)  # no restart, no duplicated rows
