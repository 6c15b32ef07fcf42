"""The reward editor's Preview: what a reward function gives a car at each point of a grid across the
road, before any training. Plain Python; the racer's code runs only in the reward sandbox, batched.

Each grid point is a car on the road: heading along the track plus an adjustable offset, the chosen speed
and steering, and the progress and steps a car that started at the start line and drove there at that
speed would have, so functions that look at progress or steps preview as they would train. The points
go to the sandbox in the order of a lap (the start line first), one batch.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np

from simulator.episode import STEP_SECONDS
from simulator.params import PARAMS_POINT_AHEAD, RewardParams, place_car
from simulator.reward.sandbox import RewardFunctionError, RewardSandbox
from simulator.reward.validation import race_objects
from simulator.spec import STEERING_LIMIT
from simulator.tracks import Track

DEFAULT_POINTS = 2000
MAX_POINTS = 5000
ACROSS = 10  # points across the road at each position along it
# A preview or a re-score answers a web request: each call may take up to CALL_TIMEOUT, all of them
# together about BUDGET_SECONDS (checked between batches of BUDGET_BATCH calls, so a function that sleeps
# cannot hold a web server thread for longer than BUDGET_SECONDS + BUDGET_BATCH * CALL_TIMEOUT).
CALL_TIMEOUT = 1.0
BUDGET_SECONDS = 20.0
BUDGET_BATCH = 256


class OverBudget(RewardFunctionError):
    kind = "timeout"


def rewards_within_budget(sandbox: RewardSandbox, params: list[dict], budget: float = BUDGET_SECONDS) -> list[float]:
    """``sandbox.call_batch(params)`` in batches, giving up with OverBudget once ``budget`` seconds are spent."""
    started = time.monotonic()
    rewards: list[float] = []
    for start in range(0, len(params), BUDGET_BATCH):
        if time.monotonic() - started > budget:
            raise OverBudget(f"the function needed more than {budget:g} s for {start:,} of {len(params):,} "
                             "calls; make it faster (or ask for fewer points)")
        rewards.extend(sandbox.call_batch(params[start:start + BUDGET_BATCH]))
    return rewards


@dataclass(frozen=True)
class PreviewSettings:
    points: int = DEFAULT_POINTS
    heading_offset: float = 0.0  # degrees added to the track's direction (positive: turned left)
    speed: float = 1.0  # m/s
    steering_angle: float = 0.0  # degrees

    def errors(self) -> dict[str, str]:
        """{field: reason} for values the preview cannot use."""
        errors = {}
        if not 50 <= self.points <= MAX_POINTS:
            errors["points"] = f"Choose between 50 and {MAX_POINTS:,} points."
        if not -180 <= self.heading_offset <= 180:
            errors["heading_offset"] = "The heading offset is between -180 and 180 degrees."
        if not 0.1 <= self.speed <= 4.0:
            errors["speed"] = "The speed is between 0.1 and 4 m/s."
        if not -STEERING_LIMIT <= self.steering_angle <= STEERING_LIMIT:
            errors["steering_angle"] = f"The steering angle is between -{STEERING_LIMIT:g} and {STEERING_LIMIT:g} degrees."
        return errors


def grid_params(track: Track, settings: PreviewSettings, race_type: dict | None = None) -> list[dict]:
    """The params dicts of the grid, in the order of a lap: along the track, and across the road from the
    right border to the left at each position (points just inside the borders)."""
    along = max(settings.points // ACROSS, 1)
    builder = RewardParams(track)
    objects = race_objects(track, race_type)
    cumulative = np.concatenate(([0.0], np.cumsum(np.hypot(*np.diff(track.centre, axis=0).T))))
    offset = math.radians(settings.heading_offset)
    params = []
    for index in range(along):
        distance = index * track.length / along
        half_width = float(np.interp(distance, cumulative, track.widths)) / 2 * 0.98
        steps = 1 + round(distance / max(settings.speed * STEP_SECONDS, 1e-9))
        for lateral in np.linspace(-half_width, half_width, ACROSS):
            x, y, heading = track.pose_at(distance, float(lateral))
            heading += offset
            origin_x, origin_y = x - PARAMS_POINT_AHEAD * math.cos(heading), y - PARAMS_POINT_AHEAD * math.sin(heading)
            car = place_car(track, origin_x, origin_y, heading)
            params.append(builder.build(car, steering_angle=settings.steering_angle, speed=settings.speed,
                                        progress=100.0 * distance / track.length, steps=steps,
                                        sim_time=steps * STEP_SECONDS, objects=objects,
                                        is_offtrack=not car.any_wheel_on_track))
    return params


def preview(code: str, track: Track, settings: PreviewSettings, race_type: dict | None = None, *,
            backend: str = "auto") -> dict:
    """{"x", "y", "reward"} of the grid (params x, y) or {"errors": [{type, message, line}]} when the
    function fails, as Validate reports it. Raises IsolationUnavailable when no sandbox works."""
    params = grid_params(track, settings, race_type)
    try:
        with RewardSandbox(code, backend=backend, call_timeout=CALL_TIMEOUT) as sandbox:
            rewards = rewards_within_budget(sandbox, params)
    except RewardFunctionError as error:
        return {"errors": [{"type": "TEST_FAILURE", "line": error.line,
                            "message": "Preview failed: " + error.message.split("; the sandbox was stopped")[0]}]}
    return {"x": [round(p["x"], 4) for p in params], "y": [round(p["y"], 4) for p in params],
            "reward": [round(r, 6) for r in rewards], "points": len(params)}
