"""`python -m simulator.snapshots OUTDIR` writes the camera, chase and top views as PNGs."""

import numpy as np
from PIL import Image

from simulator.env import DeepRacerEnv
from simulator.snapshots import CONTINUOUS, snapshot


def test_it_writes_the_three_pictures_of_a_track(tmp_path):
    env = DeepRacerEnv(track="oval", action_space=CONTINUOUS, mode="evaluation", render_mode="rgb_array")
    paths = snapshot(env, tmp_path, "oval")
    env.close()
    assert [p.name for p in paths] == ["oval_camera.png", "oval_chase.png", "oval_top.png"]
    camera, chase, top = (np.asarray(Image.open(p)) for p in paths)
    assert camera.shape == (120, 160) and chase.shape == (360, 480, 3) and top.shape == (360, 480, 3)
    # The top view is mostly grass green with a dark road.
    green = (top[:, :, 1] > top[:, :, 0] + 30).mean()
    dark = (top.max(axis=2) < 80).mean()
    assert green > 0.3 and dark > 0.1
