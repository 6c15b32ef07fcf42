"""The scene: every track builds into a world that steps; lines merged into few meshes; cameras placed."""

from pathlib import Path

import mujoco
import numpy as np
import pytest

from simulator.tracks import BUILTIN_TRACKS, get_track, load_npy
from simulator.world import CONTROL_HZ, PHYSICS_SUBSTEPS, TIMESTEP, build_world, world_xml

# The real DeepRacer files live in the folder `shared` beside the repository checkout.
SHARED_TRACKS = next(
    (folder / "shared" / "tracks" for folder in Path(__file__).resolve().parents[2:]
     if (folder / "shared" / "tracks").is_dir()),
    Path(__file__).resolve().parents[2] / ".." / "shared" / "tracks",
)
REAL_TRACKS = sorted(SHARED_TRACKS.glob("*.npy"))


def drive_a_second(world, track):
    x, y, yaw = track.pose_at(0.0)
    world.car.place(x, y, yaw)
    world.car.command(0.0, 1.0)
    for _ in range(CONTROL_HZ):
        world.step()
    return world.car.pose()


@pytest.mark.parametrize("slug", list(BUILTIN_TRACKS))
def test_it_builds_and_steps_every_builtin_track(slug):
    track = get_track(slug)
    world = build_world(track)
    pose = drive_a_second(world, track)
    assert track.contains(pose.x, pose.y)
    assert abs(world.car.height()) < 0.005


@pytest.mark.parametrize("path", REAL_TRACKS, ids=lambda p: p.stem)
def test_it_builds_and_steps_every_real_deepracer_track(path):
    track = load_npy(path, slug=path.stem)
    world = build_world(track)
    pose = drive_a_second(world, track)
    assert track.contains(pose.x, pose.y)


def test_real_tracks_are_found():
    assert len(REAL_TRACKS) >= 6


def test_one_env_step_is_a_fifteenth_of_a_second():
    assert TIMESTEP * PHYSICS_SUBSTEPS == pytest.approx(1 / 15)
    world = build_world(get_track("oval"))
    world.step()
    assert world.data.time == pytest.approx(1 / 15)


def test_it_merges_road_borders_and_dashes_into_three_meshes():
    model = build_world(get_track("quick_loop")).model
    meshes = [model.geom(i).name for i in range(model.ngeom) if model.geom_type[i] == mujoco.mjtGeom.mjGEOM_MESH]
    assert sorted(meshes) == ["dashes", "lines", "road"]
    # Hundreds of dashes and the border strips live in those meshes, not in separate geoms.
    assert model.mesh_facenum[model.mesh("dashes").id] > 100
    assert model.ngeom < 60


def test_it_casts_no_shadows():
    model = build_world(get_track("oval")).model
    assert not model.light_castshadow.any()
    assert model.vis.quality.shadowsize == 0


def test_the_wheels_touch_only_the_ground():
    world = build_world(get_track("oval"), boxes=2, bots=2)
    track = get_track("oval")
    drive_a_second(world, track)
    ground = world.model.geom("ground").id
    contacts = world.data.contact[: world.data.ncon]
    assert world.data.ncon == 4
    assert all(ground in (c.geom1, c.geom2) for c in contacts)


def test_the_camera_sits_ahead_and_up_looking_slightly_down():
    world = build_world(get_track("oval"))
    world.car.place(0.0, 0.0, 0.0)
    mujoco.mj_forward(world.model, world.data)
    camera = world.model.camera("front").id
    position = world.data.cam_xpos[camera]
    looking = -world.data.cam_xmat[camera].reshape(3, 3)[:, 2]
    assert 0.15 < position[0] < 0.2 and 0.1 < position[2] < 0.13
    assert looking[0] > 0.9 and -0.4 < looking[2] < 0
    fovx = 2 * np.arctan(np.tan(np.deg2rad(world.model.cam_fovy[camera] / 2)) * 4 / 3)
    assert np.rad2deg(fovx) == pytest.approx(65, abs=0.5)


def test_it_builds_from_any_object_with_border_arrays():
    class Raw:
        def __init__(self, array):
            self.centre, self.inner, self.outer = array[:, :2], array[:, 2:4], array[:, 4:6]

    raw = Raw(get_track("oval").to_npy())
    assert "<mesh" in world_xml(raw)
    assert build_world(raw, boxes=1).box_mocap == [0]
