"""The car's sensors (SPEC 2): front camera, stereo pair, LIDAR and sector LIDAR.

Each sensor has a `space` (its piece of the observation Dict) and `read()`. Cameras render through one
lazily created `mujoco.Renderer` (envs are built in one process and stepped in worker processes, and a
GL context must be made where it is used); the LIDAR casts rays with `mj_multiRay` against the obstacle
groups only (boxes, bot cars, other cars, walls), never against the road or the car itself. In a world
of several cars (simulator/multicar.py) each car's sensors are built with its index: its own cameras and
LIDAR site, so each sees the others.
"""

import os

import mujoco
import numpy as np
from gymnasium import spaces

from simulator.car import GROUP_LIDAR_ONLY, GROUP_OBSTACLE
from simulator.spec import (  # the observation names and shapes are SPEC facts
    CAMERA_SENSORS,
    FRONT_FACING_CAMERA,
    IMAGE_HEIGHT,
    IMAGE_WIDTH,
    LIDAR,
    LIDAR_MAX_RANGE,
    LIDAR_MIN_RANGE,
    LIDAR_RAYS,
    LIDAR_SECTORS,
    SECTOR_LIDAR,
    SENSOR_NAMES,
    STEREO_CAMERAS,
)

# ITU-R 601 luma weights; a float32 matrix product is the cheapest conversion measured (≈30 µs a frame).
LUMA_WEIGHTS = np.array([0.299, 0.587, 0.114], dtype=np.float32)

# LIDAR (the DeepRacer simulation app's values): its rays span ±150°.
LIDAR_HALF_ANGLE_DEG = 150.0
# Sector LIDAR: 8 sectors of 8 rays, 1 when something is closer than the clipping distance.
SECTOR_LIDAR_CLIPPING_DIST = 0.5
# The ray mask: which geom groups the LIDAR sees.
LIDAR_GROUPS = np.array([g in (GROUP_OBSTACLE, GROUP_LIDAR_ONLY) for g in range(6)], dtype=np.uint8)


def _use_headless_gl_if_windowless() -> None:
    """MuJoCo picks its GL backend when first imported; `import simulator` defaults it to EGL, but a
    process that imported mujoco first gets the windowed GLFW backend, which cannot start without a
    display. Switch such a process to EGL (it has not drawn anything with GLFW: there is no display)."""
    from mujoco.rendering.classic import gl_context

    chosen = os.environ.get("MUJOCO_GL", "").lower()
    if getattr(gl_context, "_MUJOCO_GL", chosen) in ("", "glfw") and not os.environ.get("DISPLAY"):
        from mujoco.egl import GLContext

        gl_context.GLContext = GLContext


class CameraRig:
    """One offscreen renderer of a given size for a world, created on first use."""

    def __init__(self, model: mujoco.MjModel, width: int, height: int):
        self.model, self.width, self.height = model, width, height
        self._renderer = None

    @property
    def renderer(self) -> mujoco.Renderer:
        if self._renderer is None:
            try:
                _use_headless_gl_if_windowless()
                self._renderer = mujoco.Renderer(self.model, self.height, self.width)
            except Exception as error:
                raise RuntimeError(
                    f"cannot render offscreen with MUJOCO_GL={os.environ.get('MUJOCO_GL', '')!r} ({error}); "
                    "set MUJOCO_GL=egl or MUJOCO_GL=osmesa before mujoco is first imported"
                ) from error
        return self._renderer

    def rgb(self, data: mujoco.MjData, camera: str, out: np.ndarray | None = None) -> np.ndarray:
        renderer = self.renderer
        renderer.update_scene(data, camera=camera)
        return renderer.render(out=out)

    def close(self) -> None:
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None


def to_gray(rgb: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """Grayscale uint8 of an (H, W, 3) uint8 image."""
    luma = rgb @ LUMA_WEIGHTS
    if out is None:
        return luma.astype(np.uint8)
    out[...] = luma
    return out


class Camera:
    """The front camera (one lens) or the stereo pair (two lenses) of car ``car``: (channels, 120, 160) uint8."""

    def __init__(self, world, rig: CameraRig, stereo: bool = False, car: int = 0):
        self.world, self.rig = world, rig
        lenses = ("stereo_left", "stereo_right") if stereo else ("front",)
        self.cameras = tuple(world.sensor_name(lens, car) for lens in lenses)
        self.space = spaces.Box(0, 255, (len(self.cameras), IMAGE_HEIGHT, IMAGE_WIDTH), np.uint8)
        self._rgb = np.empty((IMAGE_HEIGHT, IMAGE_WIDTH, 3), np.uint8)

    def read(self) -> np.ndarray:
        frame = np.empty(self.space.shape, np.uint8)
        for channel, camera in enumerate(self.cameras):
            to_gray(self.rig.rgb(self.world.data, camera, out=self._rgb), out=frame[channel])
        return frame


class Lidar:
    """64 ranges (m) over ±150° around car ``car``'s heading, clipped to [0.15, 12]."""

    def __init__(self, world, car: int = 0):
        self.world = world
        self.car = world.cars[car]
        self.space = spaces.Box(LIDAR_MIN_RANGE, LIDAR_MAX_RANGE, (LIDAR_RAYS,), np.float32)
        self.angles = np.deg2rad(np.linspace(-LIDAR_HALF_ANGLE_DEG, LIDAR_HALF_ANGLE_DEG, LIDAR_RAYS))
        model = world.model
        self._site = model.site(world.sensor_name("lidar", car)).id
        self._geomid = np.empty(LIDAR_RAYS, np.int32)
        self._dist = np.empty(LIDAR_RAYS, np.float64)

    def ranges(self) -> np.ndarray:
        data = self.world.data
        origin = data.site_xpos[self._site].copy()
        yaw = self.car.pose().yaw
        # Horizontal rays: the car stays level on the flat track.
        heading = yaw + self.angles
        vec = np.zeros((LIDAR_RAYS, 3))
        vec[:, 0], vec[:, 1] = np.cos(heading), np.sin(heading)
        # The car's own hit box (a world of several cars gives each one) is not in its way.
        mujoco.mj_multiRay(
            self.world.model, data, origin, vec.ravel(), LIDAR_GROUPS, 1, self.car.body_id,
            self._geomid, self._dist, None, LIDAR_RAYS, LIDAR_MAX_RANGE,
        )
        dist = np.where(self._dist < 0, LIDAR_MAX_RANGE, self._dist)
        return np.clip(dist, LIDAR_MIN_RANGE, LIDAR_MAX_RANGE).astype(np.float32)

    def read(self) -> np.ndarray:
        return self.ranges()


class SectorLidar(Lidar):
    """8 sectors of the LIDAR: 1.0 where something is within 0.5 m, else 0.0."""

    def __init__(self, world, car: int = 0):
        super().__init__(world, car)
        self.space = spaces.Box(0.0, 1.0, (LIDAR_SECTORS,), np.float32)

    def read(self) -> np.ndarray:
        sectors = self.ranges().reshape(LIDAR_SECTORS, -1)
        return (sectors.min(axis=1) < SECTOR_LIDAR_CLIPPING_DIST).astype(np.float32)


def build_sensors(names, world, rig: CameraRig, car: int = 0) -> dict:
    """Car ``car``'s sensor objects keyed by observation name, in the given order; raises ValueError on
    bad names."""
    names = tuple(names)
    unknown = [n for n in names if n not in SENSOR_NAMES]
    if unknown:
        raise ValueError(f"unknown sensor {unknown[0]!r}; expected some of {', '.join(SENSOR_NAMES)}")
    if len(set(names)) != len(names):
        raise ValueError(f"a sensor is listed twice: {list(names)}")
    if sum(n in CAMERA_SENSORS for n in names) > 1:
        raise ValueError("a vehicle has one camera: FRONT_FACING_CAMERA or STEREO_CAMERAS, not both")
    if LIDAR in names and SECTOR_LIDAR in names:
        raise ValueError("a vehicle has one LIDAR: LIDAR or SECTOR_LIDAR, not both")
    makers = {
        FRONT_FACING_CAMERA: lambda: Camera(world, rig, car=car),
        STEREO_CAMERAS: lambda: Camera(world, rig, stereo=True, car=car),
        LIDAR: lambda: Lidar(world, car),
        SECTOR_LIDAR: lambda: SectorLidar(world, car),
    }
    return {name: makers[name]() for name in names}
