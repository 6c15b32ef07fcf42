"""Per-step track geometry cost: projection onto the centre line + the four wheel on-road tests.

The env does this once per step (``simulator.params.place_car``), and building the params dict on
top of it. Target: well under 50 us per step. Prints microseconds per call for every built-in track
(and the real DeepRacer files when the shared folder is beside the checkout).

    python bench/track_geometry.py [--calls 20000]
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys
import time
import timeit
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from simulator.params import RewardParams, place_car, wheel_positions  # noqa: E402
from simulator.tracks import BUILTIN_TRACKS, load_npy  # noqa: E402


def real_tracks():
    for folder in Path(__file__).resolve().parents:
        shared = folder / "shared" / "tracks"
        if shared.is_dir():
            return [load_npy(path, path.stem) for path in sorted(shared.glob("*.npy"))]
    return []


def poses_on(track, count, seed=0):
    """Car poses scattered on and around the road (some off it), like a learning car's."""
    rng = np.random.default_rng(seed)
    poses = []
    for distance, lateral, yaw_error in zip(
        rng.uniform(0, track.length, count), rng.normal(0, track.width / 2, count), rng.normal(0, 0.3, count),
        strict=True,
    ):
        x, y, heading = track.pose_at(distance, lateral)
        poses.append((x, y, heading + yaw_error))
    return poses


REPEATS = 7


def microseconds(function, poses, calls):
    """Best of ``REPEATS`` rounds of this process's CPU time: on a shared machine, time spent waiting
    for a core is not ours, and the minimum is the figure least bent by others' load (the median is
    printed too, to show the noise)."""
    cycle = itertools.cycle(poses)
    rounds = timeit.repeat(
        lambda: function(*next(cycle)), number=calls // REPEATS, repeat=REPEATS, timer=time.process_time
    )
    per_call = sorted(elapsed / (calls // REPEATS) * 1e6 for elapsed in rounds)
    return per_call[0], per_call[len(per_call) // 2]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20000)
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.2f} (2 shared cores: figures are noisy under load)")
    print("CPU us per call, best (median) of", REPEATS, "rounds")
    print(f"{'track':24} {'N':>4} {'project':>13} {'wheels':>13} {'place_car':>13} {'+params':>13}")
    for track in [BUILTIN_TRACKS[slug] for slug in BUILTIN_TRACKS] + real_tracks():
        poses = poses_on(track, 1000)
        builder = RewardParams(track)

        def wheels(x, y, heading, track=track):
            return track.contains_points(wheel_positions(x, y, heading))

        def step(x, y, heading, track=track, builder=builder):
            car = place_car(track, x, y, heading)
            return builder.build(car, steering_angle=0.0, speed=1.0, progress=0.0, steps=1)

        figures = [
            microseconds(lambda x, y, heading, track=track: track.project(x, y), poses, args.calls),
            microseconds(wheels, poses, args.calls),
            microseconds(lambda x, y, heading, track=track: place_car(track, x, y, heading), poses, args.calls),
            microseconds(step, poses, args.calls),
        ]
        print(f"{track.slug:24} {len(track.waypoints):4d} " + " ".join(f"{a:6.1f} ({b:5.1f})" for a, b in figures))
    print(f"load average {os.getloadavg()[0]:.2f} at the end")


if __name__ == "__main__":
    main()
