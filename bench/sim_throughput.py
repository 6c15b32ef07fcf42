"""Simulator throughput: env steps per second with the camera on, for 1 and N processes, and where a
step's time goes (physics, camera render, task: placement + episode rules + params + reward).

    python bench/sim_throughput.py [--seconds 5] [--processes 2] [--track quick_loop]

Targets on the 2-core development machine: >= 450 env steps/s in total with the 160x120 camera, and
>= 5,000 steps/s for physics + params alone. Figures are noisy when other work shares the cores: the
load average is printed with them.
"""

import os

# One thread per process everywhere (BLAS, torch, Mesa's llvmpipe): processes are the parallelism.
for _variable in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "LP_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")

import argparse  # noqa: E402
import multiprocessing  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

# Runnable as a script from the repository root (spawned workers inherit the path through sys.path).
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import simulator  # noqa: E402,F401  (headless GL default before mujoco is imported)

CAMERA = ("FRONT_FACING_CAMERA",)
WARMUP_STEPS = 30


def make_env(track: str, sensors):
    from simulator.env import DeepRacerEnv

    return DeepRacerEnv(track=track, sensors=sensors)


def drive(env, seconds: float, seed: int = 0) -> tuple[int, float, float]:
    """Random discrete actions with resets, for `seconds`: (steps, wall seconds, CPU seconds).

    CPU seconds (all threads of this process, llvmpipe's included) say what the steps cost whatever
    else shares the cores; wall seconds say what this machine delivered at this moment."""
    rng = np.random.default_rng(seed)
    env.reset(seed=seed)
    for _ in range(WARMUP_STEPS):
        if any(env.step(int(rng.integers(env.action_space.n)))[2:4]):
            env.reset()
    steps, start, cpu = 0, time.perf_counter(), time.process_time()
    while time.perf_counter() - start < seconds:
        for _ in range(50):
            _, _, terminated, truncated, _ = env.step(int(rng.integers(env.action_space.n)))
            if terminated or truncated:
                env.reset()
        steps += 50
    return steps, time.perf_counter() - start, time.process_time() - cpu


def _worker(track, sensors, seconds, seed, queue):
    env = make_env(track, sensors)
    queue.put(drive(env, seconds, seed))
    env.close()


def parallel(track: str, sensors, processes: int, seconds: float) -> tuple[float, float]:
    """Total env steps/s of `processes` envs stepping side by side (spawned processes): by the wall
    clock, and per CPU second summed over the processes (what the cores could do if they were ours)."""
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    workers = [context.Process(target=_worker, args=(track, sensors, seconds, seed, queue))
               for seed in range(processes)]
    for worker in workers:
        worker.start()
    results = [queue.get() for _ in workers]
    for worker in workers:
        worker.join()
    wall = sum(steps / elapsed for steps, elapsed, _ in results)
    per_cpu = sum(steps / cpu for steps, _, cpu in results) / processes
    return wall, per_cpu * min(processes, os.cpu_count() or 1)


def split(track: str, repeats: int = 600) -> dict[str, float]:
    """CPU microseconds per env step spent in each part, measured part by part on a live episode."""
    env = make_env(track, CAMERA)
    env.reset(seed=0)
    world, camera = env.world, env.sensors["FRONT_FACING_CAMERA"]
    timings = {"physics": 0.0, "render": 0.0, "task": 0.0}
    for step in range(repeats):
        if step % 150 == 0:
            env.reset(seed=step)
        t0 = time.process_time()
        world.car.command(0.0, 1.0)
        world.step()
        env.obstacles.advance(env.np_random)
        t1 = time.process_time()
        camera.read()
        t2 = time.process_time()
        placement = env._placement()
        if env.episode.done:
            env.reset()
        else:
            outcome = env.episode.step(placement, crashed=env.obstacles.hit(*placement.origin, placement.heading))
            params = env.reward_params.build(placement, steering_angle=0.0, speed=1.0, progress=outcome.progress,
                                             steps=env.episode.steps, sim_time=float(world.data.time))
            env._reward(params)
        t3 = time.process_time()
        timings["physics"] += t1 - t0
        timings["render"] += t2 - t1
        timings["task"] += t3 - t2
    env.close()
    return {part: seconds / repeats * 1e6 for part, seconds in timings.items()}


def load() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description="DeepRacer-v0 simulator throughput")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--processes", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--track", default="quick_loop")
    args = parser.parse_args()
    print(f"track {args.track}, {os.cpu_count()} cores, MUJOCO_GL={os.environ.get('MUJOCO_GL')}, "
          f"LP_NUM_THREADS={os.environ.get('LP_NUM_THREADS')}, load average before: {load()}")

    parts = split(args.track)
    total = sum(parts.values())
    print("CPU cost per env step (µs): " + ", ".join(f"{name} {value:.0f}" for name, value in parts.items())
          + f", total {total:.0f} (≈ {1e6 / total:.0f} steps/s)")

    env = make_env(args.track, ())
    steps, wall, cpu = drive(env, args.seconds)
    env.close()
    print(f"physics + params (no sensors), 1 process: {steps / wall:6.0f} env steps/s wall, "
          f"{steps / cpu:6.0f} per CPU second   (target >= 5000)")

    env = make_env(args.track, CAMERA)
    steps, wall, cpu = drive(env, args.seconds)
    env.close()
    print(f"camera 160x120, 1 process:               {steps / wall:6.0f} env steps/s wall, "
          f"{steps / cpu:6.0f} per CPU second")

    wall, cores = parallel(args.track, CAMERA, args.processes, args.seconds)
    print(f"camera 160x120, {args.processes} processes:             {wall:6.0f} env steps/s wall in total, "
          f"{cores:6.0f} if the {min(args.processes, os.cpu_count() or 1)} cores were free   (target >= 450)")
    print(f"load average after: {load()}")


if __name__ == "__main__":
    main()
