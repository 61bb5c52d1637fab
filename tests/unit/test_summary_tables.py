"""Human-readable summaries: scalars, then records as plain tables that keep full names."""

from distillrl.runs.rundir import format_summary, format_table


def test_records_print_as_a_table_with_full_names_and_nan_in_words():
    s = {"env": "minatar:breakout,minatar:space_invaders", "score_ratio": float("nan"), "best_hparams": {"lr": 0.001},
         "per_task": [{"name": "minatar:space_invaders", "student_return": 10.0, "score_ratio": float("nan"),
                       "student_returns": [1.0] * 30},
                      {"name": "minatar:breakout", "student_return": 3.25, "score_ratio": 0.5}]}
    text = format_summary(s)
    assert "{" not in text and "nan" not in text  # no raw dicts, no "nan"
    assert "score_ratio: n/a" in text and "best_hparams: lr=0.001" in text
    lines = text.splitlines()
    head = lines.index("per_task:") + 1
    assert lines[head].split() == ["name", "student_return", "score_ratio"]  # per-episode lists left out
    assert lines[head + 1].split() == ["minatar:space_invaders", "10", "n/a"]
    assert lines[head + 2].split() == ["minatar:breakout", "3.25", "0.5"]


def test_a_table_wider_than_the_page_becomes_one_block_per_row():
    rows = [{"name": "minigrid:MiniGrid-DoorKey-16x16-v0?view=agent", **{f"field_{i}": 1.0 for i in range(8)}}]
    text = format_table(rows, width=80)
    assert all(len(line) <= 80 for line in text.splitlines())
    assert "minigrid:MiniGrid-DoorKey-16x16-v0?view=agent" in text  # never cut


def test_piped_zoo_list_keeps_full_names_and_says_what_params_count(cli):
    p = cli("zoo", "list")  # stdout is a pipe here
    assert p.returncode == 0 and "…" not in p.stdout
    for name in ("minatar-space_invaders-pqn", "minigrid:MiniGrid-DoorKey-8x8-v0?view=agent"):
        assert name in p.stdout
    assert "acting params" in p.stdout and "all params" in p.stdout
    row = next(line for line in p.stdout.splitlines() if line.startswith("cartpole "))
    assert "4,610" in row and "9,155" in row  # acting (policy head) vs all (value head too)


def test_a_ratio_to_a_zero_score_is_said_in_words():
    from distillrl.core.stats import ratio_fields

    assert ratio_fields(3.0, 4.0) == {"score_ratio": 0.75}
    got = ratio_fields(3.0, 0.0)
    assert got["score_ratio"] is None and got["score_ratio_note"] == "no ratio: the teacher's score is 0"
    assert ratio_fields(1.0, float("nan"))["score_ratio"] is None


def test_group_labels_name_only_the_keys_that_shaped_the_group():
    from distillrl.report.runs import matters

    assert not matters("half_life", {"schedule": "linear", "half_life": 1e5})
    assert matters("half_life", {"schedule": "exp"}) and matters("decay_frames", {"schedule": "linear"})
    assert not matters("iekd.beta", {"ie_kd": False}) and matters("lr", {})
