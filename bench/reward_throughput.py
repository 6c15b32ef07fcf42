"""Reward-function calls per second through the sandbox, one per round trip and batched.

Targets (issue 6): >= 30,000 calls/s single round trip and >= 150,000 calls/s batched on the 2-core dev
machine. Prints, per backend and function, calls/s, the overhead per call back to back (µs per call through
the sandbox minus the same function called in-process), and the overhead per env step: calls separated by
a few ms of busy work, as in training, where the sandbox must be woken for each step. Figures from a
shared machine are noisy: the load average is printed beside them. Run:

    python bench/reward_throughput.py [--calls 20000] [--batch 256] [--step-ms 2] [--track quick_loop]
                                       [--repeats 3]
"""

import argparse
import math
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from simulator.params import RewardParams, place_car  # noqa: E402
from simulator.reward.sandbox import BACKENDS, RewardSandbox, check_isolation  # noqa: E402
from simulator.tracks import get_track  # noqa: E402

TRIVIAL = """
def reward_function(params):
    return 1.0
"""

# The classic "align with the track direction" function from the DeepRacer guide.
WAYPOINT_HEADING = """
import math

def reward_function(params):
    waypoints = params["waypoints"]
    behind, ahead = params["closest_waypoints"]
    track_direction = math.degrees(math.atan2(waypoints[ahead][1] - waypoints[behind][1],
                                              waypoints[ahead][0] - waypoints[behind][0]))
    direction_diff = abs(track_direction - params["heading"])
    if direction_diff > 180:
        direction_diff = 360 - direction_diff
    reward = 1.0
    if direction_diff > 10.0:
        reward *= 0.5
    if not params["all_wheels_on_track"]:
        reward = 1e-3
    return float(reward)
"""
FUNCTIONS = {"trivial": TRIVIAL, "waypoint heading": WAYPOINT_HEADING}
STEPS_MEASURED = 1000


def env_params(track, count):
    """Params dicts as the env builds them each step (simulator.params), for a car going round the track
    near the centre line."""
    builder = RewardParams(track)
    params = []
    for step in range(count):
        distance = (step * 0.05) % track.length
        x, y, heading = track.pose_at(distance, 0.05 * math.sin(step / 10))
        car = place_car(track, x, y, heading + 0.1 * math.sin(step / 7))
        params.append(builder.build(car, steering_angle=15.0, speed=1.0, progress=100 * distance / track.length,
                                    steps=step + 1, sim_time=step / 15))
    return params


def in_process_us(code, params):
    namespace = {}
    exec(compile(code, "reward_function.py", "exec"), namespace)
    function = namespace["reward_function"]
    started = time.perf_counter()
    for item in params:
        float(function(dict(item)))
    return (time.perf_counter() - started) / len(params) * 1e6


def busy(seconds):
    """Stand-in for the rest of an env step (physics, rendering): the worker's core stays busy."""
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


def seconds_per_call(run, calls, repeats):
    """The best of ``repeats`` timings of ``run()`` per call: on a shared machine the best run is the
    one least disturbed by others."""
    best = math.inf
    for _ in range(repeats):
        started = time.perf_counter()
        run()
        best = min(best, (time.perf_counter() - started) / calls)
    return best


def measure(backend, code, params, batch, step_seconds, repeats):
    """(single, batched, per env step) seconds per call. Per env step: calls separated by
    ``step_seconds`` of busy work, as in training, where the sandbox sleeps between steps and has to be
    woken up; the step's own work is subtracted."""
    stepped = params[:STEPS_MEASURED]

    def singles():
        for item in params:
            sandbox(item)

    def batches():
        for start in range(0, len(params), batch):
            sandbox.call_batch(params[start:start + batch])

    def steps():
        for item in stepped:
            busy(step_seconds)
            sandbox(item)

    with RewardSandbox(code, backend=backend) as sandbox:
        for item in params[:200]:
            sandbox(item)                       # warm up
        single = seconds_per_call(singles, len(params), repeats)
        batched = seconds_per_call(batches, len(params), repeats)
        per_step = seconds_per_call(steps, len(stepped), repeats) - step_seconds
    return single, batched, per_step


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20000)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--step-ms", type=float, default=2.0, help="busy work per env step")
    parser.add_argument("--track", default="quick_loop")
    parser.add_argument("--repeats", type=int, default=3, help="best of this many runs")
    args = parser.parse_args()
    track = get_track(args.track)
    params = env_params(track, args.calls)
    print(f"load average before: {os.getloadavg()}; {args.calls} calls, batches of {args.batch}, track "
          f"{track.slug} ({len(track.waypoints)} waypoints), env steps of {args.step_ms} ms, "
          f"best of {args.repeats}; auto backend: {check_isolation()}")
    print(f"{'backend':<12} {'function':<18} {'single calls/s':>15} {'batched calls/s':>16} "
          f"{'in-process µs':>14} {'overhead µs/call':>17} {'overhead µs/env step':>21}")
    for backend in BACKENDS:
        for name, code in FUNCTIONS.items():
            single, batched, per_step = measure(backend, code, params, args.batch, args.step_ms / 1000,
                                                args.repeats)
            local = in_process_us(code, params)
            print(f"{backend:<12} {name:<18} {1 / single:>15,.0f} {1 / batched:>16,.0f} {local:>14.2f} "
                  f"{single * 1e6 - local:>17.2f} {per_step * 1e6 - local:>21.2f}")
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
