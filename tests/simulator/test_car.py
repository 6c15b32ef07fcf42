"""The car: DeepRacer dimensions, clamped commands, a drivetrain that tracks its target, tyres that slide."""

import mujoco
import numpy as np
import pytest

from simulator.car import (
    AXLE_TRACK,
    MAX_SPEED,
    MAX_STEERING_DEG,
    MIN_SPEED,
    WHEEL_RADIUS,
    WHEELBASE,
    clamp_command,
    parse_colour,
)
from simulator.tracks import get_track
from simulator.world import CONTROL_HZ, build_world


@pytest.fixture
def world():
    world = build_world(get_track("oval"))
    world.car.place(0.0, 0.0, 0.0)
    mujoco.mj_forward(world.model, world.data)
    return world


def drive(world, steering, speed, seconds):
    world.car.command(*clamp_command(steering, speed))
    for _ in range(round(seconds * CONTROL_HZ)):
        world.step()


def circle_radius(world, steering, speed):
    """Radius of the circle the rear axle settles on, from a second of driving after two to settle."""
    drive(world, steering, speed, 2.0)
    points = []
    for _ in range(CONTROL_HZ):
        drive(world, steering, speed, 1 / CONTROL_HZ)
        points.append((world.car.pose().x, world.car.pose().y))
    points = np.array(points)
    # Least-squares circle fit: x² + y² = 2ax + 2by + c.
    a = np.column_stack([2 * points, np.ones(len(points))])
    (cx, cy, c), *_ = np.linalg.lstsq(a, (points**2).sum(axis=1), rcond=None)
    return float(np.sqrt(c + cx**2 + cy**2))


def test_it_has_deepracer_dimensions(world):
    model = world.model
    wheels = {s: model.body(f"car_wheel_{s}").id for s in ("rl", "rr", "fl", "fr")}
    position = {s: world.data.xpos[b] for s, b in wheels.items()}
    assert np.linalg.norm(position["fl"] - position["rl"]) == pytest.approx(WHEELBASE)
    assert np.linalg.norm(position["rl"] - position["rr"]) == pytest.approx(AXLE_TRACK)
    assert model.geom("car_contact_rl").size[0] == pytest.approx(WHEEL_RADIUS)


@pytest.mark.parametrize(
    ("command", "clamped"),
    [((0.0, 1.0), (0.0, 1.0)), ((45.0, 9.0), (30.0, 4.0)), ((-90.0, 0.0), (-30.0, 0.1)),
     ((float("nan"), float("nan")), (0.0, 0.1))],
)
def test_it_clamps_commands_to_what_the_car_can_do(command, clamped):
    assert clamp_command(*command) == clamped
    assert MIN_SPEED == 0.1 and MAX_SPEED == 4.0 and MAX_STEERING_DEG == 30.0


def test_it_stays_put_when_placed(world):
    world.car.place(1.0, 2.0, 0.5)
    for _ in range(15):
        world.step()
    pose = world.car.pose()
    assert (pose.x, pose.y, pose.yaw) == pytest.approx((1.0, 2.0, 0.5), abs=1e-3)
    assert abs(world.car.height()) < 0.002


def test_it_accelerates_towards_the_commanded_speed_not_instantly(world):
    drive(world, 0.0, 3.0, 1 / CONTROL_HZ)
    assert 0.05 < world.car.forward_speed() < 1.0
    drive(world, 0.0, 3.0, 2.5)
    assert world.car.forward_speed() == pytest.approx(3.0, abs=0.1)
    # Braking is gradual too.
    drive(world, 0.0, 0.5, 1 / CONTROL_HZ)
    assert world.car.forward_speed() > 2.0


def test_it_drives_straight_on_zero_steering(world):
    drive(world, 0.0, 2.0, 2.0)
    pose = world.car.pose()
    assert pose.x > 2.5 and abs(pose.y) < 0.01 and abs(pose.yaw) < 0.01


def test_it_steers_left_for_positive_steering(world):
    drive(world, 15.0, 1.0, 1.0)
    assert world.car.pose().y > 0.1 and world.car.pose().yaw > 0.3
    assert world.car.steering_deg() == pytest.approx(15.0, abs=1.0)


def test_it_turns_on_the_kinematic_circle_at_full_lock_when_slow(world):
    kinematic = WHEELBASE / np.tan(np.deg2rad(30))
    assert circle_radius(world, 30.0, 0.5) == pytest.approx(kinematic, rel=0.05)


def sideslip(world, steering, speed):
    """Mean sideslip angle (deg) of the rear axle, its speed and its lateral acceleration, after settling."""
    drive(world, steering, speed, 2.0)
    slips, speeds, lateral = [], [], []
    for _ in range(CONTROL_HZ):
        drive(world, steering, speed, 1 / CONTROL_HZ)
        pose = world.car.pose()
        vx, vy = world.data.qvel[0:2]
        yaw_rate = world.data.qvel[3]
        slips.append(abs(np.rad2deg(np.angle(np.exp(1j * (np.arctan2(vy, vx) - pose.yaw))))))
        speeds.append(np.hypot(vx, vy))
        lateral.append(abs(yaw_rate) * np.hypot(vx, vy))
    return np.mean(slips), np.mean(speeds), np.mean(lateral)


def test_the_wheels_grip_in_a_turn_within_the_tyres_limit(world):
    slip, speed, lateral = sideslip(world, 30.0, 1.0)
    # Each wheel rolls its own circle: the car keeps its commanded speed through a full-lock turn.
    assert slip < 5 and speed == pytest.approx(1.0, abs=0.05) and lateral < 5


def test_it_slides_when_cornering_too_fast(world):
    slip, speed, lateral = sideslip(world, 30.0, 3.0)
    # Past about 1 g of grip the tyres slide: a big sideslip, and no more than the grip in lateral
    # acceleration (the 30 m/s² a kinematic car would need at 3 m/s on a 0.28 m circle never comes).
    assert slip > 10
    assert 7 < lateral < 12
    assert abs(world.car.height()) < 0.02


def test_it_takes_the_garage_shell_colour():
    assert parse_colour("#ff8000") == "1.0000 0.5020 0.0000 1"
    assert parse_colour((0.0, 0.5, 1.0)) == "0.0000 0.5000 1.0000 1"
    world = build_world(get_track("oval"), car_colour=parse_colour("#0000ff"))
    assert world.model.geom("car_shell").rgba.tolist() == [0.0, 0.0, 1.0, 1.0]
    for bad in ("blue", "#12345", (1.0, 2.0, 0.0), 7):
        with pytest.raises(ValueError, match="car colour"):
            parse_colour(bad)
