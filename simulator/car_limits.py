"""What our simulated car can do, measured by driving it in the simulator (not assumed).

The limit lap of a track (simulator/racing_line.py) needs four numbers of the car: its top speed, how
hard it accelerates and brakes, and its grip, the lateral acceleration at which it starts to slide.
``measure_car_limits()`` drives the MuJoCo car of car.py/world.py on an empty ground and measures them:

- top speed: the steady speed on a straight at the full 4 m/s command (the drive servo settles a
  little below its target);
- acceleration: from rest to 3 m/s at full command (the drivetrain's torque limit, v² / 2d);
- braking: from top speed down to 0.5 m/s at the minimum command;
- grip: for several steering angles, the fastest commanded speed at which the tyres still grip. While
  they grip, the chassis' sideslip (the angle between its heading and its velocity) grows in proportion
  to the speed (the tyres' compliance); when they start to slide it jumps to several times that. The
  lateral acceleration held at the last gripping speed is the grip. It is listed per curvature (the
  steering's kinematic circle), since a tighter turn loads the tyres differently.

Measuring takes about a second, and needs MuJoCo; ``MEASURED`` records the result so that the web
process (which draws the racing line) needs neither. tests/simulator/test_car_limits.py measures again
and holds ``MEASURED`` to it, so a change to the car's physics cannot leave a stale number here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

# Steering angles (degrees) at which grip is measured: from the gentle corners of a racing line to full lock.
GRIP_STEERING = (6.0, 10.0, 15.0, 20.0, 25.0, 30.0)
# Sliding: the sideslip exceeds SLIDE_FACTOR times what gripping tyres show at that speed (measured at
# REFERENCE_SPEED, where nothing slides), plus SLIDE_MARGIN degrees against noise.
SLIDE_FACTOR, SLIDE_MARGIN, REFERENCE_SPEED = 1.5, 0.5, 0.5
SETTLE_SECONDS, MEASURE_SECONDS = 2.0, 1.0
SPEED_RESOLUTION = 0.01  # m/s of commanded speed: the bisection stops there


@dataclass(frozen=True)
class CarLimits:
    top_speed: float
    """m/s on a straight at the full command"""
    acceleration: float
    """m/s² from rest at the full command"""
    braking: float
    """m/s² slowing down at the minimum command"""
    grip: tuple[tuple[float, float], ...]
    """(curvature 1/m, lateral acceleration m/s² where the car starts to slide), by increasing curvature"""
    max_curvature: float
    """1/m: the tightest turn the steering allows (full lock)"""

    def lateral_acceleration(self, curvature) -> np.ndarray:
        """The grip at each |curvature|, interpolated between the measured ones (held flat beyond them)."""
        curvatures, accelerations = np.array(self.grip).T
        return np.interp(np.abs(curvature), curvatures, accelerations)

    def corner_speed(self, curvature) -> np.ndarray:
        """The fastest speed the car holds through a turn of this curvature: grip or top speed."""
        curvature = np.maximum(np.abs(np.asarray(curvature, dtype=float)), 1e-9)
        return np.minimum(self.top_speed, np.sqrt(self.lateral_acceleration(curvature) / curvature))

    def describe(self) -> str:
        grip = ", ".join(f"{a:.2f} m/s² at radius {1 / k:.2f} m" for k, a in self.grip)
        return (f"top speed {self.top_speed:.2f} m/s, acceleration {self.acceleration:.2f} m/s², "
                f"braking {self.braking:.2f} m/s², grip {grip}")


# measure_car_limits() on the car of simulator/car.py (held to it by tests/simulator/test_car_limits.py).
MEASURED = CarLimits(
    top_speed=3.926,
    acceleration=2.8,
    braking=3.12,
    grip=((0.641, 9.87), (1.075, 9.76), (1.634, 9.73), (2.219, 9.7), (2.843, 9.57), (3.52, 9.39)),
    max_curvature=3.52,
)


class _Probe:
    """The car alone on the ground (the oval's world: the track only paints the ground)."""

    def __init__(self):
        import mujoco

        from simulator.tracks import get_track
        from simulator.world import build_world

        self.mujoco = mujoco
        self.world = build_world(get_track("oval"))

    def start(self, steering: float, speed: float) -> None:
        from simulator.car import clamp_command

        world = self.world
        world.reset()
        world.car.place(0.0, 0.0, 0.0)
        self.mujoco.mj_forward(world.model, world.data)
        world.car.command(*clamp_command(steering, speed))

    def command(self, steering: float, speed: float) -> None:
        from simulator.car import clamp_command

        self.world.car.command(*clamp_command(steering, speed))

    def run(self, seconds: float) -> None:
        from simulator.world import PHYSICS_SUBSTEPS, TIMESTEP

        self.world.step(round(seconds / TIMESTEP / PHYSICS_SUBSTEPS) * PHYSICS_SUBSTEPS)

    def circle(self, steering: float, speed: float) -> tuple[float, float, float]:
        """(sideslip degrees, speed, lateral acceleration) settled on a circle at this command, averaged."""
        self.start(steering, speed)
        self.run(SETTLE_SECONDS)
        slips, speeds, lateral = [], [], []
        for _ in range(15):
            self.run(MEASURE_SECONDS / 15)
            vx, vy, _, yaw_rate = self.world.data.qvel[0:4].tolist()
            speed_now = math.hypot(vx, vy)
            heading = self.world.car.pose().yaw
            slips.append(abs(math.degrees(math.remainder(math.atan2(vy, vx) - heading, math.tau))))
            speeds.append(speed_now)
            lateral.append(abs(yaw_rate) * speed_now)
        return float(np.mean(slips)), float(np.mean(speeds)), float(np.mean(lateral))


def _distance_to(probe: _Probe, target: float, faster: bool) -> float:
    """Metres travelled until the forward speed passes ``target`` (up when faster, down otherwise)."""
    from simulator.world import TIMESTEP

    car = probe.world.car
    start = car.pose()
    for _ in range(round(10.0 / TIMESTEP)):
        probe.world.step(1)
        speed = car.forward_speed()
        if (speed >= target) if faster else (speed <= target):
            pose = car.pose()
            return math.hypot(pose.x - start.x, pose.y - start.y)
    raise RuntimeError(f"the car never reached {target} m/s")


def _grip(probe: _Probe, steering: float, top_speed: float) -> tuple[float, float]:
    """(kinematic curvature, lateral acceleration at the onset of sliding) at one steering angle."""
    from simulator.car import WHEELBASE

    kinematic = math.tan(math.radians(steering)) / WHEELBASE
    slip, speed, best = probe.circle(steering, REFERENCE_SPEED)
    slip_per_speed = slip / speed

    def grips(command: float) -> tuple[bool, float]:
        slip, speed, lateral = probe.circle(steering, command)
        return slip <= SLIDE_FACTOR * slip_per_speed * speed + SLIDE_MARGIN, lateral

    low, high = REFERENCE_SPEED, top_speed + 0.1
    holds, lateral = grips(high)
    if holds:  # it never slides below top speed: the grip is at least what it held there
        return kinematic, lateral
    while high - low > SPEED_RESOLUTION:
        middle = (low + high) / 2
        holds, lateral = grips(middle)
        if holds:
            low, best = middle, lateral
        else:
            high = middle
    return kinematic, best


def measure_car_limits() -> CarLimits:
    """Drive the simulated car and measure its limits (about a second of CPU)."""
    from simulator.car import MAX_SPEED, MAX_STEERING_DEG, MIN_SPEED, WHEELBASE

    probe = _Probe()
    probe.start(0.0, MAX_SPEED)
    probe.run(4.0)
    top_speed = probe.world.car.forward_speed()
    probe.start(0.0, MAX_SPEED)
    acceleration_target = 0.75 * MAX_SPEED
    acceleration = acceleration_target**2 / (2 * _distance_to(probe, acceleration_target, faster=True))
    probe.start(0.0, MAX_SPEED)
    probe.run(4.0)
    start_speed = probe.world.car.forward_speed()
    probe.command(0.0, MIN_SPEED)
    stop_target = 0.5
    braking = (start_speed**2 - stop_target**2) / (2 * _distance_to(probe, stop_target, faster=False))
    grip = tuple(_grip(probe, steering, top_speed) for steering in GRIP_STEERING)
    return CarLimits(
        top_speed=round(top_speed, 3), acceleration=round(acceleration, 2), braking=round(braking, 2),
        grip=tuple((round(k, 3), round(a, 2)) for k, a in grip),
        max_curvature=round(math.tan(math.radians(MAX_STEERING_DEG)) / WHEELBASE, 3))
