"""Time to lap: from scratch until an evaluation completes 3 of 3 distinct laps at 100%.

The console's defaults throughout: "The Original DeepRacer" (front camera, 3-layer CNN, 30° x 5 steering,
1 m/s x 2 speeds), the "follow the centre line" reward, and the default hyperparameters (batch 64, 10
epochs, lr 3e-4, entropy 0.01, discount 0.999, Huber, 20 episodes between updates; ``--epochs`` changes
the epochs).

    python bench/time_to_lap.py [--track quick_loop | reinvent_base | path/to/track.npy] [--reverse]
                                [--max-minutes 30]
    python bench/time_to_lap.py --all      # a table: every built-in track and ../shared/tracks, both ways

Training runs iteration by iteration as DeepRacer does; when an iteration's evaluation completes every
lap and becomes the best checkpoint, training stops and a 3-trial evaluation of the model (its best
checkpoint, as a racer evaluates it) decides; if it fails, training resumes from the last checkpoint.
Every start strays a little from the centre line (the env's start_noise), so the 3 laps are 3 different
drives: the bench checks that their traces differ. Prints wall-clock minutes, env steps, iterations, the
mean lap time and the spread of the lap times, with the load average (the 2 cores are shared with other
work, so figures vary from run to run), and the track's limit lap for scale.
Target on the 2-core machine: at most 3 minutes on every track, both ways.
"""

import os

for _variable in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "LP_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")

import argparse  # noqa: E402
import shutil  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from simulator.racing_line import limit_lap  # noqa: E402
from simulator.spec import HYPERPARAMETER_DEFAULTS  # noqa: E402
from simulator.tracks import track_from  # noqa: E402
from training import artifacts  # noqa: E402
from training.engine import EvaluationRun, TrainingRun, evaluate, train  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
# The `shared` folder beside the checkout (a git worktree may sit deeper: the nearest ancestor's is used).
SHARED_TRACKS = next((folder / "shared" / "tracks" for folder in REPO.parents if (folder / "shared" / "tracks").is_dir()),
                     REPO / ".." / "shared" / "tracks")
ORIGINAL_DEEPRACER = {
    "action_space_type": "discrete",
    "action_space": [{"steering_angle": s, "speed": v} for s in (-30.0, -15.0, 0.0, 15.0, 30.0) for v in (0.5, 1.0)],
    "sensor": ["FRONT_FACING_CAMERA"],
    "neural_network": "DEEP_CONVOLUTIONAL_NETWORK_SHALLOW",
    "training_algorithm": "clipped_ppo",
    "version": "5",
}
# The console's default hyperparameters for PPO (the wizard's initial values; SAC's alpha aside).
CONSOLE_DEFAULTS = {name: value for name, value in HYPERPARAMETER_DEFAULTS.items() if name != "sac_alpha"}
TRIALS = 3
TARGET_MINUTES = 3


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def track_argument(name: str):
    """A built-in slug, a .npy path, or a real DeepRacer track imported from ../shared/tracks/<name>.npy."""
    for path in (Path(name), SHARED_TRACKS / f"{name}.npy"):
        if path.suffix == ".npy" and path.is_file():
            from simulator.tracks import load_npy

            return load_npy(path, slug=path.stem)
    return name


def drive_paths(simtrace: Path) -> list[list[tuple[float, float]]]:
    """The (X, Y) positions of each episode of a sim trace, in episode order."""
    paths: dict[str, list] = {}
    for row in artifacts.read_simtrace(simtrace):
        paths.setdefault(row["episode"], []).append((float(row["X"]), float(row["Y"])))
    return list(paths.values())


def distinct_drives(simtrace: Path) -> int:
    """How many of an evaluation's episodes took a path of their own (their X, Y rows differ)."""
    return len({tuple(path) for path in drive_paths(simtrace)})


class Watch:
    """Prints each iteration and stops training when an evaluation completes every lap and makes the best
    checkpoint (an all-lap evaluation that is not the best is slower than one already checked)."""

    def __init__(self, started: float):
        self.started = started

    def __call__(self, progress) -> bool:
        if progress.kind != "metrics":
            return True
        data = progress.data
        print(f"  {(time.monotonic() - self.started) / 60:5.1f} min  iteration {data['iteration']:3d}  "
              f"steps {data['steps']:7d}  reward {data['average_reward']:7.1f}  "
              f"training {data['average_training_completion']:5.1f}%  "
              f"evaluation {data['average_evaluation_completion']:5.1f}% "
              f"({data['evaluation_laps_complete']}/{data['evaluation_episodes']} laps)  "
              f"epochs {data.get('losses/epochs', '-')}", flush=True)
        # Only a new best checkpoint is worth a 3-trial check: the check evaluates the model's best checkpoint,
        # as a racer would, with the same seed, so an unchanged best would fail the same way again.
        return data["evaluation_laps_complete"] < data["evaluation_episodes"] or not data["best"]


@dataclass
class Outcome:
    label: str
    minutes: float
    steps: int
    iterations: int
    laps: list  # lap times (s) of the deciding 3-trial evaluation; empty when no lap in time
    limit: float  # the track's limit lap (s), for scale


def time_to_lap(label: str, track, reverse: bool, max_minutes: float, workers: int, seed: int,
                folder: Path, hyperparameters: dict = CONSOLE_DEFAULTS) -> Outcome:
    """Train from scratch until a 3-trial evaluation of the best checkpoint laps 3 of 3 distinct drives."""
    shutil.rmtree(folder, ignore_errors=True)
    env_kwargs = {"track": track, "reverse": reverse}
    print(f"time to lap on {label}: seed {seed}, {workers} env workers, {os.cpu_count()} cores, "
          f"{hyperparameters['num_epochs']} epochs, load average {load()}", flush=True)
    started = time.monotonic()
    watch = Watch(started)
    laps, result = [], None
    while True:
        result = train(TrainingRun(model_dir=folder, metadata=ORIGINAL_DEEPRACER, hyperparameters=hyperparameters,
                                   env_kwargs=env_kwargs, max_minutes=max_minutes,
                                   num_workers=workers, stream_frames=False, seed=seed), watch)
        if result.stop_reason != "stopped":
            print(f"no lap within {max_minutes:g} minutes ({result.stop_reason}, "
                  f"{(time.monotonic() - started) / 60:.1f} min)")
            break
        check = evaluate(EvaluationRun(model_dir=folder, env_kwargs=env_kwargs, trials=TRIALS, video=False,
                                       stream_frames=False, seed=seed), lambda progress: True)
        laps = [t for t in check.trials if t.status == "lap_complete" and t.completion >= 100.0]
        distinct = distinct_drives(check.simtrace_path)
        print(f"  3-trial evaluation: {[f'{t.completion:.0f}% {t.time}' for t in check.trials]}, "
              f"{distinct} distinct drives", flush=True)
        if len(laps) == TRIALS:
            if distinct < TRIALS:
                raise SystemExit("the 3 evaluation laps are the same drive: the starts are not perturbed")
            break
    minutes = (time.monotonic() - started) / 60
    times = [t.time_seconds for t in laps] if len(laps) == TRIALS else []
    limit = limit_lap(track_from(track).reversed() if reverse else track_from(track)).lap_time
    if times:
        print(f"RESULT {label} seed {seed}: {TRIALS}/{TRIALS} distinct laps after {minutes:.1f} min wall clock, "
              f"{result.steps} env steps, {result.iterations} iterations; mean lap {statistics.mean(times):.2f} s "
              f"(laps {', '.join(f'{t:.3f}' for t in times)} s; spread {max(times) - min(times):.3f} s, "
              f"sd {statistics.pstdev(times):.3f} s) (target <= {TARGET_MINUTES} min)")
    print(f"load average after: {load()}", flush=True)
    return Outcome(label, minutes, result.steps, result.iterations, times, limit)


def all_tracks() -> list[tuple[str, object, bool]]:
    """(label, track, reverse): every built-in track both ways, every track in ../shared/tracks both ways."""
    from simulator.tracks import BUILTIN_TRACKS, load_npy

    tracks = [(slug, slug) for slug in BUILTIN_TRACKS]
    tracks += [(path.stem, load_npy(path, slug=path.stem)) for path in sorted(SHARED_TRACKS.glob("*.npy"))]
    return [(f"{name}{' reversed' if reverse else ''}",
             track, reverse) for name, track in tracks for reverse in (False, True)]


def print_table(outcomes: list[Outcome]) -> None:
    print(f"{'track':34s} {'minutes':>8s} {'steps':>8s} {'iter':>5s} {'mean lap':>9s} {'limit':>6s}")
    for o in outcomes:
        lap = f"{statistics.mean(o.laps):8.2f}s" if o.laps else "   no lap"
        minutes = f"{o.minutes:8.1f}" if o.laps else f"  >{o.minutes:5.1f}"
        print(f"{o.label:34s} {minutes} {o.steps:8d} {o.iterations:5d} {lap} {o.limit:5.2f}s")
    done = [o for o in outcomes if o.laps]
    slowest = max((o.minutes for o in done), default=0.0)
    print(f"{len(done)}/{len(outcomes)} lapped 3/3; slowest {slowest:.1f} min (target <= {TARGET_MINUTES} min on "
          f"every one); load average {load()}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--track", default="quick_loop")
    parser.add_argument("--reverse", action="store_true", help="drive the track the other way")
    parser.add_argument("--all", action="store_true",
                        help="every built-in track and every track in ../shared/tracks, both ways: a table")
    parser.add_argument("--max-minutes", type=float, default=None,
                        help="give up after this (default 30, with --all 2 x the target)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0, help="seed of torch and the envs")
    parser.add_argument("--keep", help="keep the model folder here instead of a temporary one")
    parser.add_argument("--epochs", type=int, default=CONSOLE_DEFAULTS["num_epochs"],
                        help=f"num_epochs (the console's default: {CONSOLE_DEFAULTS['num_epochs']})")
    args = parser.parse_args()
    hyperparameters = {**CONSOLE_DEFAULTS, "num_epochs": args.epochs}

    folder = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="time-to-lap-")) / "model"
    if args.all:
        max_minutes = args.max_minutes or 2 * TARGET_MINUTES
        outcomes = []
        for label, track, reverse in all_tracks():
            outcomes.append(time_to_lap(label, track, reverse, max_minutes, args.workers, args.seed, folder,
                                        hyperparameters))
            print_table(outcomes)
        return
    name = f"{args.track}{' reversed' if args.reverse else ''}"
    time_to_lap(name, track_argument(args.track), args.reverse, args.max_minutes or 30.0, args.workers, args.seed,
                folder, hyperparameters)


if __name__ == "__main__":
    main()
