"""The rules of one episode (SPEC 1.2): where it starts, how progress wraps, and how it ends.

A pure state machine: the env feeds it the car's placement after every physics step (and whether the
car hit something) and reads back the status, the progress and, in continuous evaluation, where to
put the car back on the track. No physics, no clocks: time advances by one control step per call.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

from simulator.params import PARAMS_POINT_AHEAD, CarPlacement, pose_on_centre_line
from simulator.spec import DEFAULT_PENALTY
from simulator.tracks import Track

STEP_SECONDS = 1 / 15  # DeepRacer's control rate is 15 Hz
ROUND_ROBIN_ADVANCE = 0.05  # of the lap, between consecutive training starts
PROGRESS_WRAP = 50.0  # %: a jump bigger than this in one step is the car crossing the start line
STEPS_TO_REVERSED = 15  # consecutive steps of falling progress
STEPS_TO_IMMOBILIZED = 15  # consecutive steps of (almost) no movement
IMMOBILIZED_DISTANCE = 0.0003  # m per step
# A real car is never put down twice the same way: every start is off by up to this much (uniform, at
# start_noise=1), or a deterministic policy in a deterministic simulator drives the same lap every time.
# Small enough that the params point stays near the centre line (progress 0 at an evaluation start).
START_LATERAL_NOISE = 0.05  # m, of the params point, across the road
START_HEADING_NOISE = math.radians(4.0)  # of the car, against the driving direction
# An episode is cut off (truncated) once it has run as long as this many laps of the centre line at the
# car's slowest speed. A car that laps, at any of its speeds, takes far fewer steps: only one wandering on
# the road is cut off, such as a deterministic policy circling where progress never falls 15 steps running.
# A fixed cap of 10,000 steps let each such evaluation episode run 11 minutes of sim time, which measured
# 1.5 of a 2.4-minute training on flow_cup reversed.
WANDER_LAPS = 3


def step_cap(track_length: float, slowest_speed: float) -> int:
    """The steps after which an episode is truncated: WANDER_LAPS centre-line laps at ``slowest_speed``."""
    return math.ceil(WANDER_LAPS * track_length / slowest_speed / STEP_SECONDS)


class Status(StrEnum):
    """Episode statuses, spelled as in the sim trace."""

    PREPARE = "prepare"
    IN_PROGRESS = "in_progress"
    LAP_COMPLETE = "lap_complete"
    OFF_TRACK = "off_track"
    CRASHED = "crashed"
    REVERSED = "reversed"
    IMMOBILIZED = "immobilized"
    PAUSE = "pause"


TERMINAL = frozenset({Status.LAP_COMPLETE, Status.OFF_TRACK, Status.CRASHED, Status.REVERSED, Status.IMMOBILIZED})

# The metrics JSON spells the final statuses for people (SPEC 5.3).
METRICS_STATUS = {
    Status.LAP_COMPLETE: "Lap complete",
    Status.OFF_TRACK: "Off track",
    Status.CRASHED: "Crashed",
    Status.REVERSED: "Reversed",
    Status.IMMOBILIZED: "Immobilized",
}


def wrap_progress(raw_fraction: float, previous: float) -> float:
    """Progress in % from the episode's start, given the car's position as a fraction of the lap
    measured from the start (may be negative) and the previous step's progress (SPEC 1.2).

    As in DeepRacer's simulator, a car that backs over the start line gets a small negative progress
    (the "crossed backwards" rule subtracts 100); it keeps falling, and the episode ends ``reversed``."""
    progress = 100.0 * raw_fraction
    if progress <= 0.0:
        progress += 100.0
    if previous > progress + PROGRESS_WRAP:  # crossed the start line forwards
        progress += 100.0
    if progress > previous + PROGRESS_WRAP:  # crossed it backwards
        progress -= 100.0
    return min(progress, 100.0)


class StartPositions:
    """Round robin of start points, as fractions of the lap from waypoint 0.

    Training: each episode starts 5% of the lap further on than the one before, from ``offset`` (so
    vectorized workers can stagger their starts). Evaluation: every episode starts at progress 0.
    """

    def __init__(self, mode: str = "training", offset: float = 0.0):
        if mode not in ("training", "evaluation"):
            raise ValueError(f"mode must be 'training' or 'evaluation', not {mode!r}")
        self.mode = mode
        self.offset = float(offset) % 1.0
        self.episodes = 0

    def next_start(self) -> float:
        if self.mode == "evaluation":
            return 0.0
        start = (self.offset + ROUND_ROBIN_ADVANCE * self.episodes) % 1.0
        self.episodes += 1
        return round(start, 12) % 1.0  # 20 x 0.05 must come back to exactly the offset


@dataclass(frozen=True, slots=True)
class StepOutcome:
    """What one step did to the episode."""

    status: Status
    progress: float  # %, 0..100
    done: bool  # the episode is over (terminal status, never in continuous mode except a lap)
    reset_pose: tuple[float, float, float] | None = None  # continuous mode: put the car here (rear axle)
    pause_duration: float = 0.0  # s of penalty still to sit out (sim trace ``pause_duration``)


class Episode:
    """One episode of one car on one track.

    ``continuous``: continuous evaluation. Off track and crashes do not end the run: they are counted,
    the car goes back to the nearest point of the centre line, and it sits out a penalty in the
    ``pause`` status (the env holds it still) before racing on. Only a completed lap ends the episode.
    """

    def __init__(
        self,
        track: Track,
        start: float = 0.0,
        *,
        continuous: bool = False,
        off_track_penalty: float = DEFAULT_PENALTY,
        collision_penalty: float = DEFAULT_PENALTY,
        step_seconds: float = STEP_SECONDS,
        start_perturbation: tuple[float, float] = (0.0, 0.0),
    ):
        self.track = track
        self.start = float(start) % 1.0
        self.start_perturbation = start_perturbation  # (m left of the centre line, rad left of the road)
        self.continuous = continuous
        self.off_track_penalty = off_track_penalty
        self.collision_penalty = collision_penalty
        self.step_seconds = step_seconds
        self.status = Status.PREPARE
        self.steps = 0
        self.progress = 0.0
        self.off_track_count = 0
        self.crash_count = 0
        self.reset_count = 0
        self.penalty_time = 0.0
        self._pause_left = 0.0
        self._falling_steps = 0
        self._still_steps = 0
        self._last_position: tuple[float, float] | None = None

    @property
    def start_pose(self) -> tuple[float, float, float]:
        """Rear-axle pose (x, y, yaw rad) at the start point: the params point on the centre line, moved
        across the road and turned by ``start_perturbation``. Moving straight across keeps the params
        point's projection, so the episode still starts at progress 0."""
        lateral, turn = self.start_perturbation
        x, y, heading = self.track.pose_at(self.start * self.track.length, lateral)
        yaw = heading + turn
        return x - PARAMS_POINT_AHEAD * math.cos(yaw), y - PARAMS_POINT_AHEAD * math.sin(yaw), yaw

    @property
    def done(self) -> bool:
        return self.status in TERMINAL and (not self.continuous or self.status == Status.LAP_COMPLETE)

    def step(self, car: CarPlacement, crashed: bool = False) -> StepOutcome:
        """Advance one control step with the car where it now is; ``crashed``: its footprint hit a
        box or a bot car. Returns the new status and progress."""
        if self.done:
            raise RuntimeError(f"the episode is over ({self.status}); start a new one")
        self.steps += 1
        if self._pause_left > 0.0:
            return self._sit_out_penalty()
        previous = self.progress
        raw = car.projection.distance / self.track.length - self.start
        self.progress = wrap_progress(raw, previous)
        self._count_falling_and_still(car, previous)

        if crashed:
            return self._leave(Status.CRASHED, car, self.collision_penalty)
        if not car.any_wheel_on_track:
            return self._leave(Status.OFF_TRACK, car, self.off_track_penalty)
        if self.progress >= 100.0:
            return self._end(Status.LAP_COMPLETE)
        if self._falling_steps >= STEPS_TO_REVERSED:
            return self._end(Status.REVERSED)
        if self._still_steps >= STEPS_TO_IMMOBILIZED:
            return self._end(Status.IMMOBILIZED)
        return self._end(Status.IN_PROGRESS)

    def _count_falling_and_still(self, car: CarPlacement, previous: float):
        falling = self.steps > 1 and self.progress < previous
        self._falling_steps = self._falling_steps + 1 if falling else 0
        if self._last_position is None:
            moved = math.inf
        else:
            moved = math.hypot(car.x - self._last_position[0], car.y - self._last_position[1])
        self._still_steps = self._still_steps + 1 if moved <= IMMOBILIZED_DISTANCE else 0
        self._last_position = (car.x, car.y)

    def _end(self, status: Status) -> StepOutcome:
        self.status = status
        return StepOutcome(status, self.progress, self.done)

    def _leave(self, status: Status, car: CarPlacement, penalty: float) -> StepOutcome:
        """Off track or crashed: the end of the episode, or in continuous mode a reset and a pause."""
        if not self.continuous:
            return self._end(status)
        if status == Status.CRASHED:
            self.crash_count += 1
        else:
            self.off_track_count += 1
        self.reset_count += 1
        self.penalty_time += penalty
        self._pause_left = penalty
        self._falling_steps = self._still_steps = 0
        self._last_position = None
        self.status = status
        reset_pose = pose_on_centre_line(self.track, car.projection.distance)
        return StepOutcome(status, self.progress, False, reset_pose=reset_pose, pause_duration=penalty)

    def _sit_out_penalty(self) -> StepOutcome:
        self._pause_left = max(0.0, self._pause_left - self.step_seconds)
        if self._pause_left < 1e-9:
            self._pause_left = 0.0
        self.status = Status.PAUSE
        return StepOutcome(Status.PAUSE, self.progress, False, pause_duration=self._pause_left)

    def trace(self, car: CarPlacement, command: tuple[float, float], action, reward: float, status: str,
              pause: float, done: bool, sim_time: float) -> dict:
        """The sim-trace row of SPEC 5.2 after a step (or the ``prepare`` row of a start), less `episode`
        and `wall_clock`. Rows count from 1: the `prepare` row is 1 and the row of the k-th action k + 1
        (deepracer-utils counts an episode's steps as max - min + 1, its rows), while params["steps"] of
        the k-th action is k."""
        crashes = self.crash_count + (status == Status.CRASHED.value and not self.continuous)
        return {
            "steps": self.steps + 1,
            "X": car.x,
            "Y": car.y,
            "yaw": math.degrees(car.heading),
            "steer": command[0],
            "throttle": command[1],
            "action": action,
            "reward": reward,
            "done": bool(done),
            "all_wheels_on_track": car.all_wheels_on_track,
            "progress": self.progress,
            "closest_waypoint": car.closest_waypoint,
            "track_len": self.track.length,
            "tstamp": float(sim_time),
            "episode_status": status,
            "pause_duration": pause,
            "obstacle_crash_counter": int(crashes),
        }
