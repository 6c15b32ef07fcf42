"""Server time of the Analysis tab for a model with 200,000 logged steps, and of the reward preview.

Targets (issue 11): the tab of a model with 200,000 steps renders in under 1 s of server time (every view
the page loads at once: summary, heatmap, exits, laps, actions, episode list), with the sim-traces
parsed once and cached per iteration; the reward preview of a 2,000-point grid in under 2 s (sandbox
start included). Builds a synthetic model folder of sim-traces (cars driving quick_loop, weaving, some
leaving the track) in a temporary folder. Figures from a shared machine are noisy: the load average is
printed beside them. Run:

    python bench/analysis_render.py [--steps 200000] [--repeats 3]
"""

import argparse
import csv
import math
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from simulator.reward.examples import EXAMPLES  # noqa: E402
from simulator.reward.preview import PreviewSettings, preview  # noqa: E402
from simulator.tracks import get_track  # noqa: E402
from training import analysis, rescore  # noqa: E402
from training.artifacts import SIMTRACE_COLUMNS  # noqa: E402

EPISODES_PER_ITERATION = 20
METADATA = {"action_space_type": "discrete",
            "action_space": [{"steering_angle": s, "speed": v} for s in (-30, -15, 0, 15, 30) for v in (1.0, 2.0)]}


def write_iteration(path: Path, track, iteration: int, steps_wanted: int, rng) -> int:
    rows, episode, written = [], 0, 0
    while written < steps_wanted:
        start = rng.uniform(0, track.length)
        complete = rng.random() < 0.5
        length = int(rng.integers(60, 260)) if not complete else int(track.length / (1.5 / 15))
        length = min(length, steps_wanted - written)
        for step in range(length):
            distance = start + step * 1.5 / 15
            x, y, heading = track.pose_at(distance, 0.15 * math.sin(step / 9))
            last = step == length - 1
            status = "prepare" if step == 0 else ("lap_complete" if complete and last else
                                                  "off_track" if last else "in_progress")
            action = int(rng.integers(0, 10))
            rows.append([episode, step + 1, round(x, 4), round(y, 4), round(math.degrees(heading), 4),
                         METADATA["action_space"][action]["steering_angle"], METADATA["action_space"][action]["speed"],
                         action, round(float(rng.random()), 4), last, True, round(100 * step / length, 4), 0,
                         round(track.length, 4), round(step / 15, 4), status, 0.0, 0, 1.7e9 + written / 15])
            written += 1
        episode += 1
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(SIMTRACE_COLUMNS)
        writer.writerows(rows)
    return written


def build_folder(folder: Path, track, steps: int) -> int:
    rng = np.random.default_rng(0)
    per_iteration = EPISODES_PER_ITERATION * 250
    total, iteration = 0, 0
    while total < steps:
        total += write_iteration(folder / "training-simtrace" / f"{iteration}-iteration.csv", track, iteration,
                                 min(per_iteration, steps - total), rng)
        iteration += 1
    return iteration


def render_tab(folder, cache, track):
    """What the page asks for when it opens, one endpoint after the other, each loading its steps as a
    request does (a fresh ModelLogs; the process keeps the last ranges in memory)."""
    analysis.iteration_summary(analysis.ModelLogs(folder, cache).training())
    for view in (lambda steps: analysis.heatmap(steps, track, "visits"), analysis.exits, analysis.laps,
                 lambda steps: analysis.actions(steps, track, METADATA), analysis.episode_list):
        view(analysis.ModelLogs(folder, cache).training())


def best_of(repeats, run):
    best = math.inf
    for _ in range(repeats):
        started = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - started)
    return best


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    track = get_track("quick_loop")
    print(f"load average before: {os.getloadavg()}")
    with tempfile.TemporaryDirectory() as temporary:
        folder, cache = Path(temporary) / "model", Path(temporary) / "cache"
        iterations = build_folder(folder, track, args.steps)
        cold = best_of(1, lambda: analysis.ModelLogs(folder, cache).training())
        steps = analysis.ModelLogs(folder, cache).training()
        print(f"{len(steps):,} steps in {iterations} iterations (quick_loop)")
        print(f"parse every CSV (first visit, no cache):       {cold * 1000:8.0f} ms")

        def from_disk():
            analysis._RECENT.clear()   # a fresh web process: the .npz cache only
            return analysis.ModelLogs(folder, cache).training()

        print(f"load from the .npz cache:                      {best_of(args.repeats, from_disk) * 1000:8.0f} ms")
        analysis._RECENT.clear()
        total = best_of(1, lambda: render_tab(folder, cache, track))
        print(f"tab render, every view, fresh process (< 1000 ms): {total * 1000:4.0f} ms")
        total = best_of(args.repeats, lambda: render_tab(folder, cache, track))
        print(f"tab render, every view, again:                 {total * 1000:8.0f} ms")
        for kind in analysis.HEATMAP_KINDS:
            seconds = best_of(args.repeats, lambda kind=kind: analysis.heatmap(steps, track, kind))
            print(f"  heatmap {kind:<10}                           {seconds * 1000:8.0f} ms")
        for name, run in (("summary", lambda: analysis.iteration_summary(steps)),
                          ("laps", lambda: analysis.laps(steps)),
                          ("actions", lambda: analysis.actions(steps, track, METADATA)),
                          ("episode list", lambda: analysis.episode_list(steps)),
                          ("one episode", lambda: analysis.episode_steps(steps, track, 0, 0))):
            print(f"  {name:<18}                           {best_of(args.repeats, run) * 1000:8.0f} ms")
        code = EXAMPLES["follow_center_line"].code
        seconds = best_of(1, lambda: rescore.rescore(code, steps, track))
        print(f"re-score {rescore.MAX_STEPS:,} steps (sandbox start included): {seconds * 1000:8.0f} ms")
    settings = PreviewSettings(points=2000)
    seconds = best_of(args.repeats, lambda: preview(code, track, settings))
    print(f"reward preview, 2,000 points (target < 2000 ms): {seconds * 1000:6.0f} ms")
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
