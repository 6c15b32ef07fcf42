"""Boxes and bot cars: race-type settings, layouts, bot driving, footprint collisions."""

import numpy as np
import pytest

from simulator.car import FOOTPRINT_CENTRE_X
from simulator.objects import (
    HEAD_TO_BOT,
    OBJECT_AVOIDANCE,
    LanePath,
    Obstacles,
    RaceConfig,
    car_footprint,
    random_object_fractions,
)
from simulator.tracks import get_track

TRACK = get_track("oval")


def boxes(positions):
    config = RaceConfig.from_dict({"race_type": OBJECT_AVOIDANCE, "randomize_objects": False,
                                   "object_positions": positions})
    obstacles = Obstacles(config, TRACK)
    obstacles.reset(np.random.default_rng(0), start_distance=0.0)
    return obstacles


def bots(count=2, speed=1.0, lane_changes=False):
    config = RaceConfig.from_dict({"race_type": HEAD_TO_BOT, "bot_count": count, "bot_speed": speed,
                                   "bot_lane_changes": lane_changes})
    obstacles = Obstacles(config, TRACK)
    obstacles.reset(np.random.default_rng(1), start_distance=0.0)
    return obstacles


def rear_axle_behind(point, heading, gap):
    """The rear-axle pose of a car whose footprint centre is `gap` m behind `point`."""
    back = FOOTPRINT_CENTRE_X + gap
    return point[0] - back * np.cos(heading), point[1] - back * np.sin(heading), heading


def test_time_trial_is_the_default():
    assert RaceConfig.from_dict(None).race_type == "TIME_TRIAL"
    assert Obstacles(RaceConfig(), TRACK).hit(0.0, 0.0, 0.0) is False


@pytest.mark.parametrize(
    ("config", "message"),
    [({"race_type": "DRAG_RACE"}, "unknown race_type"),
     ({"race_type": OBJECT_AVOIDANCE, "object_count": 7}, "1–6"),
     ({"race_type": OBJECT_AVOIDANCE, "randomize_objects": False, "object_positions": [[0.3, "middle"]]}, "inner or outer"),
     ({"race_type": OBJECT_AVOIDANCE, "randomize_objects": False, "object_positions": [[0.95, "inner"]]}, "0.07–0.9"),
     ({"race_type": OBJECT_AVOIDANCE, "randomize_objects": False, "object_positions": [[0.02, "inner"]]}, "0.07–0.9"),
     ({"race_type": OBJECT_AVOIDANCE, "randomize_objects": False,
       "object_positions": [[0.3, "inner"], [0.4, "outer"]]}, "0.13 of the lap apart"),
     ({"race_type": OBJECT_AVOIDANCE, "randomize_objects": False, "object_positions": ["x"]}, "fraction of lap"),
     ({"race_type": HEAD_TO_BOT, "bot_count": 0}, "1–6"),
     ({"race_type": HEAD_TO_BOT, "bot_speed": 9}, "bot_speed")],
)
def test_it_refuses_bad_race_settings_with_the_reason(config, message):
    with pytest.raises(ValueError, match=message):
        RaceConfig.from_dict(config)


def test_random_layouts_keep_the_spec_range_and_spacing():
    rng = np.random.default_rng(7)
    for count in range(1, 7):
        for _ in range(20):
            fractions = random_object_fractions(rng, count)
            assert fractions.min() >= 0.07 and fractions.max() <= 0.90 + 1e-9
            assert np.all(np.diff(fractions) >= 0.13 - 1e-9)


def test_random_layouts_depend_only_on_the_seed():
    config = RaceConfig.from_dict({"race_type": OBJECT_AVOIDANCE, "object_count": 4})
    first, second = Obstacles(config, TRACK), Obstacles(config, TRACK)
    first.reset(np.random.default_rng(3), 0.0)
    second.reset(np.random.default_rng(3), 0.0)
    assert np.array_equal(first.positions(), second.positions())
    second.reset(np.random.default_rng(4), 0.0)
    assert not np.array_equal(first.positions(), second.positions())


def test_fixed_boxes_sit_on_their_lane_at_their_fraction_from_the_start():
    obstacles = boxes([[0.25, "inner"], [0.5, "outer"]])
    (x0, y0), (x1, y1) = obstacles.positions()
    inner = TRACK.project(x0, y0)
    outer = TRACK.project(x1, y1)
    assert inner.distance == pytest.approx(0.25 * TRACK.length, abs=0.05)
    assert outer.distance == pytest.approx(0.5 * TRACK.length, abs=0.05)
    # Lanes are the midlines between the centre and each border.
    assert inner.distance_from_center == pytest.approx(inner.track_width / 4, abs=0.02)
    # Inner is the inside of this counter-clockwise loop: the left.
    assert inner.is_left_of_center and not outer.is_left_of_center


def test_layouts_follow_the_episode_start():
    obstacles = boxes([[0.25, "inner"]])
    obstacles.reset(np.random.default_rng(0), start_distance=0.5 * TRACK.length)
    x, y = obstacles.positions()[0]
    assert TRACK.project(x, y).distance == pytest.approx(0.75 * TRACK.length, abs=0.05)


def test_a_car_running_into_a_box_crashes_and_one_beside_it_does_not():
    obstacles = boxes([[0.25, "inner"]])
    centre, heading = obstacles.positions()[0], obstacles.heading[0]
    assert obstacles.hit(*rear_axle_behind(centre, heading, 0.3))
    assert not obstacles.hit(*rear_axle_behind(centre, heading, 0.5))
    # Side by side on the other lane: the footprints are apart.
    x, y, yaw = TRACK.pose_at(0.25 * TRACK.length, -TRACK.width / 4)
    assert not obstacles.hit(*rear_axle_behind((x, y), yaw, 0.0))


def test_bots_drive_their_lane_at_the_set_speed():
    obstacles = bots(count=1, speed=1.5)
    path = LanePath(TRACK)
    before = obstacles.s.copy()
    for _ in range(15):
        obstacles.advance(np.random.default_rng(0))
    assert (obstacles.s - before)[0] == pytest.approx(1.5, abs=1e-6)
    x, y = obstacles.positions()[0]
    assert TRACK.project(x, y).distance_from_center == pytest.approx(TRACK.width / 4, abs=0.03)
    assert obstacles.track_objects()[0].speed == 1.5 and path.length == pytest.approx(TRACK.length, rel=1e-3)


def test_bots_change_lanes_every_three_to_five_seconds_when_asked():
    obstacles = bots(count=1, lane_changes=True)
    rng = np.random.default_rng(2)
    lanes = []
    for _ in range(15 * 12):
        obstacles.advance(rng)
        lanes.append(obstacles.u[0])
    lanes = np.array(lanes)
    changes = np.flatnonzero(np.diff(np.sign(lanes)) != 0)
    assert 2 <= len(changes) <= 4
    gaps = np.diff(changes) / 15
    assert np.all(gaps > 2.9) and np.all(gaps < 5.1)


def test_bots_keep_their_lane_without_lane_changes():
    obstacles = bots(count=2)
    lanes = obstacles.u.copy()
    for _ in range(100):
        obstacles.advance(np.random.default_rng(0))
    assert np.array_equal(obstacles.u, lanes)


def test_running_into_a_bot_ahead_crashes_but_being_hit_from_behind_does_not():
    obstacles = bots(count=1)
    centre, heading = obstacles.positions()[0], obstacles.heading[0]
    # The agent's nose in the bot's tail: the agent crashed.
    assert obstacles.hit(*rear_axle_behind(centre, heading, 0.25))
    # The bot's nose in the agent's tail: not the agent's crash.
    ahead = centre + 0.25 * np.array([np.cos(heading), np.sin(heading)])
    assert not obstacles.hit(*rear_axle_behind(ahead, heading, 0.0))


def test_the_footprint_is_the_deepracer_rectangle():
    corners = car_footprint(0.0, 0.0, 0.0)
    assert corners[:, 0].max() - corners[:, 0].min() == pytest.approx(0.324)
    assert corners[:, 1].max() - corners[:, 1].min() == pytest.approx(0.196)
    assert corners[:, 0].mean() == pytest.approx(FOOTPRINT_CENTRE_X)
