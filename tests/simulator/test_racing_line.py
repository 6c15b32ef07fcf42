"""The racing line: inside the road, faster than the centre line, slower in corners, any track."""

from pathlib import Path

import numpy as np
import pytest

from simulator.racing_line import (
    _curvature,
    cached_racing_line,
    racing_line,
    speed_profile,
    top_speed_of,
    track_outline,
    track_svg_with_racing_line,
)
from simulator.tracks import BUILTIN_TRACKS, get_track, load_npy

SHARED_TRACKS = Path(__file__).resolve().parents[2] / ".." / "shared" / "tracks"


@pytest.mark.parametrize("slug", sorted(BUILTIN_TRACKS))
def test_it_stays_on_the_road_of_every_builtin_track(slug):
    track = get_track(slug)
    line = racing_line(track)
    assert track.contains_points(line.points).all()
    assert np.allclose(line.points[0], line.points[-1])
    assert 0 < line.speeds.min() <= line.speeds.max() <= 4.0


def test_it_cuts_the_corners_of_an_imported_track():
    track = load_npy(SHARED_TRACKS / "reinvent_base.npy", "reinvent_base")
    line = racing_line(track)
    assert track.contains_points(line.points).all()
    length = np.hypot(*np.diff(line.points, axis=0).T).sum()
    assert length < track.length   # shorter than the centre line
    # Driven at the same limits, the line is faster than the centre line.
    centre = track.centre[:-1]
    centre_speeds = speed_profile(centre, _curvature(centre))
    steps = np.hypot(*np.diff(track.centre, axis=0).T)
    centre_time = np.sum(steps / ((centre_speeds + np.roll(centre_speeds, -1)) / 2))
    assert line.lap_time < 0.9 * centre_time
    reverse = racing_line(track.reversed())
    assert reverse.lap_time == pytest.approx(line.lap_time, rel=0.05)


def test_it_brakes_before_a_corner_and_accelerates_out():
    # A straight with one sharp point in the middle: speed falls towards it and rises after it.
    points = np.column_stack([np.linspace(0, 10, 101), np.zeros(101)])
    curvature = np.zeros(101)
    curvature[50] = 4.0   # radius 0.25 m: sqrt(9.81 * 0.25) = 1.57 m/s
    speeds = speed_profile(points, curvature, top_speed=4.0, lateral_acceleration=9.81, acceleration=3.0, braking=4.0)
    assert speeds[50] == pytest.approx(np.sqrt(9.81 / 4.0))
    assert np.all(np.diff(speeds[40:51]) < 0) and np.all(np.diff(speeds[50:60]) > 0)
    # Braking (4 m/s^2) is harder than accelerating (3): the speed is back higher 0.5 m before than after.
    assert speeds[45] > speeds[55]


def test_it_outlines_the_track_for_plots():
    outline = track_outline(get_track("oval"))
    assert set(outline) >= {"centre", "inner", "outer", "title"} and len(outline["centre"]["x"]) == 121


def test_it_draws_the_line_on_the_track_picture():
    track = get_track("quick_loop")
    svg = track_svg_with_racing_line(track, 240)
    assert svg.count("data-racing-line") == 1 and svg.endswith("</svg>")
    assert cached_racing_line(track) is cached_racing_line(get_track("quick_loop"))
    assert cached_racing_line(track.reversed()) is not cached_racing_line(track)


def test_it_drives_the_line_at_the_cars_top_speed():
    track = get_track("oval")
    slow = cached_racing_line(track, top_speed=1.0)
    assert slow.speeds.max() == pytest.approx(1.0) and slow.lap_time > cached_racing_line(track).lap_time
    discrete = {"action_space_type": "discrete", "action_space": [{"steering_angle": 0, "speed": 0.5},
                                                                   {"steering_angle": 30, "speed": 1.5}]}
    continuous = {"action_space_type": "continuous",
                  "action_space": {"speed": {"low": 0.5, "high": 2.5}, "steering_angle": {"low": -30, "high": 30}}}
    assert (top_speed_of(discrete), top_speed_of(continuous)) == (1.5, 2.5)
