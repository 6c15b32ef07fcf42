"""The car's limits are measured by driving the simulated car, and the recorded numbers match it."""

import math

import numpy as np
import pytest

from simulator.car import TYRE_FRICTION, WHEELBASE
from simulator.car_limits import MEASURED, measure_car_limits


@pytest.fixture(scope="module")
def measured():
    return measure_car_limits()


def test_the_recorded_limits_are_what_driving_the_car_measures(measured):
    assert measured.top_speed == pytest.approx(MEASURED.top_speed, rel=0.02)
    assert measured.acceleration == pytest.approx(MEASURED.acceleration, rel=0.03)
    assert measured.braking == pytest.approx(MEASURED.braking, rel=0.03)
    assert [k for k, _ in measured.grip] == pytest.approx([k for k, _ in MEASURED.grip], rel=0.01)
    assert [a for _, a in measured.grip] == pytest.approx([a for _, a in MEASURED.grip], rel=0.03)
    assert measured.max_curvature == pytest.approx(math.tan(math.radians(30)) / WHEELBASE, rel=0.01)


def test_the_grip_is_about_what_the_tyres_friction_allows(measured):
    # Coulomb friction 1 holds about 1 g; the servos and tyre compliance cost a little of it.
    for _, lateral in measured.grip:
        assert 0.85 * 9.81 * TYRE_FRICTION < lateral < 1.05 * 9.81 * TYRE_FRICTION
    # The drivetrain's torque limit: 0 -> 4 m/s in a bit over a second, and it brakes as hard.
    assert 2.0 < measured.acceleration < 4.5 and 2.0 < measured.braking < 4.5
    assert 3.8 < measured.top_speed <= 4.0


def test_corner_speeds_follow_the_grip_up_to_the_top_speed():
    assert MEASURED.corner_speed(0.0) == pytest.approx(MEASURED.top_speed)
    radius = 0.5
    expected = math.sqrt(float(MEASURED.lateral_acceleration(1 / radius)) * radius)
    assert MEASURED.corner_speed(-1 / radius) == pytest.approx(expected)
    assert np.all(np.diff(MEASURED.corner_speed(np.linspace(0.3, 3.5, 20))) <= 0)
