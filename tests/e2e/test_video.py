"""--capture-video and eval --video: evaluation episodes as playable MP4 files (MinAtar and
MiniGrid render as images, enlarged to be watchable)."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("moviepy")
imageio = pytest.importorskip("imageio")

pytestmark = pytest.mark.slow


def frames(path):
    r = imageio.get_reader(str(path))
    out = [f.shape for f in r]
    return len(out), out[0], r.get_meta_data().get("fps")


def test_capture_video_records_the_evaluation_episodes(tmp_path, cli):
    run = tmp_path / "run"
    p = cli("train", "--env", "minatar:breakout", "--steps", "2048", "--eval-episodes", "2", "--capture-video",
            "--video-episodes", "2", "--run-dir", run, "--json", "--no-progress")
    s = json.loads(p.stdout.strip().splitlines()[-1])  # moviepy prints nothing into the summary line
    assert s["videos"] == ["videos/greedy-episode-0.mp4", "videos/greedy-episode-1.mp4"]
    n, shape, fps = frames(run / "videos/greedy-episode-0.mp4")
    assert shape == (160, 160, 3) and fps == 15 and n >= 2  # 10×10 cells enlarged 16×, the reset frame + steps


def test_eval_video_per_mode_and_minigrid(tmp_path, cli):
    out = tmp_path / "v"
    p = cli("eval", "minigrid-doorkey-8x8", "--episodes", "1", "--video", out, "--json")
    ev = json.loads(p.stdout.strip().splitlines()[-1])
    assert sorted(f.name for f in out.iterdir()) == ["greedy-episode-0.mp4", "sampled-episode-0.mp4"]
    n, shape, _ = frames(out / "sampled-episode-0.mp4")
    assert shape[0] >= 160 and n >= 2
    # the episodes are the evaluation's own: the same score as without --video
    plain = json.loads(cli("eval", "minigrid-doorkey-8x8", "--episodes", "1", "--json").stdout.strip().splitlines()[-1])
    assert ev["greedy_return"] == plain["greedy_return"] and ev["sampled_return"] == plain["sampled_return"]


def test_video_without_moviepy_is_one_clear_error(tmp_path, monkeypatch):
    import sys

    from distillrl.acting.evaluate import video_env
    from distillrl.errors import ConfigError

    monkeypatch.setitem(sys.modules, "moviepy", None)
    with pytest.raises(ConfigError, match=r"pip install 'distillrl\[video\]'"):
        video_env("gym:CartPole-v1", None, 0, tmp_path, "x")
