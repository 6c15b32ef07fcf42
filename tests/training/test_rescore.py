"""Re-scoring recorded steps (training/rescore.py): the params each row stands for, whole episodes only,
the prepare rows left at 0, in the sandbox."""

import math

import numpy as np
import pytest

from simulator.tracks import get_track
from tests.training.test_analysis import ITERATION_0, ITERATION_1, write_trace
from training import analysis, rescore


@pytest.fixture
def track():
    return get_track("oval")


def steps_on(track, tmp_path):
    """The hand-made traces, moved onto the oval's centre line (row i at 0.2 m * i along it)."""
    write_trace(tmp_path / "training-simtrace" / "0-iteration.csv", ITERATION_0)
    write_trace(tmp_path / "training-simtrace" / "1-iteration.csv", ITERATION_1)
    steps = analysis.ModelLogs(tmp_path).training()
    poses = np.array([track.pose_at(0.2 * i) for i in range(len(steps))])
    return analysis.Steps({**steps.columns, "x": poses[:, 0], "y": poses[:, 1], "yaw": np.degrees(poses[:, 2])})


def test_it_rebuilds_the_params_of_each_row(track, tmp_path):
    steps = steps_on(track, tmp_path)
    params = rescore.trace_params(steps, track)
    assert len(params) == 10
    first, off = params[1], params[2]
    assert first["x"] == pytest.approx(steps.x[1], abs=1e-9) and first["y"] == pytest.approx(steps.y[1], abs=1e-9)
    assert first["heading"] == pytest.approx(steps.yaw[1]) and first["steering_angle"] == 10.0
    assert (first["progress"], first["steps"], first["speed"]) == (5.0, 2, 1.0)
    assert first["distance_from_center"] == pytest.approx(0, abs=1e-6) and first["all_wheels_on_track"]
    assert off["is_offtrack"] is True and params[1]["is_offtrack"] is False
    assert math.isclose(first["track_length"], track.length) and first["objects_location"] == []


def test_it_scores_whole_episodes_up_to_the_limit(track, tmp_path):
    steps = steps_on(track, tmp_path)
    assert len(rescore.whole_episodes(steps, 8)) == 7      # episodes of 3 and 4 rows fit, the next does not
    assert len(rescore.whole_episodes(steps, 2)) == 3      # at least one episode
    assert len(rescore.whole_episodes(steps, 100)) == 10


def test_it_leaves_the_prepare_rows_at_zero(track, tmp_path):
    result = rescore.rescore("def reward_function(params):\n    return float(params['steps'])\n",
                             steps_on(track, tmp_path), track, limit=8)
    # Episode 0: steps 2 + 3 (step 1 is the prepare row); episode 1: 2 + 3 + 4.
    assert result["episodes"]["rescored"] == [5.0, 9.0] and result["truncated"] and result["steps"] == 7
