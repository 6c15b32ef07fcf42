import pytest

from garage.action_space import simple_actions
from simulator.spec import ActionSpaceError, round_value


def test_it_builds_the_original_deepracer_grid():
    actions = simple_actions(30, 5, 1.0, 2)
    assert len(actions) == 10
    assert [a["steering_angle"] for a in actions[::2]] == [-30.0, -15.0, 0.0, 15.0, 30.0]
    assert [a["speed"] for a in actions[:2]] == [0.5, 1.0]
    assert [a["index"] for a in actions] == list(range(10))


def test_it_spaces_speeds_from_max_over_granularity_to_max():
    actions = simple_actions(20, 3, 3.0, 3)
    assert sorted({a["speed"] for a in actions}) == [1.0, 2.0, 3.0]
    assert sorted({a["steering_angle"] for a in actions}) == [-20.0, 0.0, 20.0]


def test_it_rounds_half_up_like_the_browser():
    assert round_value(0.125) == 0.13
    assert round_value(-8.333333) == -8.33
    assert simple_actions(25, 7, 1.0, 1)[1]["steering_angle"] == -16.67


@pytest.mark.parametrize(("args", "field"), [
    ((0.5, 5, 1.0, 2), "max_steering"),
    ((31, 5, 1.0, 2), "max_steering"),
    ((30, 4, 1.0, 2), "steering_granularity"),
    ((30, 5, 4.5, 2), "max_speed"),
    ((30, 5, 1.0, 4), "speed_granularity"),
    ((30, 5, "fast", 2), "max_speed"),
    ((30, 5, float("nan"), 2), "max_speed"),
    ((30, 5, 0.2, 3), "max_speed"),  # the slowest action would be 0.07 m/s
])
def test_it_refuses_simple_values_outside_spec_ranges(args, field):
    with pytest.raises(ActionSpaceError) as error:
        simple_actions(*args)
    assert field in error.value.errors


def test_it_needs_no_django():
    import subprocess
    import sys

    code = "import sys, garage.action_space; assert not any(m.startswith('django') for m in sys.modules)"
    subprocess.run([sys.executable, "-c", code], check=True)
