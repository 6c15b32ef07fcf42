"""The racing line: inside the road, faster than the centre line, slower in corners, any track."""

from pathlib import Path

import numpy as np
import pytest

from simulator.car_limits import MEASURED, CarLimits
from simulator.racing_line import (
    LIMIT_MARGIN,
    _curvature,
    cached_racing_line,
    lap_from_rest,
    limit_lap,
    path_limit,
    racing_line,
    speed_profile,
    top_speed_of,
    track_outline,
    track_svg_with_racing_line,
)
from simulator.tracks import BUILTIN_TRACKS, Track, get_track, load_npy

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
    limits = CarLimits(top_speed=4.0, acceleration=3.0, braking=4.0, grip=((0.1, 9.81), (5.0, 9.81)), max_curvature=5.0)
    speeds = speed_profile(points, curvature, limits)
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


def circle_track(radius: float, width: float, points: int = 200) -> Track:
    angles = np.linspace(0, 2 * np.pi, points + 1)
    ring = np.column_stack([np.cos(angles), np.sin(angles)])
    ring[-1] = ring[0]
    return Track("circle", "Circle", radius * ring, (radius - width / 2) * ring, (radius + width / 2) * ring)


@pytest.mark.parametrize(("radius", "width"), [(1.5, 0.6), (3.0, 1.0), (0.8, 0.5)])
def test_the_limit_lap_of_a_circle_hugs_the_inside_at_the_grip_speed(radius, width):
    # On a ring, the shortest and least curved line is the inside border (plus the legal margin), and a
    # car holds sqrt(grip x r) there, or its top speed when that is lower: a lap is 2 pi r / v.
    line = limit_lap(circle_track(radius, width))
    inside = radius - width / 2 + LIMIT_MARGIN
    assert np.hypot(*line.points.T) == pytest.approx(inside, abs=0.01)
    speed = min(MEASURED.top_speed, np.sqrt(float(MEASURED.lateral_acceleration(1 / inside)) * inside))
    assert line.speeds == pytest.approx(speed, rel=0.02)
    assert line.length == pytest.approx(2 * np.pi * inside, rel=0.01)
    assert line.lap_time == pytest.approx(2 * np.pi * inside / speed, rel=0.02)


@pytest.mark.parametrize(("radius", "start_angle"), [(1.5, 0.0), (3.0, 2.0)])
def test_a_lap_from_rest_pays_for_the_acceleration_off_the_start_line(radius, start_angle):
    # On a ring the car accelerates from rest to the grip speed v in v / a seconds over v^2 / 2a metres,
    # then holds v for the rest of the lap: wherever the start line is, the lap costs v / 2a more than flying.
    line = limit_lap(circle_track(radius, 0.6))
    inside = float(np.hypot(*line.points[0]))
    speed = float(line.speeds.mean())
    start = 10 * np.array([np.cos(start_angle), np.sin(start_angle)])  # nearest line point: that angle's
    expected = speed / MEASURED.acceleration + (2 * np.pi * inside - speed ** 2 / (2 * MEASURED.acceleration)) / speed
    assert lap_from_rest(line, start) == pytest.approx(expected, rel=0.02)
    assert lap_from_rest(line, start) - line.lap_time == pytest.approx(speed / (2 * MEASURED.acceleration), rel=0.05)


def test_a_lap_from_rest_of_a_real_track_costs_the_start_and_no_more():
    track = load_npy(SHARED_TRACKS / "reinvent_base.npy", "reinvent_base")
    line = limit_lap(track)
    from_rest = lap_from_rest(line, track.pose_at(0.0)[:2])
    # The acceleration off the line costs under a second on a 17.7 m track, never less than nothing.
    assert line.lap_time < from_rest < line.lap_time + 1.0


@pytest.mark.parametrize("samples", [60, 137, 400])
def test_a_driven_circle_is_lapped_at_the_grip_speed_whatever_its_sampling(samples):
    # A car's positions on a circle of radius 1.2 m, unevenly spaced as steps of varying speed leave them.
    angles = np.sort(np.random.default_rng(samples).uniform(0, 2 * np.pi, samples))
    path = 1.2 * np.column_stack([np.cos(angles), np.sin(angles)])
    driven = path_limit(path)
    speed = min(MEASURED.top_speed, np.sqrt(float(MEASURED.lateral_acceleration(1 / 1.2)) * 1.2))
    assert driven.length == pytest.approx(2 * np.pi * 1.2, rel=0.01)
    assert driven.lap_time == pytest.approx(2 * np.pi * 1.2 / speed, rel=0.02)


def test_a_path_that_weaves_costs_time_against_the_limit_line():
    track = get_track("oval")
    line = limit_lap(track)
    assert path_limit(line.points).lap_time == pytest.approx(line.lap_time, rel=0.01)  # the line itself
    along = np.linspace(0, 1, len(line.points))
    weave = line.points + 0.05 * np.sin(2 * np.pi * 40 * along)[:, None] * [1, 1]
    assert path_limit(weave).lap_time > 1.1 * line.lap_time


def test_a_straight_of_a_stadium_is_driven_at_top_speed_with_braking_before_the_bends():
    # Two half circles of radius 1 m joined by 6 m straights: the car reaches top speed on the straights
    # only if 6 m allow it (2.8 m/s^2 from ~3.1 m/s to 3.9 m/s takes ~1 m), and brakes before each bend.
    half = np.linspace(-np.pi / 2, np.pi / 2, 40)
    right = np.column_stack([3 + np.cos(half), np.sin(half)])
    left = np.column_stack([-3 - np.cos(half), -np.sin(half)])
    centre = np.vstack([right, left, right[:1]])
    track = load_npy(np.column_stack([centre, 0.7 * centre + [0, 0], 1.3 * centre]), "stadium")
    line = limit_lap(track)
    assert line.speeds.max() == pytest.approx(MEASURED.top_speed, rel=0.01)
    assert line.speeds.min() < 0.9 * MEASURED.top_speed
    # Faster than the same line at half the grip, slower than at twice the grip.
    softer = CarLimits(MEASURED.top_speed, MEASURED.acceleration, MEASURED.braking,
                       tuple((k, a / 2) for k, a in MEASURED.grip), MEASURED.max_curvature)
    assert limit_lap(track, softer).lap_time > line.lap_time


def test_the_limit_lap_is_faster_than_the_all_wheels_on_racing_line():
    track = load_npy(SHARED_TRACKS / "reinvent_base.npy", "reinvent_base")
    limit, console = limit_lap(track), cached_racing_line(track)
    assert limit.lap_time < console.lap_time and limit.length < console.length
    assert 4.0 < limit.lap_time < 8.0   # 17.7 m of centre line at up to 3.9 m/s


def test_it_drives_the_line_at_the_cars_top_speed():
    track = get_track("oval")
    slow = cached_racing_line(track, top_speed=1.0)
    assert slow.speeds.max() == pytest.approx(1.0) and slow.lap_time > cached_racing_line(track).lap_time
    discrete = {"action_space_type": "discrete", "action_space": [{"steering_angle": 0, "speed": 0.5},
                                                                   {"steering_angle": 30, "speed": 1.5}]}
    continuous = {"action_space_type": "continuous",
                  "action_space": {"speed": {"low": 0.5, "high": 2.5}, "steering_angle": {"low": -30, "high": 30}}}
    assert (top_speed_of(discrete), top_speed_of(continuous)) == (1.5, 2.5)
