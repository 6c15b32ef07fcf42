"""Pictures for people: the chase view with a top-down picture-in-picture (the console's live video),
the whole-track top-down view, and the car's own camera.

The picture-in-picture is a top-down image of the road rendered ONCE per world and then marked with the
car, boxes and bots each frame in NumPy/Pillow, so a video frame costs one render, not two. In a world of
several cars each car has its chase view, and the inset and the track map mark every car in its shell's
colour.
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


def _rgb(mjcf_rgba: str) -> tuple[int, int, int]:
    """An MJCF "r g b a" colour as 0..255 RGB."""
    red, green, blue = (round(float(part) * 255) for part in mjcf_rgba.split()[:3])
    return red, green, blue


def _yaw(quat: np.ndarray) -> float:
    w, x, y, z = quat
    return float(np.arctan2(2 * (w * z + x * y), 1 - 2 * (y * y + z * z)))


class Views:
    """The video and top-down views of one world; renderers are made on first use."""

    def __init__(self, world: World):
        self.world = world
        self.rig = CameraRig(world.model, VIDEO_WIDTH, VIDEO_HEIGHT)
        self._road: np.ndarray | None = None
        self._backgrounds: dict[tuple[int, int], Image.Image] = {}
        # One car: the red marker of old; several: each its own shell's colour.
        self._car_markers = [CAR_MARKER_RGB] if len(world.cars) == 1 else [_rgb(c) for c in world.colours]
        model = world.model
        camera = model.camera("top")
        self._top_centre = camera.pos0[:2].copy()
        self._top_span = float(model.cam_fovy[camera.id])    # metres shown vertically (orthographic)
        self._boxes, self._bots = list(world.box_mocap), list(world.bot_mocap)

    def chase(self, car: int = 0) -> np.ndarray:
        """(360, 480, 3) uint8: behind car ``car``, with the whole track inset top right."""
        frame = self.rig.rgb(self.world.data, self.world.sensor_name("chase", car)).copy()
        inset = np.asarray(self.track_map(PIP_WIDTH, PIP_HEIGHT))
        x0 = VIDEO_WIDTH - PIP_WIDTH - PIP_MARGIN
        frame[PIP_MARGIN - 2:PIP_MARGIN + PIP_HEIGHT + 2, x0 - 2:x0 + PIP_WIDTH + 2] = PIP_FRAME_RGB
        frame[PIP_MARGIN:PIP_MARGIN + PIP_HEIGHT, x0:x0 + PIP_WIDTH] = inset
        return frame

    def top_down(self) -> np.ndarray:
        """(360, 480, 3) uint8: the whole track from above, as rendered (car, boxes and bots included)."""
        return self.rig.rgb(self.world.data, "top").copy()

    def track_map(self, width: int = VIDEO_WIDTH, height: int = VIDEO_HEIGHT) -> Image.Image:
        """The whole road from above (4:3), the cars, boxes and bots marked larger than life: readable at
        any size, where the rendered top-down view shows a car as a few pixels."""
        image = self._background(width, height).copy()
        scale, centre = height / self._top_span, self._top_centre

        def to_pixels(points: np.ndarray) -> list[tuple[float, float]]:
            px = (points[:, 0] - centre[0]) * scale + width / 2
            py = height / 2 - (points[:, 1] - centre[1]) * scale
            return list(zip(px.tolist(), py.tolist(), strict=True))

        self._mark(ImageDraw.Draw(image), to_pixels)
        return image

    def _background(self, width: int, height: int) -> Image.Image:
        if (width, height) not in self._backgrounds:
            if self._road is None:
                self._road = self._road_only()
            self._backgrounds[width, height] = Image.fromarray(self._road).resize((width, height), Image.LANCZOS)
        return self._backgrounds[width, height]

    def _road_only(self) -> np.ndarray:
        # Cars and obstacles move, so they are left out here and drawn as markers per frame.
        option = mujoco.MjvOption()
        option.geomgroup[GROUP_CAR] = option.geomgroup[GROUP_OBSTACLE] = 0
        renderer = self.rig.renderer
        renderer.update_scene(self.world.data, camera="top", scene_option=option)
        return renderer.render().copy()

    @staticmethod
    def _marker(x: float, y: float, yaw: float, length: float, width: float) -> np.ndarray:
        """World corners of an arrow-ish pentagon pointing the way the thing faces, larger than life."""
        c, s = np.cos(yaw), np.sin(yaw)
        length, width = length * MARKER_SCALE, width * MARKER_SCALE
        local = np.array([[length / 2, 0], [length / 4, width / 2], [-length / 2, width / 2],
                          [-length / 2, -width / 2], [length / 4, -width / 2]])
        return np.stack([x + c * local[:, 0] - s * local[:, 1], y + s * local[:, 0] + c * local[:, 1]], axis=1)

    def _mark(self, draw: ImageDraw.ImageDraw, to_pixels) -> None:
        data = self.world.data
        for index in self._boxes:
            x, y, z = data.mocap_pos[index]
            if z > PARKED_Z / 2:
                draw.polygon(to_pixels(self._marker(x, y, _yaw(data.mocap_quat[index]), BOX_LENGTH, BOX_WIDTH)),
                             fill=BOX_MARKER_RGB, outline=(60, 40, 20))
        for index in self._bots:
            x, y, z = data.mocap_pos[index]
            if z > PARKED_Z / 2:
                yaw = _yaw(data.mocap_quat[index])
                cx, cy = x + FOOTPRINT_CENTRE_X * np.cos(yaw), y + FOOTPRINT_CENTRE_X * np.sin(yaw)
                draw.polygon(to_pixels(self._marker(cx, cy, yaw, FOOTPRINT_LENGTH, FOOTPRINT_WIDTH)),
                             fill=BOT_MARKER_RGB, outline=(255, 255, 255))
        for car, colour in zip(self.world.cars, self._car_markers, strict=True):
            if car.parked:
                continue
            pose = car.pose()
            cx = pose.x + FOOTPRINT_CENTRE_X * np.cos(pose.yaw)
            cy = pose.y + FOOTPRINT_CENTRE_X * np.sin(pose.yaw)
            draw.polygon(to_pixels(self._marker(cx, cy, pose.yaw, FOOTPRINT_LENGTH, FOOTPRINT_WIDTH)),
                         fill=colour, outline=(255, 255, 255))

    def close(self) -> None:
        self.rig.close()
