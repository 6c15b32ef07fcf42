"""Fast lap: how close to our car's physical limit a racer's fast setup gets in a fixed wall-clock budget.

    python bench/fast_lap.py [--track reinvent_base | grand_prix | path/to/track.npy] [--minutes 15]
                             [--setups discrete,continuous] [--reward speed_on_racing_line] [--epochs 10]
                             [--workers 2] [--seed 0]

1. The limit lap: the car's limits measured by driving the simulated car (simulator/car_limits.py:
   top speed, acceleration, braking, grip = the lateral acceleration where it starts to slide), and the
   fast line with the speed profile they allow (simulator/racing_line.limit_lap, the code the console's
   racing line uses). Prints the line's length and the limit lap time two ways: flying (already at speed)
   and from rest on the start line, as every evaluation lap is driven: the ratios are to the latter.
2. For each setup, training from scratch for ``--minutes`` of wall clock:
   - "discrete": 10 actions reaching 4 m/s, each steering angle (0, ±5, ±10, ±20, ±30°) at the speed the
     car holds through that steering's turn (measured grip), plus a slower straight (2 m/s);
   - "continuous": steering -30..30°, speed from the limit lap's slowest corner (2.0 m/s on re:Invent
     2018) to 4 m/s (PPO): a car that can take every corner of the fast line need never ask for less;
   with the reward editor's "Speed – progress per step times speed squared, on the racing line" example
   (both: progress per step, weighted by the speed asked for and by the distance to the console's racing
   line, which is inserted above it as the editor inserts it; ``--reward`` picks another example) run in
   the reward sandbox as the console runs it, and the console's defaults otherwise
   (front camera, 3-layer CNN, the default hyperparameters). Each iteration's evaluation is a 3-lap
   evaluation from the start line (deterministic policy, perturbed starts).
3. Every minute: the best 3-lap evaluation so far (mean lap time, only evaluations where all 3 laps
   reached 100%) and its ratio to the limit lap; at the end the curve (with each iteration's training
   progress and policy entropy) and the ratio mean lap / limit lap.
4. Where the time goes: the trained model's best checkpoint (the one a racer would race) drives 3 laps,
   and each lap's ratio is split into line x speed. line = the limit time of the path it drove (that
   path from rest at the car's limits, simulator/racing_line.path_limit and lap_from_rest) / the limit
   lap; speed = its lap time / that path's limit time (how far below the car's limits it drives its path).
Figures are noisy when other work shares the 2 cores: the load average is printed with them.
"""

import os

for _variable in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "LP_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")

import argparse  # noqa: E402
import functools  # noqa: E402
import math  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.time_to_lap import CONSOLE_DEFAULTS, drive_paths, track_argument  # noqa: E402
from simulator.car import WHEELBASE  # noqa: E402
from simulator.car_limits import MEASURED, CarLimits, measure_car_limits  # noqa: E402
from simulator.episode import STEP_SECONDS  # noqa: E402
from simulator.racing_line import (  # noqa: E402
    RacingLine,
    lap_from_rest,
    limit_lap,
    path_limit,
    racing_line,
)
from simulator.reward.examples import EXAMPLES, example_code  # noqa: E402
from simulator.reward.sandbox import RewardSandbox  # noqa: E402
from simulator.tracks import track_from  # noqa: E402
from training.engine import EvaluationRun, TrainingRun, evaluate, train  # noqa: E402

REWARD = "speed_on_racing_line"  # the reward editor's example the setups train with (--reward)
EVALUATION_LAPS = 3
STEERING = (0.0, 5.0, 10.0, 20.0, 30.0)
SLOW_STRAIGHT = 2.0  # m/s


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def discrete_actions(limits: CarLimits) -> list[dict]:
    """Each steering angle at the speed the car holds on its kinematic circle (up to 4 m/s)."""
    actions = []
    for steering in STEERING:
        curvature = np.tan(np.radians(steering)) / WHEELBASE
        speed = 4.0 if steering == 0 else min(4.0, float(limits.corner_speed(curvature)))
        for sign in ((1,) if steering == 0 else (1, -1)):
            actions.append({"steering_angle": sign * steering, "speed": round(speed, 2)})
    actions.append({"steering_angle": 0.0, "speed": SLOW_STRAIGHT})
    return actions


def slowest_corner(limit: RacingLine) -> float:
    """m/s: the slowest speed the limit lap drives, rounded down to 0.1 (a fast setup never asks for less)."""
    return math.floor(float(limit.speeds.min()) * 10) / 10


def setups(limits: CarLimits, limit: RacingLine) -> dict[str, dict]:
    common = {"sensor": ["FRONT_FACING_CAMERA"], "neural_network": "DEEP_CONVOLUTIONAL_NETWORK_SHALLOW",
              "training_algorithm": "clipped_ppo", "version": "5"}
    return {
        "discrete": {**common, "action_space_type": "discrete", "action_space": discrete_actions(limits)},
        "continuous": {**common, "action_space_type": "continuous",
                       "action_space": {"steering_angle": {"low": -30.0, "high": 30.0},
                                        "speed": {"low": slowest_corner(limit), "high": 4.0}}},
    }


@dataclass(frozen=True)
class Limit:
    """The limit lap two ways. Every evaluation trial starts at a standstill on the start line, so the
    ratio that compares like with like is against the limit lap from rest; the flying lap (the line's own
    lap time, already at speed) is given beside it."""

    line: RacingLine
    from_rest: float

    def ratio(self, seconds: float) -> str:
        return f"ratio {seconds / self.from_rest:.2f} ({seconds / self.line.lap_time:.2f} to the flying lap)"


class Curve:
    """Follows the engine's reports: each iteration's 3-lap evaluation, the best so far, a line a minute."""

    def __init__(self, limit: Limit, started: float):
        self.limit, self.started = limit, started
        self.laps: dict[int, list[float | None]] = {}
        self.best: float | None = None
        # minutes, iteration, env steps, training progress %, policy entropy, evaluation progress %, laps
        # completed, their mean lap, best mean lap so far
        self.rows: list[tuple] = []
        self.next_print = 60.0

    def __call__(self, progress) -> bool:
        data = progress.data
        if progress.kind == "episode" and data["phase"] == "evaluation":
            lap = data["steps"] * STEP_SECONDS if data["status"] == "lap_complete" and data["progress"] >= 100 else None
            self.laps.setdefault(data["iteration"], []).append(lap)
        elif progress.kind == "metrics":
            laps = self.laps.pop(data["iteration"], [])[:EVALUATION_LAPS]
            mean = None
            if len(laps) == EVALUATION_LAPS and all(lap is not None for lap in laps):
                mean = float(np.mean(laps))
                self.best = mean if self.best is None else min(self.best, mean)
            self.rows.append(((time.monotonic() - self.started) / 60, data["iteration"], data["steps"],
                              data["average_training_completion"], data.get("losses/entropy", float("nan")),
                              data["average_evaluation_completion"], data["evaluation_laps_complete"], mean,
                              self.best))
        elapsed = time.monotonic() - self.started
        if elapsed >= self.next_print:
            self.next_print += 60.0
            print(f"  {elapsed / 60:5.1f} min  {self.describe()}  (load {load()})", flush=True)
        return True

    def describe(self) -> str:
        if self.best is None:
            return "no 3/3-lap evaluation yet"
        return f"best 3-lap evaluation: mean lap {self.best:.2f} s, {self.limit.ratio(self.best)}"


def run_setup(name: str, metadata: dict, track, minutes: float, workers: int, seed: int, limit: Limit,
              hyperparameters: dict = CONSOLE_DEFAULTS, reward: str = REWARD) -> Curve:
    print(f"setup {name}: {metadata['action_space_type']} {metadata['action_space']}, "
          f"{hyperparameters['num_epochs']} epochs, reward {reward!r}", flush=True)
    code = example_code(reward, track)  # as the editor inserts it (with the track's racing line if it reads one)
    started = time.monotonic()
    curve = Curve(limit, started)
    with tempfile.TemporaryDirectory(prefix="fast-lap-") as folder:
        result = train(TrainingRun(
            model_dir=Path(folder) / "model", metadata=metadata, hyperparameters=hyperparameters,
            env_kwargs={"track": track}, reward_code=code, reward_factory=functools.partial(RewardSandbox, code),
            max_minutes=minutes, eval_episodes=EVALUATION_LAPS, num_workers=workers, stream_frames=False,
            seed=seed), curve)
        wall = time.monotonic() - started
        where_the_time_goes(Path(folder) / "model", track, limit, seed)
    print(f"  curve ({name}): minutes, iteration, env steps, training progress, policy entropy, evaluation "
          "progress, laps of 3, their mean lap, best mean lap so far (ratio)")
    for minutes_at, iteration, steps, training, entropy, progress, laps, mean, best in curve.rows:
        mean_text = "-" if mean is None else f"{mean:.2f} s"
        best_text = "-" if best is None else f"{best:.2f} s ({best / limit.from_rest:.2f})"
        print(f"    {minutes_at:5.1f}  {iteration:4d}  {steps:7d}  {training:5.1f}%  {entropy:6.2f}  {progress:5.1f}%  "
              f"{laps}/3  {mean_text:>7}  {best_text}")
    print(f"RESULT {name}: {curve.describe()} after {wall / 60:.1f} min, {result.steps} env steps "
          f"({result.steps / wall:.0f} steps/s end to end), {result.iterations} iterations; load {load()}", flush=True)
    return curve


def where_the_time_goes(model_dir: Path, track, limit: Limit, seed: int) -> None:
    """The best checkpoint's 3 laps, each lap's ratio to the limit lap from rest split into line x speed."""
    check = evaluate(EvaluationRun(model_dir=model_dir, env_kwargs={"track": track}, trials=EVALUATION_LAPS,
                                   video=False, stream_frames=False, seed=seed), lambda progress: True)
    print(f"  where the time goes (best checkpoint, {EVALUATION_LAPS} laps): ratio = line x speed")
    for trial, path in zip(check.trials, drive_paths(check.simtrace_path), strict=True):
        if trial.status != "lap_complete":
            print(f"    lap {trial.trial}: {trial.completion:.0f}%, {trial.status}")
            continue
        driven = path_limit(np.array(path))
        driven_time = lap_from_rest(driven, path[0])
        print(f"    lap {trial.trial}: {trial.time_seconds:.2f} s, ratio {trial.time_seconds / limit.from_rest:.2f} = "
              f"line {driven_time / limit.from_rest:.2f} ({driven.length:.2f} m against {limit.line.length:.2f} m; "
              f"{driven_time:.2f} s from rest at the car's limits) x speed {trial.time_seconds / driven_time:.2f} "
              f"(mean {driven.length / trial.time_seconds:.2f} m/s; on that path the limits allow "
              f"{driven.length / driven_time:.2f})", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--track", default="reinvent_base")
    parser.add_argument("--minutes", type=float, default=15.0)
    parser.add_argument("--setups", default="discrete,continuous")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--reward", choices=sorted(EXAMPLES), default=REWARD,
                        help=f"the reward editor's example to train with (default {REWARD})")
    parser.add_argument("--epochs", type=int, default=CONSOLE_DEFAULTS["num_epochs"],
                        help=f"num_epochs (the console's default: {CONSOLE_DEFAULTS['num_epochs']})")
    args = parser.parse_args()
    hyperparameters = {**CONSOLE_DEFAULTS, "num_epochs": args.epochs}
    track = track_from(track_argument(args.track))
    print(f"fast lap on {args.track}: {args.minutes:g} min per setup, {args.workers} env workers, "
          f"{os.cpu_count()} cores, load average {load()}", flush=True)
    clock = time.monotonic()
    limits = measure_car_limits()
    print(f"car limits measured in {time.monotonic() - clock:.1f} s: {limits.describe()}")
    if limits != MEASURED:
        print(f"  (recorded in simulator/car_limits.py: {MEASURED.describe()})")
    line = limit_lap(track, limits)
    limit = Limit(line, lap_from_rest(line, track.pose_at(0.0)[:2], limits))
    console = racing_line(track, limits=limits)
    print(f"limit lap: line {line.length:.2f} m (centre line {track.length:.2f} m), {limit.from_rest:.2f} s from rest "
          f"on the start line ({line.lap_time:.2f} s flying); all wheels on the road: {console.length:.2f} m, "
          f"{console.lap_time:.2f} s flying", flush=True)
    curves = {name: run_setup(name, metadata, track, args.minutes, args.workers, args.seed, limit,
                              hyperparameters, args.reward)
              for name, metadata in setups(limits, line).items() if name in args.setups.split(",")}
    print(f"SUMMARY {args.track}: limit lap {limit.from_rest:.2f} s from rest ({line.lap_time:.2f} s flying); "
          + "; ".join(f"{name}: {curve.describe()}" for name, curve in curves.items())
          + f"; load average {load()}")


if __name__ == "__main__":
    main()
