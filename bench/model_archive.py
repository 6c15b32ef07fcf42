"""Model download streaming speed: MB/s of the .tar.gz a racer gets for a model folder.

A folder is mostly checkpoints (float32 weights, which barely compress) and sim-trace CSVs (which compress
3-4x). Prints MB/s of folder streamed for each kind, with the machine's load. Target: the CSVs at well over
50 MB/s per CPU second (gzip level 9 manages ~10), checkpoints as fast as zlib can pass them through.

    python bench/model_archive.py [--megabytes 64]
"""

import argparse
import io
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "console.settings")

import django  # noqa: E402

django.setup()

from models_app.archive import stream_tar_gz  # noqa: E402


def checkpoints(root: Path, megabytes: int) -> list[tuple[str, Path]]:
    rng = np.random.default_rng(0)
    (root / "model").mkdir()
    entries = []
    per_file = 8
    for number in range(max(1, megabytes // per_file)):
        path = root / "model" / f"model_{number}.pt"
        path.write_bytes(rng.standard_normal(per_file * 1024 * 1024 // 4).astype(np.float32).tobytes())
        entries.append((f"m/model/{path.name}", path))
    return entries


def sim_traces(root: Path, megabytes: int) -> list[tuple[str, Path]]:
    rng = np.random.default_rng(1)
    (root / "training-simtrace").mkdir()
    path = root / "training-simtrace" / "0-iteration.csv"
    with open(path, "w") as handle:
        step = 0
        while handle.tell() < megabytes * 1024 * 1024:
            x, y, yaw, reward, progress = rng.uniform(0, 8), rng.uniform(0, 5), rng.uniform(-180, 180), \
                rng.random(), rng.uniform(0, 100)
            handle.write(f"{step // 300},{step % 300 + 1},{x:.4f},{y:.4f},{yaw:.4f},15.0,1.0,3,{reward:.4f},False,"
                         f"True,{progress:.4f},12,17.6,{step / 15:.3f},in_progress,0.0,0,{1732170000 + step / 15:.3f}\n")
            step += 1
    return [("m/training-simtrace/0-iteration.csv", path)]


def measure(entries) -> tuple[float, float, float, int]:
    size = sum(path.stat().st_size for _, path in entries)
    start, cpu = time.perf_counter(), time.process_time()
    sink = io.BytesIO()
    for chunk in stream_tar_gz(entries):
        sink.write(chunk)
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    return size / 1e6, size / 1e6 / wall, size / 1e6 / cpu, sink.tell()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--megabytes", type=int, default=64)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        for kind, entries in (("checkpoints", checkpoints(root, args.megabytes)),
                              ("sim-trace CSV", sim_traces(root, args.megabytes // 2))):
            megabytes, wall, per_cpu, packed = measure(entries)
            print(f"{kind}: {megabytes:.0f} MB -> {packed / 1e6:.0f} MB, {wall:.1f} MB/s wall, "
                  f"{per_cpu:.1f} MB/s per CPU second")
    print(f"load average: {os.getloadavg()[0]:.2f} (other engineers share this 2-core machine: figures are noisy)")

if __name__ == "__main__":
    main()
