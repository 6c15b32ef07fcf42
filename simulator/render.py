"""Pictures for people: the chase view with a top-down picture-in-picture (the console's live video),
the whole-track top-down view, and the car's own camera.

The picture-in-picture is a top-down image of the road rendered ONCE per world and then marked with the
car, boxes and bots each frame in NumPy/Pillow, so a video frame costs one render, not two.
"""

import mujoco
import numpy as np
from PIL import Image, ImageDraw

from simulator.car import FOOTPRINT_CENTRE_X, FOOTPRINT_LENGTH, FOOTPRINT_WIDTH, GROUP_CAR, GROUP_OBSTACLE
from simulator.sensors import CameraRig
from simulator.world import BOX_LENGTH, BOX_WIDTH, PARKED_Z, World

VIDEO_WIDTH, VIDEO_HEIGHT = 480, 360
PIP_WIDTH, PIP_HEIGHT = 168, 126
PIP_MARGIN = 8
PIP_FRAME_RGB = (245, 245, 245)
# Markers are drawn larger than life so a 0.3 m car is visible on a 20 m track in a small inset.
MARKER_SCALE = 2.2
CAR_MARKER_RGB = (230, 30, 40)
BOT_MARKER_RGB = (40, 110, 235)
BOX_MARKER_RGB = (205, 160, 95)


def _yaw(quat: np.ndarray) -> float:
    w, x, y, z = quat
    return float(np.arctan2(2 * (w * z + x * y), 1 - 2 * (y * y + z * z)))


class Views:
    """The video and top-down views of one world; renderers are made on first use."""

    def __init__(self, world: World):
        self.world = world
        self.rig = CameraRig(world.model, VIDEO_WIDTH, VIDEO_HEIGHT)
        self._pip_background: Image.Image | None = None
        model = world.model
        camera = model.camera("top")
        self._top_centre = camera.pos0[:2].copy()
        self._top_span = float(model.cam_fovy[camera.id])    # metres shown vertically (orthographic)
        self._boxes, self._bots = list(world.box_mocap), list(world.bot_mocap)

    def chase(self) -> np.ndarray:
        """(360, 480, 3) uint8: behind the car, with the whole track inset top right."""
        frame = self.rig.rgb(self.world.data, "chase").copy()
        inset = np.asarray(self._marked_pip())
        x0 = VIDEO_WIDTH - PIP_WIDTH - PIP_MARGIN
        frame[PIP_MARGIN - 2:PIP_MARGIN + PIP_HEIGHT + 2, x0 - 2:x0 + PIP_WIDTH + 2] = PIP_FRAME_RGB
        frame[PIP_MARGIN:PIP_MARGIN + PIP_HEIGHT, x0:x0 + PIP_WIDTH] = inset
        return frame

    def top_down(self) -> np.ndarray:
        """(360, 480, 3) uint8: the whole track from above, as rendered (car, boxes and bots included)."""
        return self.rig.rgb(self.world.data, "top").copy()

    def _pip_image(self) -> Image.Image:
        if self._pip_background is None:
            picture = self._road_only()
            self._pip_background = Image.fromarray(picture).resize((PIP_WIDTH, PIP_HEIGHT), Image.LANCZOS)
        return self._pip_background

    def _road_only(self) -> np.ndarray:
        # Cars and obstacles move, so they are left out here and drawn as markers per frame.
        option = mujoco.MjvOption()
        option.geomgroup[GROUP_CAR] = option.geomgroup[GROUP_OBSTACLE] = 0
        renderer = self.rig.renderer
        renderer.update_scene(self.world.data, camera="top", scene_option=option)
        return renderer.render().copy()

    def _to_pip(self, xy: np.ndarray) -> np.ndarray:
        scale = PIP_HEIGHT / self._top_span
        px = (xy[..., 0] - self._top_centre[0]) * scale + PIP_WIDTH / 2
        py = PIP_HEIGHT / 2 - (xy[..., 1] - self._top_centre[1]) * scale
        return np.stack([px, py], axis=-1)

    def _marker(self, x: float, y: float, yaw: float, length: float, width: float) -> list[tuple]:
        c, s = np.cos(yaw), np.sin(yaw)
        length, width = length * MARKER_SCALE, width * MARKER_SCALE
        # An arrow-ish pentagon pointing the way the thing faces.
        local = np.array([[length / 2, 0], [length / 4, width / 2], [-length / 2, width / 2],
                          [-length / 2, -width / 2], [length / 4, -width / 2]])
        world = np.stack([x + c * local[:, 0] - s * local[:, 1], y + s * local[:, 0] + c * local[:, 1]], axis=1)
        return [tuple(p) for p in self._to_pip(world)]

    def _marked_pip(self) -> Image.Image:
        image = self._pip_image().copy()
        draw = ImageDraw.Draw(image)
        data = self.world.data
        for index in self._boxes:
            x, y, z = data.mocap_pos[index]
            if z > PARKED_Z / 2:
                draw.polygon(self._marker(x, y, _yaw(data.mocap_quat[index]), BOX_LENGTH, BOX_WIDTH),
                             fill=BOX_MARKER_RGB, outline=(60, 40, 20))
        for index in self._bots:
            x, y, z = data.mocap_pos[index]
            if z > PARKED_Z / 2:
                yaw = _yaw(data.mocap_quat[index])
                cx, cy = x + FOOTPRINT_CENTRE_X * np.cos(yaw), y + FOOTPRINT_CENTRE_X * np.sin(yaw)
                draw.polygon(self._marker(cx, cy, yaw, FOOTPRINT_LENGTH, FOOTPRINT_WIDTH),
                             fill=BOT_MARKER_RGB, outline=(255, 255, 255))
        pose = self.world.car.pose()
        cx = pose.x + FOOTPRINT_CENTRE_X * np.cos(pose.yaw)
        cy = pose.y + FOOTPRINT_CENTRE_X * np.sin(pose.yaw)
        draw.polygon(self._marker(cx, cy, pose.yaw, FOOTPRINT_LENGTH, FOOTPRINT_WIDTH),
                     fill=CAR_MARKER_RGB, outline=(255, 255, 255))
        return image

    def close(self) -> None:
        self.rig.close()
