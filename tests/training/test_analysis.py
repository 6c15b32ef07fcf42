"""Log analysis (training/analysis.py) on small hand-made sim-traces, against values worked out by hand,
and on the real deepracer-for-cloud folder in ../shared."""

import os
from pathlib import Path

import numpy as np
import pytest

from simulator.tracks import get_track, load_npy
from training import analysis
from training.artifacts import SIMTRACE_COLUMNS, read_model_metadata

SHARED = Path(__file__).resolve().parents[2] / ".." / "shared"
DRFC = SHARED / "deepracer-logs" / "sample-drfc-1-logs"
REINVENT = SHARED / "tracks" / "reinvent_base.npy"
HEADER = ",".join(SIMTRACE_COLUMNS)


def row(episode, steps, x, y, *, reward=1.0, progress=0.0, tstamp=0.0, status="in_progress", steer=0.0,
        throttle=1.0, action=0, wall_clock=1000.0):
    done = status in ("lap_complete", "off_track", "crashed")
    values = [episode, steps, x, y, 0.0, steer, throttle, action, reward, done, True, progress, 0, 17.6, tstamp,
              status, 0.0, 0, wall_clock]
    return ",".join(str(value) for value in values)


# Iteration 0: episode 0 leaves the track after 3 rows (rewards 0 + 1 + 2 = 3, progress 10); episode 1 is a
# complete lap of 4 rows, 3 s (rewards 0 + 2 + 2 + 2 = 6). Iteration 1: one complete lap of 2 s.
ITERATION_0 = [
    row(0, 1, 0.0, 0.0, reward=0, progress=0, tstamp=0.0, status="prepare", wall_clock=1000.0),
    row(0, 2, 1.0, 0.0, reward=1, progress=5, tstamp=0.5, steer=10, action=1, wall_clock=1000.5),
    row(0, 3, 2.0, 0.0, reward=2, progress=10, tstamp=1.0, status="off_track", steer=10, action=1,
        wall_clock=1001.0),
    row(1, 1, 0.0, 1.0, reward=0, progress=0, tstamp=0.0, status="prepare", wall_clock=1001.0),
    row(1, 2, 1.0, 1.0, reward=2, progress=40, tstamp=1.0, throttle=2.0, action=2, wall_clock=1002.0),
    row(1, 3, 2.0, 1.0, reward=2, progress=80, tstamp=2.0, throttle=2.0, action=2, wall_clock=1003.0),
    row(1, 4, 3.0, 1.0, reward=2, progress=100, tstamp=3.0, status="lap_complete", throttle=2.0, action=2,
        wall_clock=1004.0),
]
ITERATION_1 = [
    row(0, 1, 0.0, 0.0, reward=0, progress=0, tstamp=10.0, status="prepare", wall_clock=2000.0),
    row(0, 2, 1.0, 0.0, reward=5, progress=50, tstamp=11.0, action=0, wall_clock=2001.0),
    row(0, 3, 2.0, 0.0, reward=5, progress=100, tstamp=12.0, status="lap_complete", action=0, wall_clock=2002.0),
]


def write_trace(path: Path, rows) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join([HEADER, *rows]) + "\n")
    return path


@pytest.fixture
def model_dir(tmp_path):
    folder = tmp_path / "model"
    write_trace(folder / "training-simtrace" / "0-iteration.csv", ITERATION_0)
    write_trace(folder / "training-simtrace" / "1-iteration.csv", ITERATION_1)
    write_trace(folder / "evaluation-20260101120000" / "evaluation-simtrace" / "0-iteration.csv", ITERATION_1)
    return folder


@pytest.fixture
def steps(model_dir, tmp_path):
    return analysis.ModelLogs(model_dir, tmp_path / "cache").training()


def test_it_reads_every_iteration_in_order(steps):
    assert len(steps) == 10
    assert steps.iteration.tolist() == [0] * 7 + [1] * 3
    assert steps.status[2] == analysis.OFF_TRACK and steps.status[6] == analysis.LAP_COMPLETE


def test_it_summarises_each_iteration_by_hand(steps):
    summary = analysis.iteration_summary(steps, [
        {"iteration": 2, "losses/policy_loss": 0.5, "losses/entropy": 2.0},   # the job counts from 1
        {"iteration": 1, "losses/policy_loss": 0.75, "losses/entropy": 2.5},
    ])
    assert summary["iteration"] == [0, 1]
    assert summary["episodes"] == [2, 1]
    assert summary["mean_reward"] == [4.5, 10.0]
    assert summary["mean_progress"] == [55.0, 100.0]
    assert summary["completion_rate"] == [50.0, 100.0]
    # 20/40/60/80th percentiles of progress 10 and 100 (linear): 10 + 0.2 * 90, ...
    assert summary["progress_quintiles"][0] == [28.0, 46.0, 64.0, 82.0]
    assert summary["reward_quintiles"][0] == [3.6, 4.2, 4.8, 5.4]
    assert summary["best_lap_time"] == [3.0, 2.0] and summary["mean_lap_time"] == [3.0, 2.0]
    # 7 rows over 4 s of wall clock; 3 rows over 2 s.
    assert summary["steps_per_second"] == [1.75, 1.5]
    assert summary["losses"] == {"iteration": [0, 1], "losses/entropy": [2.5, 2.0],
                                 "losses/policy_loss": [0.75, 0.5]}


def test_it_times_the_sectors_between_steps():
    # Progress 0, 40, 80, 100 at t = 0, 1, 2, 3: a third (33.3%) at 0.833 s, two thirds at 1.667 s.
    times = analysis.sector_times(np.array([0, 40, 80, 100.0]), np.array([0, 1, 2, 3.0]), 3)
    assert times == pytest.approx([0.8333, 0.8333, 1.3333], abs=1e-4)
    assert analysis.sector_times(np.array([0, 50.0]), np.array([0, 1.0]), 2) == [None, None]


def test_it_lists_complete_laps_fastest_first(steps):
    result = analysis.laps(steps)
    assert [(lap["iteration"], lap["time"]) for lap in result["laps"]] == [(1, 2.0), (0, 3.0)]
    lap = result["laps"][0]
    assert lap["x"] == [0.0, 1.0, 2.0] and lap["sectors"] == pytest.approx([0.6667, 0.6667, 0.6667], abs=1e-4)
    # Measured speed: 1 m per 1 s of sim clock (0 on the first row).
    assert lap["speed"] == [0.0, 1.0, 1.0]
    assert result["total_episodes"] == 3


def test_it_finds_where_episodes_leave_the_track(steps):
    result = analysis.exits(steps)
    assert result["off_track"]["x"] == [2.0] and result["off_track"]["y"] == [0.0]
    assert result["off_track"]["iteration"] == [0] and result["crashed"]["x"] == []


def test_it_bins_visits_and_averages_per_cell():
    track = get_track("oval")
    # Points at a cell's centre (the grid starts 0.5 m outside the track's bounds, in 5 cm cells).
    x0, y0 = track.bounds[0] - 0.5 + 0.025 + 0.05 * 10, track.bounds[1] - 0.5 + 0.025 + 0.05 * 10
    columns = {name: np.array(values) for name, values in {
        "iteration": [0, 0, 0], "episode": [0, 0, 0], "steps": [1, 2, 3],
        "x": [x0, x0 + 0.01, x0 + 1.0], "y": [y0, y0, y0], "yaw": [0.0] * 3, "steer": [10.0, 20.0, -30.0],
        "throttle": [1.0] * 3, "action": [0, 0, 0], "reward": [1.0, 3.0, 7.0], "progress": [0.0, 1, 2],
        "tstamp": [0.0, 1 / 15, 2 / 15], "wall_clock": [np.nan] * 3, "status": [0, 1, 1],
        "all_wheels_on_track": [True] * 3, "closest_waypoint": [0, 0, 0]}.items()}
    steps = analysis.Steps(columns)
    visits = analysis.heatmap(steps, track, "visits", cell=0.05)
    values = [value for line in visits["z"] for value in line if value is not None]
    assert sorted(values) == [1.0, 2.0]
    reward = analysis.heatmap(steps, track, "reward", cell=0.05)
    assert sorted(v for line in reward["z"] for v in line if v is not None) == [2.0, 7.0]   # (1 + 3) / 2
    steering = analysis.heatmap(steps, track, "steering", cell=0.05)
    assert sorted(v for line in steering["z"] for v in line if v is not None) == [-30.0, 15.0]
    with pytest.raises(analysis.AnalysisError):
        analysis.heatmap(steps, track, "colour")


def test_it_counts_actions_per_track_section(steps):
    track = get_track("oval")
    metadata = {"action_space_type": "discrete",
                "action_space": [{"steering_angle": 0, "speed": 1}, {"steering_angle": 10, "speed": 1},
                                 {"steering_angle": 0, "speed": 2}]}
    result = analysis.actions(steps, track, metadata)
    # The prepare rows choose nothing: actions 1, 1 (episode 0), 2, 2, 2 (episode 1), 0, 0 (iteration 1).
    assert result["overall"] == [2, 2, 3]
    assert sum(sum(counts) for counts in result["sections"].values()) == 7
    assert result["labels"][1] == "1: 10° 1 m/s"
    assert result["by_iteration"]["iteration"] == [0, 1]
    assert sum(result["by_iteration"]["steering"]["percent"][0]) == pytest.approx(100, abs=0.1)


def test_it_tells_straights_from_turns():
    track = get_track("oval")
    kinds = analysis.section_types(track)
    assert {"straight", "left"} <= set(kinds) and "right" not in set(kinds)   # counter-clockwise oval
    assert set(analysis.section_types(track.reversed())) >= {"straight", "right"}


def test_it_plays_one_episode_with_its_params(steps):
    track = get_track("oval")
    episode = analysis.episode_steps(steps, track, 0, 1)
    assert episode["steps"] == [1, 2, 3, 4] and episode["reward"] == [0.0, 2.0, 2.0, 2.0]
    assert episode["status"][-1] == "lap_complete" and episode["speed"][1] == 2.0
    assert len(episode["distance_from_center"]) == 4
    with pytest.raises(analysis.AnalysisError):
        analysis.episode_steps(steps, track, 0, 7)


def test_it_reads_evaluations(model_dir, tmp_path):
    logs = analysis.ModelLogs(model_dir, tmp_path / "cache")
    assert logs.evaluations() == ["20260101120000"]
    paths = analysis.paths(logs.evaluation("20260101120000"))
    assert [(path["status"], path["time"]) for path in paths] == [("lap_complete", 2.0)]
    with pytest.raises(analysis.AnalysisError):
        logs.evaluation("20990101000000")


def test_it_caches_each_trace_until_it_changes(model_dir, tmp_path):
    cache = tmp_path / "cache"
    logs = analysis.ModelLogs(model_dir, cache)
    first = logs.training()
    assert len(list(cache.glob("*.npz"))) == 2
    again = logs.training()
    assert all(np.array_equal(first.columns[name], again.columns[name], equal_nan=True) for name in analysis.COLUMNS)
    # A rewritten iteration (training resumed) is parsed again.
    path = write_trace(model_dir / "training-simtrace" / "1-iteration.csv", ITERATION_1[:2])
    os.utime(path, ns=(path.stat().st_mtime_ns + 10**9, path.stat().st_mtime_ns + 10**9))
    assert len(logs.training()) == 9


def test_it_refuses_a_file_that_is_no_sim_trace(tmp_path):
    path = tmp_path / "training-simtrace" / "0-iteration.csv"
    path.parent.mkdir()
    path.write_text("a,b\n1,2\n")
    with pytest.raises(analysis.AnalysisError, match="lacks the sim-trace columns"):
        analysis.ModelLogs(tmp_path).training()


def test_it_analyses_a_deepracer_for_cloud_folder(tmp_path):
    logs = analysis.ModelLogs(DRFC, tmp_path / "cache")
    steps = logs.training()
    track = load_npy(REINVENT, "reinvent_base")
    summary = analysis.iteration_summary(steps)
    assert summary["iteration"] == list(range(27)) and summary["episodes"][0] == 20
    assert all(rate is not None for rate in summary["steps_per_second"])   # from the sim clock
    assert analysis.laps(steps)["laps"], "the sample has complete laps"
    result = analysis.actions(steps, track, read_model_metadata(DRFC))
    assert len(result["overall"]) == 14 and sum(result["overall"]) > 30_000
    assert len(logs.evaluations()) == 3
    assert any(path["status"] == "lap_complete" for path in analysis.paths(logs.evaluation(logs.evaluations()[0])))


def test_it_histograms_a_continuous_action_space(tmp_path):
    rows = [row(0, 1, 0.0, 0.0, status="prepare", action="[0.0 1.0]"),
            row(0, 2, 1.0, 0.0, steer=-29.0, throttle=0.5, action="[-29.0 0.5]"),
            row(0, 3, 2.0, 0.0, steer=29.0, throttle=1.5, action="[29.0 1.5]", status="off_track")]
    write_trace(tmp_path / "training-simtrace" / "0-iteration.csv", rows)
    steps = analysis.ModelLogs(tmp_path).training()
    assert steps.action.tolist() == [-1, -1, -1]
    metadata = {"action_space_type": "continuous",
                "action_space": {"speed": {"low": 0.5, "high": 1.5}, "steering_angle": {"low": -30, "high": 30}}}
    result = analysis.actions(steps, get_track("oval"), metadata)
    steering = result["overall"]["steering"]
    assert sum(steering["counts"]) == 2 and steering["counts"][0] == 1 and steering["counts"][-1] == 1
    assert sum(result["overall"]["speed"]["counts"]) == 2 and "labels" not in result
