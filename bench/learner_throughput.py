"""Learner throughput: env steps/s end to end and where the wall clock goes (collect / update / evaluate /
other), then the PPO update alone per sample.

    python bench/learner_throughput.py [--track quick_loop] [--workers 2] [--iterations 3] [--episodes 20]
                                       [--epochs 10] [--bfloat16 auto|on|off] [--network shallow] [--skip-env]

1. End to end: ``--iterations`` training iterations of the default vehicle through the engine (env worker
   processes, batched inference, update, evaluation), the console's default hyperparameters unless
   ``--episodes``/``--epochs`` say otherwise. The wall clock from the call to ``train`` to its return is
   split into: collect (training episodes), update, evaluate (what the evaluation adds to the wall
   clock: it runs during the update and only its overrun counts), other (start-up, trace and metrics
   files, checkpoints). Also: the evaluation's own duration, env steps/s while collecting, update
   samples/s (samples x epochs / update seconds) and the update's cost per env sample. And the CPU
   cost per env step by phase (learner + env worker processes), which other work on the cores does not
   change: the wall clock two free cores would give is about 2 / (CPU seconds per step).
2. The update alone on synthetic frames, float32 and bfloat16, 1 and 2 torch threads: samples per wall
   second and per CPU second (the CPU figure is what free cores would give).
Figures are noisy when other work shares the 2 cores: the load average is printed with them.
"""

import os

for _variable in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "LP_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")

import argparse  # noqa: E402
import resource  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import gymnasium as gym  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.time_to_lap import CONSOLE_DEFAULTS, ORIGINAL_DEEPRACER, track_argument  # noqa: E402
from training.artifacts import observation_space  # noqa: E402
from training.engine import TrainingRun, reuse_freed_memory, train  # noqa: E402
from training.networks import DEEP_CNN, DEEPEST_CNN, SHALLOW_CNN, bfloat16_available, build_agent  # noqa: E402
from training.ppo import Batch, PPOConfig, PPOLearner  # noqa: E402

NETWORKS = {"shallow": SHALLOW_CNN, "deep": DEEP_CNN, "simapp-deep": DEEPEST_CNN}
BFLOAT16 = {"auto": None, "on": True, "off": False}
SYNTHETIC_SAMPLES = 1024


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def end_to_end(args, network: str) -> None:
    metadata = {**ORIGINAL_DEEPRACER, "neural_network": network}
    hyperparameters = {**CONSOLE_DEFAULTS, "num_episodes_between_training": args.episodes, "num_epochs": args.epochs}
    rows = []

    def report(progress):
        if progress.kind == "metrics":
            rows.append(progress.data)
        return True

    with tempfile.TemporaryDirectory() as folder:
        started, cpu_started = time.monotonic(), cpu_seconds()
        result = train(TrainingRun(model_dir=Path(folder) / "model", metadata=metadata, hyperparameters=hyperparameters,
                                   env_kwargs={"track": track_argument(args.track)}, max_iterations=args.iterations,
                                   num_workers=args.workers, update_threads=args.update_threads, stream_frames=False,
                                   bfloat16=BFLOAT16[args.bfloat16]),
                       report)
        wall, cpu = time.monotonic() - started, cpu_seconds() - cpu_started
    for row in rows:
        print(f"  iteration {row['iteration']}: {row['steps']:6d} steps so far, collect "
              f"{row['charts/env_steps_per_second']:5.0f} env steps/s, update "
              f"{row['charts/update_samples_per_second']:5.0f} samples/s ({row['timing/collect_seconds']:.1f} s "
              f"collect, {row['timing/update_seconds']:.1f} s update, evaluation {row['timing/evaluate_seconds']:.1f} s "
              f"of which {row['timing/evaluate_wait_seconds']:.1f} s after the update, "
              f"{row['evaluation_steps']} evaluation steps)")
    split = {"collect": sum(r["timing/collect_seconds"] for r in rows),
             "update": sum(r["timing/update_seconds"] for r in rows),
             "evaluate": sum(r["timing/evaluate_wait_seconds"] for r in rows)}
    split["other"] = wall - sum(split.values())
    steps = result.steps
    print(f"  wall clock {wall:.1f} s for {steps} env steps: "
          + ", ".join(f"{name} {seconds:.1f} s ({100 * seconds / wall:.0f}%)" for name, seconds in split.items()))
    print(f"  evaluation ran {sum(r['timing/evaluate_seconds'] for r in rows):.1f} s in all, alongside the updates")
    print(f"  update cost: {1000 * split['update'] / max(steps, 1):.2f} ms wall per env sample "
          f"({args.epochs} epochs)")
    cpu_report(rows, cpu, steps)
    print(f"  END TO END: {steps / wall:.0f} env steps/s (collect alone {steps / split['collect']:.0f}/s); "
          f"load average {load()}", flush=True)


def cpu_seconds() -> float:
    """CPU seconds of this process and of its children that have ended (the env workers, once train returns)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def cpu_report(rows: list[dict], total: float, steps: int) -> None:
    """CPU ms per env step by phase (learner + env workers; the engine's cpu/* metrics): unlike the wall
    clock it does not depend on what else shares the cores. "other" is the rest of the whole run's CPU
    (start-up, simtrace, checkpoints, the export), of which the iterations' own bookkeeping is shown apart."""
    phases = {name: sum(r[f"cpu/{name}_seconds"] for r in rows) for name in ("collect", "update", "evaluate")}
    in_iterations = sum(r["cpu/other_seconds"] for r in rows)
    phases["other"] = total - sum(phases.values())
    per_step = {name: 1000 * seconds / max(steps, 1) for name, seconds in phases.items()}
    print("  CPU per env step: " + ", ".join(f"{name} {ms:.2f} ms" for name, ms in per_step.items())
          + f" (other in the iterations {1000 * in_iterations / max(steps, 1):.2f} ms); "
          f"total {1000 * total / max(steps, 1):.2f} ms = {total:.1f} CPU s for {steps} steps")
    steady = sum(per_step[name] for name in ("collect", "update", "evaluate")) + 1000 * in_iterations / max(steps, 1)
    print(f"  with 2 free cores and the phases overlapping: {2000 / steady:.0f} env steps/s at most "
          f"(the iterations' {steady:.2f} ms per step; 300/s needs {2000 / 300:.2f} ms)")


def update_only(network: str, threads: int, bfloat16: bool) -> tuple[float, float]:
    reuse_freed_memory()  # as the engine does
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    agent = build_agent({"neural_network": network}, observation_space(["FRONT_FACING_CAMERA"]), gym.spaces.Discrete(10))
    learner = PPOLearner(agent, PPOConfig(num_epochs=2), bfloat16=bfloat16)
    count = SYNTHETIC_SAMPLES
    frames = torch.as_tensor(np.random.default_rng(0).integers(0, 256, (count, 1, 120, 160), dtype=np.uint8))
    batch = Batch({"FRONT_FACING_CAMERA": frames}, torch.randint(0, 10, (count,)), torch.full((count,), -2.3),
                  torch.randn(count), torch.randn(count))
    learner.update(Batch(batch.obs, batch.actions[:128], batch.log_probs[:128], batch.advantages[:128],
                         batch.returns[:128]))  # warm-up: oneDNN picks its kernels
    started = time.process_time(), time.monotonic()
    learner.update(batch)
    cpu, wall = time.process_time() - started[0], time.monotonic() - started[1]
    return count * 2 / wall, count * 2 / cpu * threads


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--track", default="quick_loop")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--update-threads", type=int, default=None,
                        help="the update's torch threads (default: the engine's choice from the cores)")
    parser.add_argument("--iterations", type=int, default=3)
    parser.add_argument("--episodes", type=int, default=CONSOLE_DEFAULTS["num_episodes_between_training"],
                        help="episodes per iteration")
    parser.add_argument("--epochs", type=int, default=CONSOLE_DEFAULTS["num_epochs"])
    parser.add_argument("--bfloat16", choices=sorted(BFLOAT16), default="auto")
    parser.add_argument("--network", choices=sorted(NETWORKS), default="shallow")
    parser.add_argument("--skip-env", action="store_true", help="only the update benchmark")
    args = parser.parse_args()
    network = NETWORKS[args.network]
    print(f"learner throughput: {network}, {os.cpu_count()} cores, bfloat16 {args.bfloat16} "
          f"(hardware: {bfloat16_available('cpu')}), load average {load()}", flush=True)
    if not args.skip_env:
        print(f"end to end on {args.track} with {args.workers} env workers, update threads {args.update_threads or 'auto'}, {args.iterations} iterations of "
              f"{args.episodes} episodes, {args.epochs} epochs:")
        end_to_end(args, network)
    for bfloat16 in (False, True):
        for threads in (1, 2):
            wall, cpu = update_only(network, threads, bfloat16)
            print(f"PPO update alone, {'bfloat16' if bfloat16 else 'float32 '}, {threads} torch thread(s): "
                  f"{wall:5.0f} samples/s wall ({cpu:5.0f} if the cores were free)", flush=True)
    print(f"load average after: {load()}")


if __name__ == "__main__":
    main()
