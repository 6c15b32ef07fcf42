"""The editor's examples: each validates clean everywhere and rewards what its title promises."""

import pytest

from simulator.reward.examples import DEFAULT_EXAMPLE, EXAMPLES
from simulator.reward.validation import synthetic_states, validate_with_warnings
from simulator.tracks import BUILTIN_TRACKS, get_track

RACE_TYPES = {
    "time trial": None,
    "object avoidance": {"race_type": "OBJECT_AVOIDANCE", "object_count": 2, "randomize_objects": True},
    "head to bot": {"race_type": "HEAD_TO_BOT", "bot_count": 3, "bot_speed": 0.5, "bot_lane_changes": False},
}


def load(slug):
    """The example's function, run in-process: our own code, so the sandbox is not needed to test it."""
    namespace = {}
    exec(compile(EXAMPLES[slug].code, f"{slug}.py", "exec"), namespace)
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
    assert validate_with_warnings(EXAMPLES[slug].code, track) == ([], [])


@pytest.mark.parametrize("slug", EXAMPLES)
@pytest.mark.parametrize("race", ["object avoidance", "head to bot"])
def test_it_validates_every_example_clean_on_every_race_type(slug, race):
    assert validate_with_warnings(EXAMPLES[slug].code, get_track("quick_loop"), RACE_TYPES[race]) == ([], [])


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
