"""The editor's examples: each validates clean everywhere and rewards what its title promises."""

import pytest

from simulator.reward.examples import DEFAULT_EXAMPLE, EXAMPLES, example_code, racing_line_code
from simulator.reward.validation import synthetic_states, validate_with_warnings
from simulator.tracks import BUILTIN_TRACKS, get_track

RACE_TYPES = {
    "time trial": None,
    "object avoidance": {"race_type": "OBJECT_AVOIDANCE", "object_count": 2, "randomize_objects": True},
    "head to bot": {"race_type": "HEAD_TO_BOT", "bot_count": 3, "bot_speed": 0.5, "bot_lane_changes": False},
}


def load(slug, track_slug="quick_loop"):
    """The example's function, run in-process: our own code, so the sandbox is not needed to test it."""
    namespace = {}
    exec(compile(example_code(slug, get_track(track_slug)), f"{slug}.py", "exec"), namespace)
    return namespace["reward_function"]


def normal_state(**changes):
    params = dict(dict(synthetic_states(get_track("quick_loop")))["normal"])
    params.update(changes)
    return params


def test_it_offers_the_spec_examples_with_the_centre_line_as_default():
    assert DEFAULT_EXAMPLE == "follow_center_line"
    assert {"follow_center_line", "stay_inside_borders", "prevent_zig_zag", "object_avoidance",
            "progress"} <= set(EXAMPLES)
    assert all(example.title and example.description for example in EXAMPLES.values())


@pytest.mark.parametrize("slug", EXAMPLES)
@pytest.mark.parametrize("track_slug", list(BUILTIN_TRACKS))
def test_it_validates_every_example_clean_on_every_track(slug, track_slug):
    track = get_track(track_slug)
    assert validate_with_warnings(example_code(slug, track), track) == ([], [])


@pytest.mark.parametrize("slug", EXAMPLES)
@pytest.mark.parametrize("race", ["object avoidance", "head to bot"])
def test_it_validates_every_example_clean_on_every_race_type(slug, race):
    track = get_track("quick_loop")
    assert validate_with_warnings(example_code(slug, track), track, RACE_TYPES[race]) == ([], [])


def test_following_the_centre_line_pays_more_near_it():
    reward = load("follow_center_line")
    width = normal_state()["track_width"]
    rewards = [reward(normal_state(distance_from_center=fraction * width)) for fraction in (0.05, 0.2, 0.4, 0.6)]
    assert rewards == sorted(rewards, reverse=True) and len(set(rewards)) == 4


def test_staying_inside_the_borders_pays_only_on_the_road():
    reward = load("stay_inside_borders")
    assert reward(normal_state()) == 1.0
    assert reward(normal_state(all_wheels_on_track=False)) < 0.01
    assert reward(normal_state(distance_from_center=0.49 * normal_state()["track_width"])) < 0.01


def test_preventing_zig_zag_penalizes_sharp_steering():
    reward = load("prevent_zig_zag")
    assert reward(normal_state(steering_angle=30.0)) < reward(normal_state(steering_angle=15.0))
    assert reward(normal_state(steering_angle=-30.0)) == reward(normal_state(steering_angle=30.0))


def test_object_avoidance_pays_for_keeping_away_from_the_object_ahead():
    reward = load("object_avoidance")
    track = get_track("quick_loop")
    states = dict(synthetic_states(track, {"race_type": "OBJECT_AVOIDANCE",
                                           "object_positions": [[0.27, "inner"], [0.6, "outer"]]}))
    close_in_lane = states["normal"]                      # 2% of the lap ahead, same (inner) side
    ahead = close_in_lane["closest_objects"][1]
    assert close_in_lane["objects_left_of_center"][ahead] == close_in_lane["is_left_of_center"]
    other_lane = dict(close_in_lane, is_left_of_center=not close_in_lane["is_left_of_center"])
    assert reward(close_in_lane) < reward(other_lane)
    assert reward(dict(close_in_lane, objects_location=[])) >= reward(other_lane)


def test_progress_pays_for_progress_per_step():
    reward = load("progress")
    assert reward(normal_state(progress=20.0, steps=40)) > reward(normal_state(progress=20.0, steps=80))
    assert reward(normal_state(all_wheels_on_track=False)) < 0.01


def test_the_racing_line_is_inserted_above_the_examples_that_read_it():
    track = get_track("oval")
    line = racing_line_code(track)
    assert line.startswith("# The console's racing line") and "RACING_LINE = [[" in line
    namespace = {}
    exec(line, namespace)
    assert len(namespace["RACING_LINE"]) > 50 and all(len(point) == 2 for point in namespace["RACING_LINE"])
    assert example_code("speed_on_racing_line", track) == line + EXAMPLES["speed_on_racing_line"].code
    assert example_code("speed_on_racing_line") == EXAMPLES["speed_on_racing_line"].code  # no track yet
    assert example_code("progress", track) == EXAMPLES["progress"].code


def test_speed_on_the_racing_line_pays_for_progress_made_fast_on_the_line():
    namespace = {}
    exec(example_code("speed_on_racing_line", get_track("quick_loop")), namespace)
    reward, on_line = namespace["reward_function"], namespace["RACING_LINE"][40]

    def step(progress, **changes):  # a new episode, then one step that gains `progress` %
        reward(normal_state(steps=1, progress=0.0, x=on_line[0], y=on_line[1]))
        return reward(normal_state(steps=2, progress=progress, **{"x": on_line[0], "y": on_line[1], **changes}))

    assert step(1.0, speed=4.0) > step(1.0, speed=2.0) > 0      # the same gain, faster
    assert step(1.0, speed=4.0) > step(0.5, speed=4.0)          # more of the lap, as fast
    width = normal_state()["track_width"]
    assert step(1.0, speed=4.0, x=on_line[0] + 0.3 * width) < step(1.0, speed=4.0)  # off the line
    assert step(1.0, speed=4.0, x=on_line[0] + 20 * width) == 0.0  # nowhere near it
