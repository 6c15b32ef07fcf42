"""Re-score recorded steps with another reward function: the params each sim-trace row stands for are
rebuilt on the track (the env's own params builder) and sent to the reward sandbox in batches, episode
by episode in the order they were driven, so a function that keeps state per episode scores as it
would have in training. Plain Python: no Django.
"""

from __future__ import annotations

import math

import numpy as np

from simulator.params import PARAMS_POINT_AHEAD, RewardParams, place_car
from simulator.reward.preview import CALL_TIMEOUT, rewards_within_budget
from simulator.reward.sandbox import RewardFunctionError, RewardSandbox
from simulator.reward.validation import race_objects
from simulator.tracks import Track
from training import analysis

MAX_STEPS = 20_000  # whole episodes up to this many steps: a re-score answers in a couple of seconds


def trace_params(steps: analysis.Steps, track: Track, race_type: dict | None = None) -> list[dict]:
    """The params dict of every row (SPEC 1.1) as far as the trace records it: position, heading,
    commanded steering and speed, progress, steps, status; the rest measured on the track. Objects are
    where the race type puts them (a trace does not record where random boxes were)."""
    builder = RewardParams(track)
    objects = race_objects(track, race_type)
    columns = {name: steps.columns[name].tolist() for name in
               ("x", "y", "yaw", "steer", "throttle", "progress", "steps", "tstamp", "status")}
    params = []
    for x, y, yaw, steer, throttle, progress, step, clock, status in zip(*columns.values(), strict=True):
        heading = math.radians(yaw)
        car = place_car(track, x - PARAMS_POINT_AHEAD * math.cos(heading), y - PARAMS_POINT_AHEAD * math.sin(heading),
                        heading)
        params.append(builder.build(car, steering_angle=steer, speed=throttle, progress=progress, steps=step,
                                    is_offtrack=status == analysis.OFF_TRACK, is_crashed=status == analysis.CRASHED,
                                    sim_time=clock if clock == clock else 0.0, objects=objects))
    return params


def whole_episodes(steps: analysis.Steps, limit: int = MAX_STEPS) -> analysis.Steps:
    """The first episodes of ``steps`` that fit in ``limit`` rows (at least one)."""
    bounds = steps.episode_bounds()
    fitting = bounds[bounds <= limit]
    end = int(fitting[-1]) if len(fitting) > 1 else int(bounds[min(1, len(bounds) - 1)])
    return steps if end >= len(steps) else steps.take(slice(0, end))


def rescore(code: str, steps: analysis.Steps, track: Track, race_type: dict | None = None, *,
            limit: int = MAX_STEPS, backend: str = "auto") -> dict:
    """Both reward heatmaps (recorded and re-scored) of the same steps, the per-episode totals and how
    many steps were scored; or {"errors": [{type, message, line}]} when the function fails."""
    scored = whole_episodes(steps, limit)
    # The first row of an episode ("prepare") is recorded with reward 0: no reward function ran on it.
    called = scored.status != analysis.STATUS_CODE["prepare"]
    params = trace_params(scored.take(called), track, race_type)
    try:
        with RewardSandbox(code, backend=backend, call_timeout=CALL_TIMEOUT) as sandbox:
            rewards = rewards_within_budget(sandbox, params)
    except RewardFunctionError as error:
        return {"errors": [{"type": "TEST_FAILURE", "line": error.line,
                            "message": "Re-score failed: " + error.message.split("; the sandbox was stopped")[0]}]}
    new_rewards = np.zeros(len(scored))
    new_rewards[called] = rewards
    rescored = analysis.Steps({**scored.columns, "reward": new_rewards})
    original_episodes, new_episodes = analysis.episodes(scored), analysis.episodes(rescored)
    return {
        "steps": len(scored), "total_steps": len(steps), "truncated": len(scored) < len(steps),
        "original": analysis.heatmap(scored, track, "reward"),
        "rescored": analysis.heatmap(rescored, track, "reward"),
        "episodes": {"iteration": original_episodes.iteration.tolist(), "episode": original_episodes.episode.tolist(),
                     "original": analysis._rounded(original_episodes.reward),
                     "rescored": analysis._rounded(new_episodes.reward)},
    }
