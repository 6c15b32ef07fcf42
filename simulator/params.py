"""The reward function's ``params`` (SPEC 1.1), built from the car's pose on a track.

The car's pose is its rear-axle origin (the point midway between the rear wheels on the ground) and
its yaw in radians, counter-clockwise from +x. From it come the params point ``(x, y)``, 0.14 m
ahead of that origin as in DeepRacer's simulator, and the four wheel contact points. ``place_car``
does the per-step geometry once (one projection, one vectorized on-road test) and both the episode
rules and ``RewardParams`` read it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from simulator.tracks import Projection, Track

WHEELBASE = 0.164  # m, rear axle to front axle
WHEEL_TRACK = 0.162  # m, left wheel to right wheel
PARAMS_POINT_AHEAD = 0.14  # m ahead of the rear-axle origin: DeepRacer's (x, y)
CAMERA_AHEAD = 0.09  # m ahead of the rear-axle origin
CAMERA_HALF_FOV = math.radians(32.5)  # half the ~65 degree horizontal field of view
# How far the camera "sees" an object for object_in_camera: a 0.4 m box 5 m away is still about
# 10 pixels wide in the 160-pixel frame; beyond that it is a speck.
CAMERA_RANGE = 5.0  # m
BOX_SIZE = (0.5, 0.4)  # m, length along its heading x width (SPEC 3)
BOT_CAR_SIZE = (0.324, 0.196)  # m, the car's collision footprint


def params_point(x: float, y: float, heading: float) -> tuple[float, float]:
    """The params ``(x, y)`` of a car whose rear-axle origin is at (x, y) with yaw ``heading`` (rad)."""
    return x + PARAMS_POINT_AHEAD * math.cos(heading), y + PARAMS_POINT_AHEAD * math.sin(heading)


def wheel_positions(x: float, y: float, heading: float) -> np.ndarray:
    """The four wheel contact points, (4, 2): front left, front right, rear left, rear right."""
    cos, sin = math.cos(heading), math.sin(heading)
    half = WHEEL_TRACK / 2
    return np.array(
        [
            (x + WHEELBASE * cos - half * sin, y + WHEELBASE * sin + half * cos),
            (x + WHEELBASE * cos + half * sin, y + WHEELBASE * sin - half * cos),
            (x - half * sin, y + half * cos),
            (x + half * sin, y - half * cos),
        ]
    )


def pose_on_centre_line(track: Track, distance: float) -> tuple[float, float, float]:
    """The rear-axle pose that puts the params point on the centre line at ``distance``, facing the
    driving direction (start positions and continuous-evaluation resets)."""
    x, y, heading = track.pose_at(distance)
    return x - PARAMS_POINT_AHEAD * math.cos(heading), y - PARAMS_POINT_AHEAD * math.sin(heading), heading


class CarPlacement(NamedTuple):
    """Where the car is on the track at one instant (a named tuple: one is made every step)."""

    x: float  # the params point
    y: float
    heading: float  # rad, the car's yaw
    origin: tuple[float, float]  # the rear-axle origin
    projection: Projection
    wheels_on_track: tuple[bool, bool, bool, bool]  # front left, front right, rear left, rear right
    closest_waypoint: int  # the nearer of the two closest waypoints (sim trace column)

    @property
    def all_wheels_on_track(self) -> bool:
        return all(self.wheels_on_track)

    @property
    def any_wheel_on_track(self) -> bool:
        """False means off track: DeepRacer ends the episode only when NO wheel is on the road."""
        return any(self.wheels_on_track)


def place_car(track: Track, x: float, y: float, heading: float) -> CarPlacement:
    """Measure a car pose (rear-axle origin and yaw in rad) against the track."""
    px, py = params_point(x, y, heading)
    projection = track.project(px, py)
    behind, ahead = projection.closest_waypoints
    (bx, by), (ax, ay) = track.waypoints[behind], track.waypoints[ahead]
    nearer = ahead if math.hypot(ax - px, ay - py) < math.hypot(bx - px, by - py) else behind
    return CarPlacement(
        x=px,
        y=py,
        heading=heading,
        origin=(float(x), float(y)),
        projection=projection,
        wheels_on_track=tuple(track.contains_points(wheel_positions(x, y, heading)).tolist()),
        closest_waypoint=nearer,
    )


@dataclass(frozen=True, slots=True)
class TrackObject:
    """A box or a bot car on the track."""

    x: float
    y: float
    heading: float = 0.0  # rad
    speed: float = 0.0  # m/s
    size: tuple[float, float] = BOX_SIZE  # length along the heading, width

    def footprint(self) -> np.ndarray:
        """The four corners and the centre, (5, 2)."""
        cos, sin = math.cos(self.heading), math.sin(self.heading)
        half_length, half_width = self.size[0] / 2, self.size[1] / 2
        corners = [(sl * half_length, sw * half_width) for sl, sw in ((1, 1), (1, -1), (-1, -1), (-1, 1))]
        return np.array(
            [(self.x + a * cos - b * sin, self.y + a * sin + b * cos) for a, b in corners] + [(self.x, self.y)]
        )


class RewardParams:
    """Builds the params dict of SPEC 1.1 for one track, caching what never changes (the waypoint
    list, the length). ``build`` returns a fresh dict every call: reward functions may mutate it."""

    def __init__(self, track: Track):
        self.track = track
        self._waypoints = track.waypoints
        self._length = track.length

    def build(
        self,
        car: CarPlacement,
        *,
        steering_angle: float,
        speed: float,
        progress: float,
        steps: int,
        is_offtrack: bool = False,
        is_crashed: bool = False,
        sim_time: float = 0.0,
        objects: tuple[TrackObject, ...] | list[TrackObject] = (),
    ) -> dict:
        """``steering_angle`` (deg) and ``speed`` (m/s) are the COMMANDED action; ``progress`` and
        ``steps`` come from the episode (``simulator.episode``)."""
        projection = car.projection
        params = {
            "all_wheels_on_track": car.all_wheels_on_track,
            "x": car.x,
            "y": car.y,
            "heading": _degrees_within_180(car.heading),
            "steering_angle": float(steering_angle),
            "speed": float(speed),
            "progress": float(progress),
            "steps": int(steps),
            "distance_from_center": projection.distance_from_center,
            "is_left_of_center": projection.is_left_of_center,
            "track_width": projection.track_width,
            "track_length": self._length,
            "waypoints": list(self._waypoints),
            "closest_waypoints": list(projection.closest_waypoints),
            "is_reversed": self.track.is_reversed,
            "is_offtrack": bool(is_offtrack),
            "is_crashed": bool(is_crashed),
            "projection_distance": projection.distance,
            "sim_time": float(sim_time),
        }
        params.update(self.object_params(car, objects))
        return params

    def object_params(self, car: CarPlacement, objects) -> dict:
        """The object keys: empty lists and ``closest_objects`` [0, 0] without objects."""
        if not objects:
            return {
                "closest_objects": [0, 0],
                "objects_location": [],
                "objects_distance": [],
                "objects_distance_from_center": [],
                "objects_left_of_center": [],
                "objects_heading": [],
                "objects_speed": [],
                "object_in_camera": False,
            }
        projections = [self.track.project(item.x, item.y) for item in objects]
        distances = [projection.distance for projection in projections]
        behind, ahead = _behind_and_ahead(distances, car.projection.distance)
        return {
            "closest_objects": [behind, ahead],
            "objects_location": [(float(item.x), float(item.y)) for item in objects],
            "objects_distance": distances,
            "objects_distance_from_center": [projection.distance_from_center for projection in projections],
            "objects_left_of_center": [projection.is_left_of_center for projection in projections],
            "objects_heading": [_degrees_within_180(item.heading) for item in objects],
            "objects_speed": [float(item.speed) for item in objects],
            "object_in_camera": in_camera_view(car, objects[ahead]),
        }


def in_camera_view(car: CarPlacement, item: TrackObject) -> bool:
    """Is any corner (or the centre) of the object inside the camera's horizontal field of view and
    within ``CAMERA_RANGE``?"""
    cos, sin = math.cos(car.heading), math.sin(car.heading)
    camera_x, camera_y = car.origin[0] + CAMERA_AHEAD * cos, car.origin[1] + CAMERA_AHEAD * sin
    relative = item.footprint() - (camera_x, camera_y)
    forward = relative[:, 0] * cos + relative[:, 1] * sin
    sideways = -relative[:, 0] * sin + relative[:, 1] * cos
    visible = (forward > 0) & (np.abs(sideways) <= forward * math.tan(CAMERA_HALF_FOV))
    visible &= np.hypot(forward, sideways) <= CAMERA_RANGE
    return bool(visible.any())


def _behind_and_ahead(distances: list[float], car_distance: float) -> tuple[int, int]:
    """Indices of the object last passed and the next one ahead along the loop (wrapping round)."""
    order = sorted(range(len(distances)), key=distances.__getitem__)
    passed = [index for index in order if distances[index] <= car_distance]
    coming = [index for index in order if distances[index] > car_distance]
    behind = passed[-1] if passed else order[-1]
    ahead = coming[0] if coming else order[0]
    return behind, ahead


def _degrees_within_180(radians: float) -> float:
    degrees = math.degrees(radians) % 360.0
    return degrees - 360.0 if degrees > 180.0 else degrees
