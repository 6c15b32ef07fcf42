"""The reward editor's preview: a grid across the road through the sandbox, errors with their line."""

import numpy as np
import pytest

from simulator.reward.examples import EXAMPLES
from simulator.reward.preview import ACROSS, PreviewSettings, grid_params, preview
from simulator.tracks import get_track

STAY_LEFT = '''
def reward_function(params):
    return 1.0 if params["is_left_of_center"] else 0.1
'''


@pytest.fixture(scope="module")
def track():
    return get_track("quick_loop")


def across(result):
    """Mean reward of each position across the road, right border to left."""
    return np.array(result["reward"]).reshape(-1, ACROSS).mean(axis=0)


def test_it_builds_a_lap_ordered_grid_with_consistent_progress(track):
    params = grid_params(track, PreviewSettings(points=200, speed=2.0))
    assert len(params) == 200
    assert params[0]["steps"] == 1 and params[0]["progress"] == 0.0
    progress = [p["progress"] for p in params]
    assert progress == sorted(progress) and progress[-1] < 100
    # Steps: a car at 2 m/s covers 2/15 m per step.
    later = params[-1]
    assert later["steps"] == 1 + round(later["progress"] / 100 * track.length / (2.0 / 15))
    assert params[0]["is_left_of_center"] is False and params[ACROSS - 1]["is_left_of_center"] is True


def test_it_is_brightest_on_the_centre_line_for_the_centre_line_example(track):
    result = preview(EXAMPLES["follow_center_line"].code, track, PreviewSettings())
    assert result["points"] == 2000
    profile = across(result)
    assert profile.argmax() in (ACROSS // 2 - 1, ACROSS // 2) and profile[0] < profile.max()


def test_it_is_brightest_on_the_left_for_a_stay_left_function(track):
    profile = across(preview(STAY_LEFT, track, PreviewSettings(points=500)))
    assert profile[-1] == 1.0 and profile[0] == pytest.approx(0.1)


def test_it_turns_the_heading(track):
    code = "def reward_function(params):\n    return float(params['heading'])\n"
    straight = preview(code, track, PreviewSettings(points=100))
    turned = preview(code, track, PreviewSettings(points=100, heading_offset=90))
    assert (np.array(turned["reward"]) - np.array(straight["reward"]) + 360) % 360 == pytest.approx(90, abs=1e-6)


def test_it_reports_a_failure_at_its_line(track):
    result = preview("def reward_function(params):\n    return params['nope']\n", track, PreviewSettings(points=100))
    assert result["errors"][0]["line"] == 2 and "nope" in result["errors"][0]["message"]


def test_it_names_settings_out_of_range():
    assert set(PreviewSettings(points=10, speed=9, steering_angle=45, heading_offset=200).errors()) == {
        "points", "speed", "steering_angle", "heading_offset"}


def test_it_gives_up_when_the_function_spends_the_budget(track):
    from simulator.reward.preview import OverBudget, rewards_within_budget
    from simulator.reward.sandbox import RewardSandbox

    slow = "import time\n\ndef reward_function(params):\n    time.sleep(0.002)\n    return 1.0\n"
    params = grid_params(track, PreviewSettings(points=600))
    with RewardSandbox(slow) as sandbox:
        with pytest.raises(OverBudget, match="more than 0.1 s for 256 of 600 calls"):
            rewards_within_budget(sandbox, params, budget=0.1)
        assert len(rewards_within_budget(sandbox, params[:300], budget=30)) == 300
