"""Obstacles and bot cars (SPEC 3): where they are, how bots drive, and when the agent hits one.

Positions are measured along the centre line from THIS episode's start point, in the driving
direction, so a box at the lowest fraction allowed is always a little way ahead of the car, whatever the round-robin
start. A lane is the midline between the centre line and a border (SPEC 5.5). Collisions are footprint
overlaps (shapely): the agent crashes when its footprint overlaps a box, or a bot car that is ahead of it
(a bot running into the agent from behind is not the agent's crash).
"""

import math
from dataclasses import dataclass

import numpy as np
import shapely

from simulator.car import FOOTPRINT_CENTRE_X, FOOTPRINT_LENGTH, FOOTPRINT_WIDTH
from simulator.params import TrackObject
from simulator.spec import (
    DEFAULT_BOT_COUNT,
    DEFAULT_BOT_SPEED,
    DEFAULT_OBJECT_COUNT,
    HEAD_TO_BOT,
    LANES,
    MAX_BOT_SPEED,
    MAX_OBJECTS,
    MIN_BOT_SPEED,
    OBJECT_AVOIDANCE,
    RACE_TYPES,
    TIME_TRIAL,
)
from simulator.spec import MAX_OBJECT_POSITION as OBJECT_MAX_FRACTION
from simulator.spec import MIN_OBJECT_GAP as OBJECT_MIN_GAP
from simulator.spec import MIN_OBJECT_POSITION as OBJECT_MIN_FRACTION
from simulator.world import BOX_LENGTH, BOX_WIDTH, CONTROL_HZ

# Bot cars (SPEC 3, limits in spec.py): constant speed on a lane, optional lane change every 3–5 s.
LANE_CHANGE_EVERY = (3.0, 5.0)
LANE_CHANGE_SECONDS = 1.0
STEP_SECONDS = 1.0 / CONTROL_HZ
# Continuous evaluation: how a reset pose backs away from the object the car hit (m, steps).
RESET_BACKOFF, RESET_BACKOFF_STEPS = 0.1, 30
RESET_CLEARANCE = (0.0, 0.2, 0.4)      # m ahead of the reset pose that must be clear too


@dataclass(frozen=True)
class RaceConfig:
    """A race type, validated: what a model's race_type dict says."""

    race_type: str = TIME_TRIAL
    object_count: int = 0
    randomize_objects: bool = True
    object_positions: tuple = ()            # ((fraction, lane), ...) when not randomized
    bot_count: int = 0
    bot_speed: float = DEFAULT_BOT_SPEED
    bot_lane_changes: bool = False

    @classmethod
    def from_dict(cls, config: dict | None) -> "RaceConfig":
        """Read a race_type dict (INTERFACES.md); None = time trial. Raises ValueError with the reason."""
        if config is None:
            return cls()
        if not isinstance(config, dict):
            raise ValueError(f"race_type must be a dict or None, not {type(config).__name__}")
        race_type = config.get("race_type", TIME_TRIAL)
        if race_type not in RACE_TYPES:
            raise ValueError(f"unknown race_type {race_type!r}; expected one of {', '.join(RACE_TYPES)}")
        if race_type == OBJECT_AVOIDANCE:
            return cls._object_avoidance(config)
        if race_type == HEAD_TO_BOT:
            count = _count(config.get("bot_count", DEFAULT_BOT_COUNT), "bot_count")
            speed = float(config.get("bot_speed", DEFAULT_BOT_SPEED))
            if not MIN_BOT_SPEED <= speed <= MAX_BOT_SPEED:
                raise ValueError(f"bot_speed must be within {MIN_BOT_SPEED}–{MAX_BOT_SPEED} m/s, not {speed}")
            return cls(HEAD_TO_BOT, bot_count=count, bot_speed=speed,
                       bot_lane_changes=bool(config.get("bot_lane_changes", False)))
        return cls()

    @classmethod
    def _object_avoidance(cls, config: dict) -> "RaceConfig":
        randomize = bool(config.get("randomize_objects", not config.get("object_positions")))
        if randomize:
            count = _count(config.get("object_count", DEFAULT_OBJECT_COUNT), "object_count")
            return cls(OBJECT_AVOIDANCE, object_count=count, randomize_objects=True)
        positions = []
        for item in config.get("object_positions") or ():
            try:
                fraction, lane = float(item[0]), str(item[1])
            except (TypeError, ValueError, IndexError):
                raise ValueError(f"an object position is [fraction of lap, 'inner' | 'outer'], not {item!r}") from None
            if not OBJECT_MIN_FRACTION <= fraction <= OBJECT_MAX_FRACTION or lane not in LANES:
                raise ValueError(f"object position {item!r}: the fraction of the lap must be within "
                                 f"{OBJECT_MIN_FRACTION}–{OBJECT_MAX_FRACTION} and the lane inner or outer")
            positions.append((fraction, lane))
        _count(len(positions), "the number of object_positions")
        fractions = sorted(f for f, _ in positions)
        if any(b - a < OBJECT_MIN_GAP - 1e-9 for a, b in zip(fractions, fractions[1:], strict=False)):
            raise ValueError(f"objects must be at least {OBJECT_MIN_GAP} of the lap apart: {fractions}")
        return cls(OBJECT_AVOIDANCE, object_count=len(positions), randomize_objects=False,
                   object_positions=tuple(positions))


def _count(value, what: str) -> int:
    count = int(value)
    if not 1 <= count <= MAX_OBJECTS:
        raise ValueError(f"{what} must be 1–{MAX_OBJECTS}, not {value}")
    return count


def random_object_fractions(rng: np.random.Generator, count: int) -> np.ndarray:
    """`count` sorted fractions within the SPEC 3 limits, far enough apart, uniformly among such layouts:
    sorted uniforms on the slack, then the gaps added back."""
    slack = (OBJECT_MAX_FRACTION - OBJECT_MIN_FRACTION) - (count - 1) * OBJECT_MIN_GAP
    return OBJECT_MIN_FRACTION + np.sort(rng.uniform(0.0, slack, count)) + OBJECT_MIN_GAP * np.arange(count)


class LanePath:
    """Points on the road by (arc length along the centre line, lane position u): u = +1 is the inner
    lane, -1 the outer lane, 0 the centre line; in between blends smoothly (a lane change)."""

    def __init__(self, track):
        centre = np.asarray(track.centre, dtype=float)
        inner, outer = np.asarray(track.inner, dtype=float), np.asarray(track.outer, dtype=float)
        if not np.allclose(centre[0], centre[-1]):
            centre, inner, outer = (np.vstack([a, a[:1]]) for a in (centre, inner, outer))
        self.centre = centre
        self.to_inner_lane = (inner - centre) / 2
        self.to_outer_lane = (outer - centre) / 2
        self.arc = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(centre, axis=0), axis=1))])
        self.length = float(self.arc[-1])

    def _interp(self, s: np.ndarray, values: np.ndarray) -> np.ndarray:
        return np.stack([np.interp(s, self.arc, values[:, 0]), np.interp(s, self.arc, values[:, 1])], axis=-1)

    def point(self, s, u) -> np.ndarray:
        """(..., 2) positions for arc lengths s (wrapped onto the lap) and lane positions u."""
        s = np.mod(np.asarray(s, dtype=float), self.length)
        u = np.asarray(u, dtype=float)[..., None]
        offset = np.where(u > 0, u * self._interp(s, self.to_inner_lane), -u * self._interp(s, self.to_outer_lane))
        return self._interp(s, self.centre) + offset

    def heading(self, s) -> np.ndarray:
        """Direction of travel (radians) of the centre line at arc lengths s."""
        ahead, behind = self.point(np.asarray(s) + 0.05, 0.0), self.point(np.asarray(s) - 0.05, 0.0)
        d = ahead - behind
        return np.arctan2(d[..., 1], d[..., 0])


def rectangles(x, y, yaw, length: float, width: float) -> np.ndarray:
    """Corners (n, 4, 2) of rectangles centred at (x, y) with the long side along yaw."""
    x, y, yaw = np.atleast_1d(x), np.atleast_1d(y), np.atleast_1d(yaw)
    c, s = np.cos(yaw)[:, None], np.sin(yaw)[:, None]
    lx = np.array([1, 1, -1, -1]) * length / 2
    ly = np.array([1, -1, -1, 1]) * width / 2
    return np.stack([x[:, None] + c * lx - s * ly, y[:, None] + s * lx + c * ly], axis=-1)


def car_footprint(x: float, y: float, yaw: float) -> np.ndarray:
    """The agent's (or a bot's) footprint corners from its rear-axle pose."""
    cx, cy = x + FOOTPRINT_CENTRE_X * np.cos(yaw), y + FOOTPRINT_CENTRE_X * np.sin(yaw)
    return rectangles(cx, cy, yaw, FOOTPRINT_LENGTH, FOOTPRINT_WIDTH)[0]


class Obstacles:
    """The boxes or bots of one env: laid out each episode, moved each step, tested for collisions."""

    def __init__(self, config: RaceConfig, track):
        self.config = config
        self.path = LanePath(track)
        self.count = config.object_count or config.bot_count
        self.is_bots = config.race_type == HEAD_TO_BOT
        self.length, self.width = (FOOTPRINT_LENGTH, FOOTPRINT_WIDTH) if self.is_bots else (BOX_LENGTH, BOX_WIDTH)
        self.s = np.zeros(self.count)              # arc length of each object (centre line)
        self.u = np.zeros(self.count)              # lane position, +1 inner / -1 outer
        self.u_target = np.zeros(self.count)
        self.next_change = np.zeros(self.count)    # seconds until the next lane change
        self.heading = np.zeros(self.count)
        self.time = 0.0

    def reset(self, rng: np.random.Generator, start_distance: float) -> None:
        """Lay the objects out ahead of an episode starting at `start_distance` along the centre line."""
        n, lap = self.count, self.path.length
        self.time = 0.0
        if n == 0:
            return
        if self.is_bots:
            # Evenly spread over the lap ahead of the car, each on a random lane.
            fractions = (np.arange(n) + 1) / (n + 1)
            lanes = rng.choice([1.0, -1.0], n)
            self.next_change = rng.uniform(*LANE_CHANGE_EVERY, n)
        elif self.config.randomize_objects:
            fractions = random_object_fractions(rng, n)
            lanes = rng.choice([1.0, -1.0], n)
        else:
            fractions = np.array([f for f, _ in self.config.object_positions])
            lanes = np.array([1.0 if lane == "inner" else -1.0 for _, lane in self.config.object_positions])
        self.s = np.mod(start_distance + fractions * lap, lap)
        self.u = self.u_target = lanes
        self.heading = self.path.heading(self.s)

    def advance(self, rng: np.random.Generator, seconds: float = STEP_SECONDS) -> None:
        """Drive the bots on for one step (boxes stay put)."""
        if not self.is_bots or self.count == 0:
            return
        self.time += seconds
        before = self.positions()
        self.s = np.mod(self.s + self.config.bot_speed * seconds, self.path.length)
        if self.config.bot_lane_changes:
            self.next_change -= seconds
            due = self.next_change <= 0
            self.u_target = np.where(due, -self.u_target, self.u_target)
            self.next_change[due] = rng.uniform(*LANE_CHANGE_EVERY, int(due.sum()))
            step = 2.0 * seconds / LANE_CHANGE_SECONDS
            self.u = self.u + np.clip(self.u_target - self.u, -step, step)
        moved = self.positions() - before
        # Heading from the step's motion, so a lane change turns the bot; on the lap's seam, the road's.
        along = np.hypot(moved[:, 0], moved[:, 1])
        self.heading = np.where(along > 1e-6, np.arctan2(moved[:, 1], moved[:, 0]), self.path.heading(self.s))

    def positions(self) -> np.ndarray:
        """(n, 2) object centres (a bot's centre is its footprint centre)."""
        return self.path.point(self.s, self.u)

    def rear_axle_poses(self) -> np.ndarray:
        """(n, 3) x, y, yaw of each bot's rear-axle origin (for placing its body)."""
        centre = self.positions()
        back = FOOTPRINT_CENTRE_X * np.stack([np.cos(self.heading), np.sin(self.heading)], axis=1)
        return np.column_stack([centre - back, self.heading])

    def track_objects(self) -> tuple[TrackObject, ...]:
        """The objects as the reward params see them: centre, heading (radians), speed, footprint size."""
        if self.count == 0:
            return ()
        speed = self.config.bot_speed if self.is_bots else 0.0
        size = (self.length, self.width)
        return tuple(
            TrackObject(float(x), float(y), float(h), speed, size)
            for (x, y), h in zip(self.positions(), self.heading, strict=True)
        )

    def footprints(self) -> np.ndarray:
        centre = self.positions()
        return rectangles(centre[:, 0], centre[:, 1], self.heading, self.length, self.width)

    def hit(self, car_x: float, car_y: float, car_yaw: float, only_ahead: bool = True) -> bool:
        """Does the agent's footprint overlap a box, or a bot car ahead of it (any bot car when not
        `only_ahead`)?"""
        if self.count == 0:
            return False
        agent = car_footprint(car_x, car_y, car_yaw)
        agent_centre = agent.mean(axis=0)
        centres = self.positions()
        # Only objects within reach can overlap: skip shapely for everything else.
        reach = (np.hypot(FOOTPRINT_LENGTH, FOOTPRINT_WIDTH) + np.hypot(self.length, self.width)) / 2
        near = np.hypot(*(centres - agent_centre).T) <= reach
        if self.is_bots and only_ahead:
            forward = np.array([np.cos(car_yaw), np.sin(car_yaw)])
            near &= (centres - agent_centre) @ forward > 0
        if not near.any():
            return False
        others = shapely.polygons(self.footprints()[near])
        return bool(shapely.intersects(shapely.polygons(agent), others).any())

    def clear_reset_pose(self, track, pose: tuple[float, float, float]) -> tuple[float, float, float]:
        """A continuous-mode reset pose, moved back along the road until the car is clear of every object:
        a car reset into the box it hit would crash again the moment its penalty ends."""
        x, y, yaw = pose
        distance = track.project(x, y).distance
        for _ in range(RESET_BACKOFF_STEPS):
            # Clear where it stands and a little way ahead, so it has room to steer round.
            ahead = [(x + d * math.cos(yaw), y + d * math.sin(yaw)) for d in RESET_CLEARANCE]
            if not any(self.hit(px, py, yaw, only_ahead=False) for px, py in ahead):
                break
            distance -= RESET_BACKOFF
            x, y, yaw = track.pose_at(distance)
        return x, y, yaw


def cars_crashed(poses, in_play) -> list[bool]:
    """Which of several physical cars crashed into another this step (head-to-model racing): a car
    crashes when its footprint overlaps the footprint of another car whose centre is ahead of its own,
    as with a bot car (the car that runs into the other from behind is the one that crashed; head-on,
    both did). ``poses``: each car's rear-axle (x, y, yaw); cars not ``in_play`` (finished, out, or
    sitting out a reset) take no part."""
    count = len(poses)
    crashed = [False] * count
    players = [i for i in range(count) if in_play[i]]
    if len(players) < 2:
        return crashed
    corners = {i: car_footprint(*poses[i]) for i in players}
    centres = {i: corners[i].mean(axis=0) for i in players}
    shapes = {i: shapely.polygons(corners[i]) for i in players}
    reach = np.hypot(FOOTPRINT_LENGTH, FOOTPRINT_WIDTH)
    for a in players:
        for b in players:
            if b <= a or np.hypot(*(centres[b] - centres[a])) > reach or not shapely.intersects(shapes[a], shapes[b]):
                continue
            for me, other in ((a, b), (b, a)):
                yaw = poses[me][2]
                if (centres[other] - centres[me]) @ np.array([math.cos(yaw), math.sin(yaw)]) > 0:
                    crashed[me] = True
    return crashed
