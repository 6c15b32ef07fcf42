"""The MuJoCo world built from a track: road, lines, surroundings, the car, obstacles and cameras.

Only the track's `centre`, `inner` and `outer` arrays (N x 2 closed loops, SPEC 5.5) are used, so any
object carrying them builds a world. The road, the white borders (with the start line) and the dashed
centre line are each ONE mesh: separate geoms per line segment make llvmpipe rendering 2.5x slower
(SPEC 6). The meshes are visual only; the car drives on the ground plane, which is the only thing its
wheels touch. Obstacles and bot cars are mocap bodies moved by the task, so an episode's new object
positions need no recompilation.

A world may hold several physical cars (head-to-model racing, simulator/multicar.py): each has its own
actuators, cameras and LIDAR site, named with its prefix ("car1_front"), a shell colour of its own and
a LIDAR hit box that the other cars' LIDARs see. The one-car world of `DeepRacer-v0` keeps the plain
names ("car", "front", "lidar").
"""

from dataclasses import dataclass, field

import mujoco
import numpy as np

from simulator.car import (
    CAMERA_X,
    CAMERA_Z,
    CAR_COLOUR,
    GROUP_CAR,
    GROUP_OBSTACLE,
    TYRE_FRICTION,
    WHEELBASE,
    Car,
    bot_mjcf,
    car_mjcf,
)

# Physics: one env step is 1/15 s (SPEC 1.2), integrated in PHYSICS_SUBSTEPS MuJoCo steps. Four steps of
# 17 ms keep the tyre contacts and servos stable: acceleration, steering response and cornering radii
# (gripping and sliding) agree with an 8-step reference within 1-2%, at half the cost.
CONTROL_HZ = 15
PHYSICS_SUBSTEPS = 4
TIMESTEP = 1.0 / CONTROL_HZ / PHYSICS_SUBSTEPS

# Looks (RGBA): a DeepRacer track is a dark road with white borders and a dashed yellow centre line.
ROAD_RGBA = "0.17 0.17 0.19 1"
BORDER_RGBA = "0.95 0.95 0.95 1"
DASH_RGBA = "1 0.78 0.1 1"
GROUND_RGBA = "0.32 0.52 0.26 1"
WALL_RGBA = "0.55 0.6 0.68 1"
BOX_RGBA = "0.78 0.6 0.38 1"     # cardboard
BOT_COLOURS = ("0.1 0.35 0.85 1", "0.95 0.55 0.05 1", "0.55 0.2 0.75 1", "0.1 0.7 0.35 1",
               "0.9 0.85 0.1 1", "0.2 0.75 0.85 1")
SKY_TOP, SKY_HORIZON = "0.35 0.55 0.85", "0.85 0.9 0.97"
# The shells of the cars of a race, in grid order: red, then colours far from it and from each other
# (yellow, not blue: bot cars of a head-to-bot race are blue first).
RACE_CAR_COLOURS = (CAR_COLOUR, "0.98 0.8 0.05 1", "0.1 0.75 0.3 1", "0.6 0.2 0.8 1")

# Line geometry, metres (the real tracks use 2-inch tape).
BORDER_WIDTH = 0.05
DASH_WIDTH = 0.04
DASH_LENGTH = 0.15
DASH_GAP = 0.15
START_LINE_WIDTH = 0.05
# Layers just above the ground, so the depth buffer keeps them apart without z-fighting.
ROAD_Z, LINE_Z = 0.002, 0.004

# A plane's third size is its rendering grid: at 0.1 m the ground is ~40,000 quads and costs more than
# the rest of the frame together (6.3 ms against 2.3 ms a camera frame on llvmpipe). Flat lighting
# needs no grid: a few big quads.
GROUND_GRID = 10.0

# The sky backdrop, in multiples of the scene's span: how far out, how high, the pale horizon band.
BACKDROP_DISTANCE, BACKDROP_HEIGHT, HORIZON_BAND = 1.2, 1.5, 0.08

# Surroundings: low barriers around the track, well away from the road (LIDAR sees them).
WALL_MARGIN = 1.5
WALL_HEIGHT = 0.25
WALL_THICKNESS = 0.1

# Obstacles (SPEC 3): boxes 0.4 x 0.5 m; the 0.5 m side lies along the road.
BOX_LENGTH, BOX_WIDTH, BOX_HEIGHT = 0.5, 0.4, 0.3
PARKED_Z = -5.0      # where unused obstacles wait, below the ground

# Sensors on the car (SPEC 2): the camera (mounted where car.py says) pitched down to see the road
# ahead, with a 65° horizontal field of view on a 4:3 image.
CAMERA_PITCH_DEG = 12.0
CAMERA_HFOV_DEG = 65.0
CAMERA_FOVY_DEG = float(np.rad2deg(2 * np.arctan(np.tan(np.deg2rad(CAMERA_HFOV_DEG / 2)) * 3 / 4)))
STEREO_BASELINE = 0.06
LIDAR_X, LIDAR_Z = WHEELBASE / 2, 0.11
# The chase view: behind and above the car, looking at a point just ahead of it.
CHASE_BACK, CHASE_UP, CHASE_PITCH_DEG, CHASE_FOVY_DEG = 0.9, 0.45, 24.0, 55.0
OFFSCREEN_WIDTH, OFFSCREEN_HEIGHT = 960, 720


@dataclass
class World:
    """A compiled scene and the handles the sensors and the task use."""

    model: mujoco.MjModel
    data: mujoco.MjData
    car: Car                                             # the first (or only) car
    box_mocap: list[int] = field(default_factory=list)   # mocap indices of the boxes
    bot_mocap: list[int] = field(default_factory=list)   # mocap indices of the bot cars
    bounds: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)   # road x0, y0, x1, y1
    cars: list[Car] = field(default_factory=list)        # every physical car, in grid order
    prefixes: list[str] = field(default_factory=list)    # each car's camera and site name prefix
    colours: list[str] = field(default_factory=list)     # each car's shell, MJCF rgba

    def __post_init__(self):
        if not self.cars:
            self.cars, self.prefixes, self.colours = [self.car], [""], [CAR_COLOUR]

    def sensor_name(self, name: str, car: int = 0) -> str:
        """A car's camera or site: "front", "stereo_left", "stereo_right", "chase" or "lidar"."""
        return self.prefixes[car] + name

    def reset(self) -> None:
        mujoco.mj_resetData(self.model, self.data)

    def forward(self) -> None:
        """Recompute positions (cameras, sensors) after placing things, without advancing time."""
        mujoco.mj_forward(self.model, self.data)

    def step(self, n: int = PHYSICS_SUBSTEPS) -> None:
        mujoco.mj_step(self.model, self.data, nstep=n)

    def set_mocap(self, index: int, x: float, y: float, yaw: float, z: float = 0.0) -> None:
        self.data.mocap_pos[index] = (x, y, z)
        self.data.mocap_quat[index] = (np.cos(yaw / 2), 0.0, 0.0, np.sin(yaw / 2))

    def park(self, index: int) -> None:
        self.data.mocap_pos[index] = (0.0, 0.0, PARKED_Z)


def _loop(points: np.ndarray) -> np.ndarray:
    """The loop's points without the repeated closing point."""
    points = np.asarray(points, dtype=float)
    return points[:-1] if len(points) > 2 and np.allclose(points[0], points[-1]) else points


def _fmt(values: np.ndarray) -> str:
    return " ".join(f"{v:.5g}" for v in np.ravel(values))


def _strip_mesh(left: np.ndarray, right: np.ndarray, z: float, closed: bool) -> tuple[np.ndarray, np.ndarray]:
    """Vertices and upward-facing triangles of the band between two polylines with the same indexing."""
    n = len(left)
    verts = np.empty((2 * n, 3))
    verts[0::2, :2], verts[1::2, :2], verts[:, 2] = left, right, z
    count = n if closed else n - 1
    i = np.arange(count)
    a, b, c, d = 2 * i, 2 * i + 1, (2 * i + 2) % (2 * n), (2 * i + 3) % (2 * n)
    faces = np.concatenate([np.stack([a, b, c], 1), np.stack([c, b, d], 1)])
    return verts, _face_up(verts, faces)


def _face_up(verts: np.ndarray, faces: np.ndarray) -> np.ndarray:
    # Counter-clockwise seen from above, so the normals point at the sky and the light.
    p0, p1, p2 = verts[faces[:, 0], :2], verts[faces[:, 1], :2], verts[faces[:, 2], :2]
    cross = (p1[:, 0] - p0[:, 0]) * (p2[:, 1] - p0[:, 1]) - (p1[:, 1] - p0[:, 1]) * (p2[:, 0] - p0[:, 0])
    faces = faces.copy()
    flip = cross < 0
    faces[flip] = faces[flip][:, [0, 2, 1]]
    return faces[np.abs(cross) > 1e-12]


def _merge(meshes: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    verts, faces, offset = [], [], 0
    for v, f in meshes:
        verts.append(v)
        faces.append(f + offset)
        offset += len(v)
    return np.concatenate(verts), np.concatenate(faces)


def _unit_normals(points: np.ndarray) -> np.ndarray:
    """Left-hand unit normals of a closed polyline (central differences)."""
    tangent = np.roll(points, -1, axis=0) - np.roll(points, 1, axis=0)
    tangent /= np.maximum(np.linalg.norm(tangent, axis=1, keepdims=True), 1e-12)
    return np.stack([-tangent[:, 1], tangent[:, 0]], axis=1)


def _border_band(border: np.ndarray, centre: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    # The line runs along the road's edge, painted inwards (towards the centre line).
    inward = centre - border
    inward /= np.maximum(np.linalg.norm(inward, axis=1, keepdims=True), 1e-12)
    return _strip_mesh(border, border + BORDER_WIDTH * inward, LINE_Z, closed=True)


def _dashes(centre: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Dashes of the centre line, each a quad following the line, starting a gap after the start line."""
    closed = np.vstack([centre, centre[:1]])
    seg = np.linalg.norm(np.diff(closed, axis=0), axis=1)
    arc = np.concatenate([[0.0], np.cumsum(seg)])
    length = arc[-1]
    period = DASH_LENGTH + DASH_GAP
    meshes = []
    for start in np.arange(DASH_GAP, length - DASH_LENGTH, period):
        s = np.linspace(start, start + DASH_LENGTH, 4)
        pts = np.stack([np.interp(s, arc, closed[:, 0]), np.interp(s, arc, closed[:, 1])], axis=1)
        tangent = np.gradient(pts, axis=0)
        tangent /= np.maximum(np.linalg.norm(tangent, axis=1, keepdims=True), 1e-12)
        normal = np.stack([-tangent[:, 1], tangent[:, 0]], axis=1) * DASH_WIDTH / 2
        meshes.append(_strip_mesh(pts + normal, pts - normal, LINE_Z, closed=False))
    return _merge(meshes)


def _start_line(centre: np.ndarray, inner: np.ndarray, outer: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    tangent = centre[1] - centre[0]
    tangent = tangent / np.linalg.norm(tangent) * START_LINE_WIDTH / 2
    across = np.stack([inner[0], outer[0]])
    return _strip_mesh(across - tangent, across + tangent, LINE_Z + 0.001, closed=False)


def _mesh_xml(name: str, verts: np.ndarray, faces: np.ndarray) -> str:
    # A flat mesh has no volume: "shell" inertia lets it compile (it is visual only anyway).
    return f'<mesh name="{name}" inertia="shell" vertex="{_fmt(verts)}" face="{_fmt(faces.astype(int))}"/>'


def _walls(x0: float, y0: float, x1: float, y1: float) -> str:
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    hx, hy = (x1 - x0) / 2 + WALL_MARGIN, (y1 - y0) / 2 + WALL_MARGIN
    h, t = WALL_HEIGHT / 2, WALL_THICKNESS / 2
    walls = [(cx, cy + hy, hx + t, t), (cx, cy - hy, hx + t, t), (cx + hx, cy, t, hy + t), (cx - hx, cy, t, hy + t)]
    return "".join(
        f'<geom name="wall_{i}" type="box" pos="{x:.4f} {y:.4f} {h}" size="{sx:.4f} {sy:.4f} {h}" '
        f'rgba="{WALL_RGBA}" contype="0" conaffinity="0" group="{GROUP_OBSTACLE}"/>'
        for i, (x, y, sx, sy) in enumerate(walls)
    )


def _backdrop(cx: float, cy: float, span: float) -> str:
    """The sky: four flat-lit walls far out, a pale band at the horizon. A skybox texture doubled the
    cost of a camera frame on llvmpipe (1.3 against 0.7 ms)."""
    distance, height, band = BACKDROP_DISTANCE * span, BACKDROP_HEIGHT * span, HORIZON_BAND * span
    geoms = []
    for i, (dx, dy) in enumerate(((1, 0), (-1, 0), (0, 1), (0, -1))):
        sx, sy = (0.1, distance) if dx else (distance, 0.1)
        for name, material, z, half, back in (("sky", "sky", height / 2, height / 2, 0.2),
                                               ("horizon", "horizon", band / 2, band / 2, 0.0)):
            x, y = cx + dx * (distance + back), cy + dy * (distance + back)
            geoms.append(
                f'<geom name="{name}_{i}" type="box" pos="{x:.3f} {y:.3f} {z:.3f}" '
                f'size="{sx:.3f} {sy:.3f} {half:.3f}" material="{material}" contype="0" conaffinity="0"/>'
            )
    return "".join(geoms)


def _car_sensors_xml(prefix: str = "") -> str:
    pitch = np.deg2rad(CAMERA_PITCH_DEG)
    s, c = np.sin(pitch), np.cos(pitch)
    # A MuJoCo camera looks along its -z axis, x to the image's right, y up: right is the car's -y.
    axes = f"0 -1 0 {s:.6f} 0 {c:.6f}"
    fovy = f"{CAMERA_FOVY_DEG:.4f}"
    half = STEREO_BASELINE / 2
    cp = np.deg2rad(CHASE_PITCH_DEG)
    return (
        f'<camera name="{prefix}front" pos="{CAMERA_X} 0 {CAMERA_Z}" xyaxes="{axes}" fovy="{fovy}"/>'
        f'<camera name="{prefix}stereo_left" pos="{CAMERA_X} {half} {CAMERA_Z}" xyaxes="{axes}" fovy="{fovy}"/>'
        f'<camera name="{prefix}stereo_right" pos="{CAMERA_X} {-half} {CAMERA_Z}" xyaxes="{axes}" fovy="{fovy}"/>'
        f'<camera name="{prefix}chase" pos="{-CHASE_BACK} 0 {CHASE_UP}" '
        f'xyaxes="0 -1 0 {np.sin(cp):.6f} 0 {np.cos(cp):.6f}" fovy="{CHASE_FOVY_DEG}"/>'
        f'<site name="{prefix}lidar" pos="{LIDAR_X} 0 {LIDAR_Z}" size="0.01" group="{GROUP_CAR + 4}"/>'
    )


def _box_xml(i: int) -> str:
    return (
        f'<body name="box_{i}" mocap="true" pos="0 0 {PARKED_Z}">'
        f'<geom name="box_{i}" type="box" pos="0 0 {BOX_HEIGHT / 2}" '
        f'size="{BOX_LENGTH / 2} {BOX_WIDTH / 2} {BOX_HEIGHT / 2}" rgba="{BOX_RGBA}" '
        f'contype="0" conaffinity="0" group="{GROUP_OBSTACLE}"/></body>'
    )


def _cars_xml(car_colours: list[str] | None, car_colour: str) -> tuple[str, str]:
    """The cars' bodies and actuators: the one car of `DeepRacer-v0` with plain names, or one car per
    colour named by `_car_names`."""
    if car_colours is None:
        return car_mjcf(colour=car_colour, cameras=_car_sensors_xml())
    parts = [car_mjcf(name, colour=colour, cameras=_car_sensors_xml(prefix), hitbox=True)
             for (name, prefix), colour in zip(_car_names(len(car_colours)), car_colours, strict=True)]
    return "".join(body for body, _ in parts), "".join(actuators for _, actuators in parts)


def _car_names(count: int) -> list[tuple[str, str]]:
    """(body name, camera and site prefix) of each car of a world of several."""
    return [(f"car{i}", f"car{i}_") for i in range(count)]


def world_xml(track, boxes: int = 0, bots: int = 0, car_colour: str = CAR_COLOUR,
              car_colours: list[str] | None = None) -> str:
    """The scene's MJCF for a track (anything with centre / inner / outer N x 2 arrays); with
    ``car_colours``, one physical car per colour instead of the one car."""
    centre, inner, outer = _loop(track.centre), _loop(track.inner), _loop(track.outer)
    road = _strip_mesh(inner, outer, ROAD_Z, closed=True)
    lines = _merge([_border_band(inner, centre), _border_band(outer, centre), _start_line(centre, inner, outer)])
    dashes = _dashes(centre)
    everything = np.vstack([inner, outer])
    (x0, y0), (x1, y1) = everything.min(axis=0), everything.max(axis=0)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    span = max(x1 - x0, y1 - y0) + 2 * WALL_MARGIN
    extent = span / 2
    car_body, car_actuators = _cars_xml(car_colours, car_colour)
    # The top-down view is orthographic and frames the road with a margin (4:3 image).
    top_fovy = max((y1 - y0) + 0.6, ((x1 - x0) + 0.6) * 3 / 4)
    return f"""
<mujoco model="deepracer">
  <compiler angle="degree"/>
  <option timestep="{TIMESTEP:.8f}" integrator="implicitfast" cone="elliptic"/>
  <statistic extent="{extent:.3f}" center="{cx:.3f} {cy:.3f} 0"/>
  <visual>
    <global offwidth="{OFFSCREEN_WIDTH}" offheight="{OFFSCREEN_HEIGHT}"/>
    <quality shadowsize="0" offsamples="0"/>
    <map znear="{0.01 / extent:.6f}" zfar="{4 * span / extent:.3f}" haze="0.1"/>
    <headlight ambient="0.45 0.45 0.45" diffuse="0.35 0.35 0.35" specular="0 0 0"/>
    <rgba haze="{SKY_HORIZON} 1"/>
  </visual>
  <asset>
    <material name="sky" rgba="{SKY_TOP} 1" emission="0.1" specular="0"/>
    <material name="horizon" rgba="{SKY_HORIZON} 1" emission="0.1" specular="0"/>
    {_mesh_xml("road", *road)}
    {_mesh_xml("lines", *lines)}
    {_mesh_xml("dashes", *dashes)}
  </asset>
  <worldbody>
    <light name="sun" directional="true" pos="{cx:.3f} {cy:.3f} 10" dir="0.3 0.2 -1" castshadow="false"
      diffuse="0.55 0.55 0.55" specular="0 0 0"/>
    <geom name="ground" type="plane" pos="{cx:.3f} {cy:.3f} 0" size="{span:.2f} {span:.2f} {GROUND_GRID:.2f}"
      rgba="{GROUND_RGBA}" friction="{TYRE_FRICTION} 0.005 0.0001" contype="1" conaffinity="0"/>
    <geom name="road" type="mesh" mesh="road" rgba="{ROAD_RGBA}" contype="0" conaffinity="0"/>
    <geom name="lines" type="mesh" mesh="lines" rgba="{BORDER_RGBA}" contype="0" conaffinity="0"/>
    <geom name="dashes" type="mesh" mesh="dashes" rgba="{DASH_RGBA}" contype="0" conaffinity="0"/>
    {_walls(x0, y0, x1, y1)}
    {_backdrop(cx, cy, span)}
    <camera name="top" pos="{cx:.3f} {cy:.3f} {span:.2f}" projection="orthographic" fovy="{top_fovy:.3f}"/>
    {car_body}
    {"".join(_box_xml(i) for i in range(boxes))}
    {"".join(bot_mjcf(f"bot_{i}", BOT_COLOURS[i % len(BOT_COLOURS)]) for i in range(bots))}
  </worldbody>
  <actuator>{car_actuators}</actuator>
</mujoco>"""


def build_world(track, boxes: int = 0, bots: int = 0, car_colour: str = CAR_COLOUR,
                car_colours: list[str] | None = None) -> World:
    """Compile the scene for a track with room for `boxes` obstacles and `bots` bot cars; `car_colour`
    is the agent's shell as an MJCF "r g b a" string (see `car.parse_colour`). With `car_colours` (one
    MJCF colour per car), the world holds that many physical cars, in that order."""
    model = mujoco.MjModel.from_xml_string(world_xml(track, boxes, bots, car_colour, car_colours))
    data = mujoco.MjData(model)
    everything = np.vstack([_loop(track.inner), _loop(track.outer)])
    (x0, y0), (x1, y1) = everything.min(axis=0), everything.max(axis=0)
    if car_colours is None:
        names, colours = [("car", "")], [car_colour]
    else:
        names, colours = _car_names(len(car_colours)), list(car_colours)
    cars = [Car(model, data, name) for name, _ in names]
    world = World(
        model=model,
        data=data,
        car=cars[0],
        box_mocap=[model.body_mocapid[model.body(f"box_{i}").id] for i in range(boxes)],
        bot_mocap=[model.body_mocapid[model.body(f"bot_{i}").id] for i in range(bots)],
        bounds=(float(x0), float(y0), float(x1), float(y1)),
        cars=cars,
        prefixes=[prefix for _, prefix in names],
        colours=colours,
    )
    mujoco.mj_forward(model, data)
    return world
