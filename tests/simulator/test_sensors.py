"""Sensors: camera images of the road, the stereo pair, LIDAR ranges and sectors."""

import os
import subprocess
import sys
from pathlib import Path

import mujoco
import numpy as np
import pytest

from simulator.sensors import (
    LIDAR_MAX_RANGE,
    LIDAR_RAYS,
    CameraRig,
    build_sensors,
    to_gray,
)
from simulator.tracks import get_track
from simulator.world import LIDAR_X, build_world


@pytest.fixture(scope="module")
def scene():
    track = get_track("oval")
    world = build_world(track, boxes=1)
    rig = CameraRig(world.model, 160, 120)
    yield track, world, rig
    rig.close()


def place(world, track, distance=0.0, lateral=0.0):
    x, y, yaw = track.pose_at(distance, lateral)
    world.car.place(x, y, yaw)
    mujoco.mj_forward(world.model, world.data)


def put_box_ahead(world, track, distance):
    x, y, yaw = track.pose_at(distance)
    world.set_mocap(world.box_mocap[0], x, y, yaw)
    mujoco.mj_forward(world.model, world.data)


def test_the_camera_sees_a_dark_road_between_light_borders(scene):
    track, world, rig = scene
    place(world, track)
    world.park(world.box_mocap[0])
    image = build_sensors(["FRONT_FACING_CAMERA"], world, rig)["FRONT_FACING_CAMERA"].read()
    assert image.shape == (1, 120, 160) and image.dtype == np.uint8
    bottom = image[0, 110]
    # The road straight ahead is dark; the dashed yellow centre line or white borders are bright.
    assert bottom[60:100].min() < 70
    assert image[0, 40:].max() > 180
    # The sky is at the top of the picture, lighter than the road.
    assert image[0, 2].mean() > bottom.mean()


def test_the_stereo_pair_has_two_slightly_different_lenses(scene):
    track, world, rig = scene
    place(world, track)
    image = build_sensors(["STEREO_CAMERAS"], world, rig)["STEREO_CAMERAS"].read()
    assert image.shape == (2, 120, 160)
    difference = np.abs(image[0].astype(int) - image[1]).mean()
    assert 0.5 < difference < 40


def test_the_lidar_measures_the_distance_to_a_box_ahead(scene):
    track, world, rig = scene
    place(world, track)
    put_box_ahead(world, track, 1.5)
    ranges = build_sensors(["LIDAR"], world, rig)["LIDAR"].read()
    assert ranges.shape == (LIDAR_RAYS,) and ranges.dtype == np.float32
    ahead = ranges[LIDAR_RAYS // 2 - 1: LIDAR_RAYS // 2 + 1].min()
    # Box centre 1.5 m ahead of the rear axle, its near face 0.25 m closer, the LIDAR at LIDAR_X.
    assert ahead == pytest.approx(1.5 - 0.25 - LIDAR_X, abs=0.05)
    assert ranges.min() >= 0.15 and ranges.max() <= LIDAR_MAX_RANGE


def test_the_lidar_ignores_the_road_and_the_car_itself(scene):
    track, world, rig = scene
    place(world, track)
    world.park(world.box_mocap[0])
    mujoco.mj_forward(world.model, world.data)
    ranges = build_sensors(["LIDAR"], world, rig)["LIDAR"].read()
    # Only the far barriers are in reach: nothing within a metre.
    assert ranges.min() > 1.0


def test_the_sector_lidar_flags_only_the_sector_with_a_close_object(scene):
    track, world, rig = scene
    place(world, track)
    put_box_ahead(world, track, 0.6)
    sectors = build_sensors(["SECTOR_LIDAR"], world, rig)["SECTOR_LIDAR"].read()
    assert sectors.shape == (8,)
    assert set(np.flatnonzero(sectors)) <= {3, 4} and sectors[3:5].any()
    put_box_ahead(world, track, 3.0)
    assert not build_sensors(["SECTOR_LIDAR"], world, rig)["SECTOR_LIDAR"].read().any()


@pytest.mark.parametrize(
    ("names", "message"),
    [(["CAMERA"], "unknown sensor"), (["LIDAR", "LIDAR"], "twice"),
     (["FRONT_FACING_CAMERA", "STEREO_CAMERAS"], "one camera"), (["LIDAR", "SECTOR_LIDAR"], "one LIDAR")],
)
def test_it_refuses_impossible_sensor_sets(scene, names, message):
    _, world, rig = scene
    with pytest.raises(ValueError, match=message):
        build_sensors(names, world, rig)


def test_gray_conversion_weights_green_most():
    rgb = np.zeros((1, 3, 3), np.uint8)
    rgb[0, 0, 0] = rgb[0, 1, 1] = rgb[0, 2, 2] = 255
    gray = to_gray(rgb)
    assert gray[0, 1] > gray[0, 0] > gray[0, 2]
    assert to_gray(np.full((2, 2, 3), 255, np.uint8)).min() >= 254


def test_the_camera_renders_headless_even_when_mujoco_was_imported_first():
    # MuJoCo picks its GL backend at import; a process that imported it before `simulator` got the
    # windowed default, which cannot start without a display. The camera must still work.
    script = (
        "import mujoco, simulator\n"
        "from simulator.env import DeepRacerEnv\n"
        "obs, _ = DeepRacerEnv(track='oval').reset(seed=0)\n"
        "print(obs['FRONT_FACING_CAMERA'].std() > 5)\n"
    )
    environment = {k: v for k, v in os.environ.items() if k not in ("MUJOCO_GL", "PYOPENGL_PLATFORM", "DISPLAY")}
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                            env=environment, cwd=Path(__file__).resolve().parents[2])
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "True"
