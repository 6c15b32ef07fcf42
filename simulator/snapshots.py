"""Write pictures of every built-in track: `python -m simulator.snapshots OUTDIR`.

For each track: `<slug>_camera.png` (what the car sees, 160x120 grayscale), `<slug>_chase.png` (the live
video's chase view with the top-down inset) and `<slug>_top.png` (the whole track from above); plus the
same three for an object-avoidance and a head-to-bot scene on quick_loop. A second into the lap, so
the car is driving.
"""

import argparse
from pathlib import Path

import numpy as np
from PIL import Image

from simulator.env import DeepRacerEnv
from simulator.tracks import BUILTIN_TRACKS

SECONDS_DRIVEN = 1.0
STRAIGHT_AHEAD = np.array([0.0, 1.0], np.float32)
CONTINUOUS = {"action_space_type": "continuous",
              "action_space": {"steering_angle": {"low": -30, "high": 30}, "speed": {"low": 0.5, "high": 2}}}
SCENES = {
    "boxes": {"track": "quick_loop", "race_type": {"race_type": "OBJECT_AVOIDANCE", "randomize_objects": False,
                                                   "object_positions": [[0.08, "outer"], [0.3, "inner"],
                                                                        [0.55, "outer"], [0.8, "inner"]]}},
    "bots": {"track": "quick_loop", "race_type": {"race_type": "HEAD_TO_BOT", "bot_count": 3, "bot_speed": 0.6}},
}


def snapshot(env: DeepRacerEnv, out: Path, name: str) -> list[Path]:
    env.reset(seed=0)
    for _ in range(round(SECONDS_DRIVEN * env.metadata["render_fps"])):
        env.step(STRAIGHT_AHEAD)
    pictures = {"camera": env.render_camera()[:, :, 0], "chase": env.render(), "top": env.render_top_down()}
    paths = []
    for kind, picture in pictures.items():
        path = out / f"{name}_{kind}.png"
        Image.fromarray(picture).save(path)
        paths.append(path)
    return paths


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("outdir", type=Path)
    out = parser.parse_args(argv).outdir
    out.mkdir(parents=True, exist_ok=True)
    scenes = {slug: {"track": slug} for slug in BUILTIN_TRACKS} | SCENES
    for name, settings in scenes.items():
        env = DeepRacerEnv(sensors=("FRONT_FACING_CAMERA",), action_space=CONTINUOUS, mode="evaluation",
                           render_mode="rgb_array", **settings)
        try:
            for path in snapshot(env, out, name):
                print(path)
        finally:
            env.close()


if __name__ == "__main__":
    main()
