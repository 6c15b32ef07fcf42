"""Learner throughput: env steps/s end to end (workers + batched policy) and PPO update samples/s.

    python bench/learner_throughput.py [--track quick_loop] [--workers 2] [--episodes 10] [--network shallow]

1. End to end: two training iterations of the default vehicle through the engine (env worker processes,
   batched inference, update, evaluation), printing the engine's own timings: env steps/s while
   collecting and update samples/s (samples x epochs / update seconds).
2. The update alone on synthetic frames, with 1 and 2 torch threads (SPEC 6 measured the 3-layer CNN
   PPO update at 650-800 samples/s on 2 threads).
Figures are noisy when other work shares the 2 cores: the load average is printed with them.
"""

import os

for _variable in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "LP_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")

import argparse  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import gymnasium as gym  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from training.artifacts import observation_space  # noqa: E402
from training.engine import TrainingRun, train  # noqa: E402
from training.networks import DEEP_CNN, DEEPEST_CNN, SHALLOW_CNN, build_agent  # noqa: E402
from training.ppo import Batch, PPOConfig, PPOLearner  # noqa: E402

NETWORKS = {"shallow": SHALLOW_CNN, "deep": DEEP_CNN, "simapp-deep": DEEPEST_CNN}
SYNTHETIC_SAMPLES = 1024


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def end_to_end(track: str, workers: int, episodes: int, network: str) -> None:
    metadata = {"action_space_type": "discrete",
                "action_space": [{"steering_angle": s, "speed": v} for s in (-30, -15, 0, 15, 30) for v in (0.5, 1.0)],
                "sensor": ["FRONT_FACING_CAMERA"], "neural_network": network, "training_algorithm": "clipped_ppo"}
    rows = []

    def report(progress):
        if progress.kind == "metrics":
            rows.append(progress.data)
        return True

    with tempfile.TemporaryDirectory() as folder:
        started = time.monotonic()
        train(TrainingRun(model_dir=Path(folder) / "model", metadata=metadata,
                          hyperparameters={"num_episodes_between_training": episodes}, env_kwargs={"track": track},
                          max_iterations=2, num_workers=workers, stream_frames=False), report)
        wall = time.monotonic() - started
    for row in rows:
        print(f"  iteration {row['iteration']}: {row['steps']:6d} steps so far, collect "
              f"{row['charts/env_steps_per_second']:6.0f} env steps/s, update "
              f"{row['charts/update_samples_per_second']:5.0f} samples/s "
              f"({row['timing/collect_seconds']:.1f} s collect, {row['timing/update_seconds']:.1f} s update, "
              f"{row['timing/evaluate_seconds']:.1f} s evaluate)")
    print(f"  overall: {rows[-1]['steps'] / wall:.0f} env steps/s including updates, evaluations and start-up "
          f"({wall:.0f} s)")


def update_only(network: str, threads: int) -> float:
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    agent = build_agent({"neural_network": network}, observation_space(["FRONT_FACING_CAMERA"]), gym.spaces.Discrete(10))
    learner = PPOLearner(agent, PPOConfig(num_epochs=2))
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
    parser.add_argument("--episodes", type=int, default=10, help="episodes per iteration in the end-to-end run")
    parser.add_argument("--network", choices=sorted(NETWORKS), default="shallow")
    parser.add_argument("--skip-env", action="store_true", help="only the update benchmark")
    args = parser.parse_args()
    network = NETWORKS[args.network]
    print(f"learner throughput: {network}, {os.cpu_count()} cores, load average {load()}")
    if not args.skip_env:
        print(f"end to end on {args.track} with {args.workers} env workers:")
        end_to_end(args.track, args.workers, args.episodes, network)
    for threads in (1, 2):
        wall, cpu = update_only(network, threads)
        print(f"PPO update alone, {threads} torch thread(s): {wall:5.0f} samples/s wall "
              f"({cpu:5.0f} if the cores were free)")
    print(f"load average after: {load()}")


if __name__ == "__main__":
    main()
