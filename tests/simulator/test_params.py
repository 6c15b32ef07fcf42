import math

import numpy as np
import pytest

from simulator.params import (
    BOT_CAR_SIZE,
    CAMERA_RANGE,
    RewardParams,
    TrackObject,
    in_camera_view,
    place_car,
    pose_on_centre_line,
    wheel_positions,
)
from tests.simulator.square import square_track

# SPEC 1.1, every key the reward function may read.
SPEC_KEYS = {
    "all_wheels_on_track", "x", "y", "heading", "steering_angle", "speed", "progress", "steps",
    "distance_from_center", "is_left_of_center", "track_width", "track_length", "waypoints",
    "closest_waypoints", "is_reversed", "is_offtrack", "is_crashed", "projection_distance",
    "closest_objects", "objects_location", "objects_distance", "objects_distance_from_center",
    "objects_left_of_center", "objects_heading", "objects_speed", "object_in_camera", "sim_time",
}  # fmt: skip


@pytest.fixture(scope="module")
def square():
    return square_track()


def params_at(track, x, y, heading=0.0, **overrides):
    car = place_car(track, x, y, heading)
    values = {"steering_angle": -15.0, "speed": 1.5, "progress": 7.0, "steps": 3} | overrides
    return RewardParams(track).build(car, **values)


def test_it_puts_the_params_point_014_m_ahead_of_the_rear_axle(square):
    params = params_at(square, 1.0, 0.0)
    assert (params["x"], params["y"]) == pytest.approx((1.14, 0.0))
    params = params_at(square, 4.0, 1.0, heading=math.pi / 2)
    assert (params["x"], params["y"]) == pytest.approx((4.0, 1.14))


def test_it_gives_every_spec_key_with_its_type(square):
    params = params_at(square, 1.0, 0.0, sim_time=2.5)
    assert set(params) == SPEC_KEYS
    for key in ("x", "y", "heading", "steering_angle", "speed", "progress", "distance_from_center",
                "track_width", "track_length", "projection_distance", "sim_time"):  # fmt: skip
        assert type(params[key]) is float, key
    for key in ("all_wheels_on_track", "is_left_of_center", "is_reversed", "is_offtrack", "is_crashed",
                "object_in_camera"):  # fmt: skip
        assert type(params[key]) is bool, key
    assert type(params["steps"]) is int
    assert all(type(point) is tuple for point in params["waypoints"])


def test_it_reads_a_car_on_the_centre_line(square):
    params = params_at(square, 1.0, 0.0)
    assert params["distance_from_center"] == pytest.approx(0.0)
    assert params["projection_distance"] == pytest.approx(1.14)
    assert params["closest_waypoints"] == [2, 3]  # waypoints at x = 1.0 and 1.5
    assert params["track_width"] == pytest.approx(1.0)
    assert params["track_length"] == pytest.approx(16.0)
    assert params["heading"] == 0.0
    assert params["all_wheels_on_track"] is True
    assert (params["steering_angle"], params["speed"], params["progress"], params["steps"]) == (-15.0, 1.5, 7.0, 3)
    assert params["is_reversed"] is False


def test_it_tells_left_from_right_of_centre(square):
    left = params_at(square, 1.0, 0.3)
    assert left["is_left_of_center"] is True and left["distance_from_center"] == pytest.approx(0.3)
    right = params_at(square, 1.0, -0.3)
    assert right["is_left_of_center"] is False and right["distance_from_center"] == pytest.approx(0.3)
    up_the_right_side = params_at(square, 3.8, 2.0, heading=math.pi / 2)  # x < 4 is the infield side
    assert up_the_right_side["is_left_of_center"] is True


def test_it_counts_wheels_on_the_road_up_to_the_border(square):
    # The left wheels sit 0.081 m left of the rear-axle origin; the border is at y = 0.5.
    assert params_at(square, 1.0, 0.41)["all_wheels_on_track"] is True
    at_border = place_car(square, 1.0, 0.42, 0.0)
    assert at_border.wheels_on_track == (False, True, False, True)
    assert not at_border.all_wheels_on_track and at_border.any_wheel_on_track
    assert params_at(square, 1.0, 0.42)["all_wheels_on_track"] is False


def test_it_sees_a_car_in_the_infield_as_off_track(square):
    car = place_car(square, 1.5, 1.5, 0.0)
    assert not car.any_wheel_on_track
    params = params_at(square, 1.5, 1.5, is_offtrack=True)
    assert params["is_offtrack"] is True and params["all_wheels_on_track"] is False
    assert params["distance_from_center"] == pytest.approx(1.5)
    assert params["distance_from_center"] > params["track_width"] / 2


def test_it_keeps_heading_within_plus_or_minus_180_degrees(square):
    for yaw, degrees in ((math.pi / 2, 90.0), (math.pi, 180.0), (-math.pi / 2, -90.0), (3 * math.pi / 2, -90.0),
                         (2 * math.pi + 0.1, math.degrees(0.1))):  # fmt: skip
        assert params_at(square, 2.0, 0.0, heading=yaw)["heading"] == pytest.approx(degrees)


def test_it_repeats_the_first_waypoint_at_the_end(square):
    waypoints = params_at(square, 1.0, 0.0)["waypoints"]
    assert len(waypoints) == 33 and waypoints[0] == waypoints[-1] == (0.0, 0.0)
    assert waypoints[1] == (0.5, 0.0)


def test_it_reverses_waypoints_distance_and_sides_on_the_reversed_track(square):
    backwards = square.reversed()
    params = params_at(backwards, 1.28, 0.3, heading=math.pi)  # params point (1.14, 0.3), driving -x
    assert params["is_reversed"] is True
    assert params["waypoints"] == square.waypoints[::-1]
    assert params["projection_distance"] == pytest.approx(16.0 - 1.14)
    assert params["closest_waypoints"] == [29, 30]  # x = 1.5 then x = 1.0, counted from the end
    assert params["is_left_of_center"] is False  # +y is on the right when driving -x
    assert params["heading"] == pytest.approx(180.0)


def test_it_names_the_nearer_waypoint_for_the_sim_trace(square):
    assert place_car(square, 1.0, 0.0, 0.0).closest_waypoint == 2  # x = 1.14: 1.0 is nearer than 1.5
    assert place_car(square, 1.2, 0.0, 0.0).closest_waypoint == 3  # x = 1.34


def test_it_wraps_closest_waypoints_at_the_start_line(square):
    params = params_at(square, -0.24, 0.0)  # params point 0.1 m before the line, x = -0.1
    # The point is beyond the square's corner: it projects onto waypoint 0 itself.
    assert params["projection_distance"] == pytest.approx(0.0)
    params = params_at(square, 0.0, 0.44, heading=-math.pi / 2)  # params point (0, 0.3), down the last side
    assert params["closest_waypoints"] == [31, 32]  # 32 is waypoint 0 repeated
    assert params["projection_distance"] == pytest.approx(15.7)
    params = params_at(square, 0.0, 0.14, heading=-math.pi / 2)  # params point on the line itself
    assert params["closest_waypoints"] == [0, 1]
    assert params["projection_distance"] == pytest.approx(0.0, abs=1e-12)


def test_it_returns_a_fresh_dict_every_call(square):
    builder = RewardParams(square)
    car = place_car(square, 1.0, 0.0, 0.0)
    first = builder.build(car, steering_angle=0.0, speed=1.0, progress=0.0, steps=1)
    first["waypoints"].append((9.0, 9.0))
    first["waypoints"][0] = None
    first["closest_waypoints"][0] = 99
    second = builder.build(car, steering_angle=0.0, speed=1.0, progress=0.0, steps=1)
    assert len(second["waypoints"]) == 33 and second["waypoints"][0] == (0.0, 0.0)
    assert second["closest_waypoints"] == [2, 3]
    assert square.waypoints[0] == (0.0, 0.0)


def test_it_gives_empty_object_keys_without_objects(square):
    params = params_at(square, 1.0, 0.0)
    assert params["closest_objects"] == [0, 0]
    for key in ("objects_location", "objects_distance", "objects_distance_from_center",
                "objects_left_of_center", "objects_heading", "objects_speed"):  # fmt: skip
        assert params[key] == []
    assert params["object_in_camera"] is False


BOXES = (TrackObject(2.0, 0.25), TrackObject(4.25, 2.0), TrackObject(1.0, -0.25))


def test_it_describes_boxes_along_the_centre_line(square):
    params = params_at(square, 1.0, 0.0, objects=BOXES)  # the car's point is 1.14 m along
    assert params["objects_location"] == [(2.0, 0.25), (4.25, 2.0), (1.0, -0.25)]
    assert params["objects_distance"] == pytest.approx([2.0, 6.0, 1.0])
    assert params["objects_distance_from_center"] == pytest.approx([0.25, 0.25, 0.25])
    assert params["objects_left_of_center"] == [True, False, False]
    assert params["closest_objects"] == [2, 0]  # behind: the one at 1.0 m, ahead: at 2.0 m
    assert params["objects_heading"] == [0.0, 0.0, 0.0] and params["objects_speed"] == [0.0, 0.0, 0.0]
    assert params["object_in_camera"] is True  # 0.9 m ahead, 15 degrees to the left


def test_it_wraps_closest_objects_round_the_loop(square):
    params = params_at(square, 0.0, 3.0, heading=-math.pi / 2, objects=BOXES)  # 13.14 m along
    assert params["closest_objects"] == [1, 2]  # behind: the last one (6 m), ahead: the first (1 m)
    params = params_at(square, 0.2, 0.0, objects=BOXES[:2])  # 0.34 m along, before every object
    assert params["closest_objects"] == [1, 0]


def test_it_sees_the_next_object_only_inside_the_field_of_view(square):
    facing_away = params_at(square, 1.0, 0.0, heading=math.pi / 2, objects=BOXES)
    assert facing_away["object_in_camera"] is False  # the box ahead is 74 degrees to the right
    side_box = (TrackObject(4.25, 3.0),)
    assert params_at(square, 1.0, 0.0, objects=side_box)["object_in_camera"] is False  # 43 degrees off
    assert params_at(square, 3.8, 0.4, heading=math.pi / 2, objects=side_box)["object_in_camera"] is True


def test_it_sees_objects_only_within_the_camera_range(square):
    car = place_car(square, 0.0, 0.0, 0.0)  # the camera is at (0.09, 0)
    assert in_camera_view(car, TrackObject(0.09 + CAMERA_RANGE - 0.3, 0.0))  # the box's near end is in range
    assert not in_camera_view(car, TrackObject(0.09 + CAMERA_RANGE + 0.3, 0.0))
    assert not in_camera_view(car, TrackObject(-1.0, 0.0))  # behind the car


def test_it_reports_bot_cars_heading_and_speed(square):
    bot = TrackObject(3.0, -0.2, heading=math.pi / 2, speed=1.2, size=BOT_CAR_SIZE)
    params = params_at(square, 1.0, 0.0, objects=(bot,))
    assert params["objects_heading"] == [pytest.approx(90.0)] and params["objects_speed"] == [1.2]
    assert params["closest_objects"] == [0, 0]


def test_it_places_the_wheels_from_the_rear_axle_pose():
    np.testing.assert_allclose(
        wheel_positions(0.0, 0.0, 0.0), [(0.164, 0.081), (0.164, -0.081), (0.0, 0.081), (0.0, -0.081)], atol=1e-12
    )
    np.testing.assert_allclose(
        wheel_positions(1.0, 2.0, math.pi / 2),
        [(1 - 0.081, 2.164), (1.081, 2.164), (1 - 0.081, 2.0), (1.081, 2.0)],
        atol=1e-12,
    )


def test_it_poses_the_car_so_its_params_point_is_on_the_centre_line(square):
    x, y, heading = pose_on_centre_line(square, 5.0)  # 1 m up the right side
    assert (x, y, heading) == pytest.approx((4.0, 0.86, math.pi / 2))
    car = place_car(square, x, y, heading)
    assert car.projection.distance == pytest.approx(5.0)
    assert car.projection.distance_from_center == pytest.approx(0.0, abs=1e-12)
