"""Per-step track geometry cost: projection onto the centre line + the four wheel on-road tests.

The env does this once per step (``simulator.params.place_car``), and building the params dict on
top of it. Target: well under 50 us per step. Prints microseconds per call for every built-in track
(and the real DeepRacer files when the shared folder is beside the checkout).

    python bench/track_geometry.py [--calls 20000]
"""

from __future__ import annotations

import argparse
import os
import sys
import timeit
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from simulator.params import RewardParams, place_car  # noqa: E402
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


def microseconds(function, poses, calls):
    cycle = iter(poses * (calls // len(poses) + 1))
    return timeit.timeit(lambda: function(*next(cycle)), number=calls) / calls * 1e6


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20000)
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.2f} (2 shared cores: figures are noisy under load)")
    print(f"{'track':28} {'N':>4} {'project':>9} {'wheels':>9} {'place_car':>10} {'+params':>9}  (us/call)")
    for track in [BUILTIN_TRACKS[slug] for slug in BUILTIN_TRACKS] + real_tracks():
        poses = poses_on(track, 1000)
        builder = RewardParams(track)
        from simulator.params import wheel_positions

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
        print(f"{track.slug:28} {len(track.waypoints):4d} " + " ".join(f"{value:9.1f}" for value in figures))


if __name__ == "__main__":
    main()
