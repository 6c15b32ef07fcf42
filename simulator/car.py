"""The DeepRacer car: its MJCF body and the physics accessors the env drives it through.

The car is real MuJoCo physics, kept cheap: a chassis sliding in x, y, z and turning in yaw, four wheels
whose only contacts are sphere-plane contacts with the ground (Coulomb friction in an elliptic cone, so a
car that corners faster than about 1 g of grip allows slides), position servos on the two front steering
hinges (Ackermann geometry) and velocity servos with a torque limit on all four wheel hinges (the
DeepRacer is four-wheel drive; each wheel's target follows its own turning circle, as differentials let
it). The commanded speed is a target the drivetrain tracks within its torque limit, so the car
accelerates and brakes at a realistic rate instead of jumping.

The car's origin is the middle of the rear axle on the ground, heading along +x of its body frame: the
pose the reward params are computed from (SPEC 1.1: x, y are 0.14 m ahead of that origin).
"""

import math
from dataclasses import dataclass

import mujoco
import numpy as np

# The command limits are SPEC 2 facts.
from simulator.spec import MAX_SPEED, MIN_SPEED
from simulator.spec import STEERING_LIMIT as MAX_STEERING_DEG

# DeepRacer dimensions (SPEC 2), metres.
WHEELBASE = 0.164
AXLE_TRACK = 0.162
WHEEL_RADIUS = 0.035
WHEEL_WIDTH = 0.03
FOOTPRINT_LENGTH = 0.324
FOOTPRINT_WIDTH = 0.196
# The footprint is centred between the axles: equal overhangs front and back.
FOOTPRINT_CENTRE_X = WHEELBASE / 2

# The front camera (SPEC 2): about 0.09 m ahead of the car's centre and 0.08 m above the axles, pitched
# down to see the road ahead; the shell ends just behind it so the car never sees itself.
CAMERA_X = FOOTPRINT_CENTRE_X + 0.09
CAMERA_Z = 0.08

# The inner wheel of a full-lock turn points further than the 30° command (Ackermann): ≈ 39°.
MAX_WHEEL_ANGLE_DEG = 40.0
# Tyres are compliant: a softer contact impedance (MuJoCo solimp) keeps all four on the ground through
# tight turns instead of chattering.
TYRE_SOLIMP = "0.5 0.95 0.005"

# The chassis moves in x, y, z and yaw; roll and pitch are left out: a rigid 4-wheel car at a 13 ms step
# rocks and chatters on its tyres when it slides, and a DeepRacer never rolls over on a flat track.
# A damper on the vertical joint (the suspension's) calms the hops a hard slide still causes.
CHASSIS_Z_DAMPING = 30.0      # N s/m

# Masses (kg): about the real car's 1.5 kg in all.
CHASSIS_MASS = 1.3
# The chassis' centre of mass above the axles (m): battery and board sit low, between the wheels.
CHASSIS_COM_Z = 0.0
WHEEL_MASS = 0.05
# Tyre-on-track friction: about 1 g of grip, so 1 m/s at full lock holds and 2 m/s slides.
TYRE_FRICTION = 1.0
# The drivetrain's torque limit per wheel (N m): 4 wheels x 0.05 / 0.035 m ≈ 5.7 N, ≈ 4 m/s² on 1.5 kg,
# so 0 → 4 m/s takes about a second like the real car.
WHEEL_TORQUE = 0.05
# Speed servo gain (N m per rad/s of wheel speed error): saturates above ~0.1 m/s of error.
WHEEL_SPEED_GAIN = 0.02
# Steering servo: about 0.1 s from lock to lock.
STEERING_GAIN = 1.5
STEERING_DAMP_RATIO = 1.0

# A bot car as the LIDAR sees it: its footprint, from the ground up to the height of a car with a LIDAR.
BOT_HITBOX_HEIGHT = 0.18

CAR_COLOUR = "0.86 0.1 0.12 1"       # DeepRacer-ish red shell
BODY_COLOUR = "0.08 0.08 0.09 1"
WHEEL_COLOUR = "0.05 0.05 0.05 1"

# Geom groups: 0 = scene, 1 = cars (never seen by the LIDAR), 2 = obstacles and walls (LIDAR targets),
# 3 = collision-only wheel spheres, 4 = LIDAR-only hit boxes (3 and 4 are not rendered by default).
GROUP_CAR = 1
GROUP_OBSTACLE = 2
GROUP_COLLISION = 3
GROUP_LIDAR_ONLY = 4


def _wheel_visuals(name: str) -> str:
    # Cylinder axis along the wheel's y axis: rotate the default z axis by 90° about x.
    return (
        f'<geom name="{name}_tyre" type="cylinder" size="{WHEEL_RADIUS} {WHEEL_WIDTH / 2}" '
        f'euler="90 0 0" rgba="{WHEEL_COLOUR}" contype="0" conaffinity="0" group="{GROUP_CAR}" mass="0"/>'
    )


def _shell(prefix: str, colour: str) -> str:
    """The visible body: a low chassis plate, a shell and the camera mast; massless (the chassis
    mass sits in one inertial element)."""
    cx = FOOTPRINT_CENTRE_X
    half_len, half_wid = FOOTPRINT_LENGTH / 2, FOOTPRINT_WIDTH / 2
    common = f'contype="0" conaffinity="0" group="{GROUP_CAR}" mass="0"'
    rear = cx - half_len
    plate_front, shell_front = CAMERA_X + 0.045, CAMERA_X - 0.005
    shell_rear = rear + 0.03
    return "\n".join([
        f'<geom name="{prefix}_plate" type="box" pos="{(rear + plate_front) / 2} 0 0.012" '
        f'size="{(plate_front - rear) / 2} {half_wid - 0.02} 0.008" rgba="{BODY_COLOUR}" {common}/>',
        f'<geom name="{prefix}_shell" type="box" pos="{(shell_rear + shell_front) / 2} 0 0.045" '
        f'size="{(shell_front - shell_rear) / 2} {half_wid - 0.035} 0.025" rgba="{colour}" {common}/>',
        f'<geom name="{prefix}_mast" type="box" pos="{CAMERA_X - 0.03} 0 {CAMERA_Z - 0.01}" '
        f'size="0.025 0.03 0.012" rgba="{BODY_COLOUR}" {common}/>',
    ])


def _lidar_hitbox(name: str) -> str:
    """What another car's LIDAR sees of a car: its footprint, from the ground up to the height of a car
    with a LIDAR, in a group the cameras do not render. The body's origin is at axle height."""
    return (
        f'<geom name="{name}_hitbox" type="box" pos="{FOOTPRINT_CENTRE_X} 0 {BOT_HITBOX_HEIGHT / 2 - WHEEL_RADIUS}" '
        f'size="{FOOTPRINT_LENGTH / 2} {FOOTPRINT_WIDTH / 2} {BOT_HITBOX_HEIGHT / 2}" '
        f'contype="0" conaffinity="0" group="{GROUP_LIDAR_ONLY}" mass="0"/>'
    )


def car_mjcf(name: str = "car", colour: str = CAR_COLOUR, cameras: str = "", hitbox: bool = False) -> tuple[str, str]:
    """The agent car's (body XML, actuator XML). `cameras` is extra XML placed in the chassis body;
    ``hitbox``: other cars' LIDARs see this one (a world of several cars; a LIDAR skips its own car)."""
    y = AXLE_TRACK / 2
    wheel_joint = 'type="hinge" axis="0 1 0" damping="0.00002" armature="0.0001"'
    collision = (
        f'type="sphere" size="{WHEEL_RADIUS}" friction="{TYRE_FRICTION} 0.005 0.0001" '
        f'contype="0" conaffinity="1" condim="3" solimp="{TYRE_SOLIMP}" group="{GROUP_COLLISION}" '
        f'mass="{WHEEL_MASS}"'
    )

    def wheel(side: str, x: float, wy: float, steered: bool) -> str:
        wheel_body = (
            f'<body name="{name}_wheel_{side}" pos="{0 if steered else x} {0 if steered else wy} 0">'
            f'<joint name="{name}_spin_{side}" {wheel_joint}/>'
            f'<geom name="{name}_contact_{side}" {collision}/>{_wheel_visuals(f"{name}_{side}")}</body>'
        )
        if not steered:
            return wheel_body
        return (
            f'<body name="{name}_knuckle_{side}" pos="{x} {wy} 0">'
            f'<joint name="{name}_steer_{side}" type="hinge" axis="0 0 1" range="-{MAX_WHEEL_ANGLE_DEG} '
            f'{MAX_WHEEL_ANGLE_DEG}" limited="true" damping="0.001" armature="0.001"/>'
            f'<inertial pos="0 0 0" mass="0.01" diaginertia="1e-5 1e-5 1e-5"/>{wheel_body}</body>'
        )

    body = f"""
<body name="{name}" pos="0 0 {WHEEL_RADIUS}">
  <joint name="{name}_x" type="slide" axis="1 0 0"/>
  <joint name="{name}_y" type="slide" axis="0 1 0"/>
  <joint name="{name}_z" type="slide" axis="0 0 1" damping="{CHASSIS_Z_DAMPING}"/>
  <joint name="{name}_yaw" type="hinge" axis="0 0 1"/>
  <inertial pos="{FOOTPRINT_CENTRE_X} 0 {CHASSIS_COM_Z}" mass="{CHASSIS_MASS}" diaginertia="0.004 0.011 0.013"/>
  {_shell(name, colour)}
  {_lidar_hitbox(name) if hitbox else ""}
  {cameras}
  {wheel("rl", 0.0, y, False)}
  {wheel("rr", 0.0, -y, False)}
  {wheel("fl", WHEELBASE, y, True)}
  {wheel("fr", WHEELBASE, -y, True)}
</body>"""
    drive = "".join(
        f'<velocity name="{name}_drive_{side}" joint="{name}_spin_{side}" kv="{WHEEL_SPEED_GAIN}" '
        f'forcerange="-{WHEEL_TORQUE} {WHEEL_TORQUE}" forcelimited="true" ctrlrange="-200 200"/>'
        for side in ("rl", "rr", "fl", "fr")
    )
    steer = "".join(
        f'<position name="{name}_steer_{side}" joint="{name}_steer_{side}" kp="{STEERING_GAIN}" '
        f'dampratio="{STEERING_DAMP_RATIO}" ctrlrange="-{math.radians(MAX_WHEEL_ANGLE_DEG):.4f} '
        f'{math.radians(MAX_WHEEL_ANGLE_DEG):.4f}"/>'
        for side in ("fl", "fr")
    )
    return body, drive + steer


def bot_mjcf(name: str, colour: str) -> str:
    """A bot car: a mocap body that looks like the agent's car (no physics: it is driven kinematically)."""
    y = AXLE_TRACK / 2
    wheels = "".join(
        f'<body name="{name}_wheel_{side}" pos="{x} {wy} 0">{_wheel_visuals(f"{name}_{side}")}</body>'
        for side, x, wy in (("rl", 0.0, y), ("rr", 0.0, -y), ("fl", WHEELBASE, y), ("fr", WHEELBASE, -y))
    )
    # The LIDAR must see bots. Like the agent's chassis, the body's origin is at axle height.
    return (
        f'<body name="{name}" mocap="true" pos="0 0 -5">'
        f'{_shell(name, colour)}{_lidar_hitbox(name)}{wheels}</body>'
    )


def clamp_command(steering_deg: float, speed: float) -> tuple[float, float]:
    """Commands clamped to what the car can do (SPEC 2); NaN counts as zero steering / minimum speed."""
    # math.isnan on floats: np.nan_to_num costs ~20 µs a call, a tenth of a whole env step.
    steering, speed = float(steering_deg), float(speed)
    steering = 0.0 if math.isnan(steering) else steering
    speed = MIN_SPEED if math.isnan(speed) else speed
    return (
        min(max(steering, -MAX_STEERING_DEG), MAX_STEERING_DEG),
        min(max(speed, MIN_SPEED), MAX_SPEED),
    )


def ackermann(steering_deg: float) -> tuple[float, float]:
    """Front-left and front-right wheel angles (radians) for a steering command: the command is the
    angle of a virtual wheel midway between them, and each real wheel points at the same turning
    centre, the inner one more sharply. Parallel wheels scrub in tight turns, and the scrub shook the
    rigid car on its tyres (one or two wheels off the ground at full lock)."""
    if abs(steering_deg) < 1e-6:
        return 0.0, 0.0
    radius = WHEELBASE / math.tan(math.radians(steering_deg))     # signed: > 0 turning left
    left = math.atan(WHEELBASE / (radius - AXLE_TRACK / 2))
    right = math.atan(WHEELBASE / (radius + AXLE_TRACK / 2))
    return left, right


def wheel_speeds(steering_deg: float, speed: float) -> tuple[float, float, float, float]:
    """Target spin (rad/s) of the rear-left, rear-right, front-left and front-right wheels for a speed
    at the rear axle's centre: in a turn each wheel rolls its own circle round the turning centre, as
    the real car's differentials let them. Equal spins would make the wheels fight and drag the car
    20% below its commanded speed at full lock."""
    if abs(steering_deg) < 1e-6:
        return (speed / WHEEL_RADIUS,) * 4
    radius = WHEELBASE / math.tan(math.radians(steering_deg))     # signed: > 0 turning left
    left, right = abs(radius - AXLE_TRACK / 2), abs(radius + AXLE_TRACK / 2)
    scale = speed / (abs(radius) * WHEEL_RADIUS)
    return (left * scale, right * scale, math.hypot(left, WHEELBASE) * scale, math.hypot(right, WHEELBASE) * scale)


def _as_slice(indices: list[int]):
    """Consecutive indices as a slice: slice assignment into MjData is several times cheaper."""
    if indices == list(range(indices[0], indices[0] + len(indices))):
        return slice(indices[0], indices[0] + len(indices))
    return indices


def parse_colour(colour) -> str:
    """A Garage shell colour, "#rrggbb" or (r, g, b) in 0..1, as an MJCF rgba string; None = the default
    red. Raises ValueError for anything else."""
    if colour is None:
        return CAR_COLOUR
    try:
        if isinstance(colour, str):
            text = colour.strip().removeprefix("#")
            if len(text) != 6:
                raise ValueError
            rgb = [int(text[i:i + 2], 16) / 255 for i in (0, 2, 4)]
        else:
            rgb = [float(c) for c in colour]
            if len(rgb) != 3 or not all(0.0 <= c <= 1.0 for c in rgb):
                raise ValueError
    except (TypeError, ValueError):
        raise ValueError(f'a car colour is "#rrggbb" or (r, g, b) within 0..1, not {colour!r}') from None
    return " ".join(f"{c:.4f}" for c in rgb) + " 1"


@dataclass(frozen=True)
class CarPose:
    x: float        # rear-axle origin, world metres
    y: float
    yaw: float      # radians, counter-clockwise from +x


class Car:
    """Physics accessors for one car in a compiled world: place it, command it, read its state."""

    def __init__(self, model: mujoco.MjModel, data: mujoco.MjData, name: str = "car"):
        self.model, self.data = model, data
        self.body_id = model.body(name).id
        joint = model.joint(f"{name}_x")
        # x, y, z, yaw: consecutive joints of the chassis, one coordinate each.
        self._qpos = slice(joint.qposadr[0], joint.qposadr[0] + 4)
        self._qvel = slice(joint.dofadr[0], joint.dofadr[0] + 4)
        chassis_joints = {model.joint(f"{name}_{axis}").id for axis in ("x", "y", "z", "yaw")}
        self._drive = _as_slice([model.actuator(f"{name}_drive_{s}").id for s in ("rl", "rr", "fl", "fr")])
        self._steer = _as_slice([model.actuator(f"{name}_steer_{s}").id for s in ("fl", "fr")])
        self._steer_qpos = [model.joint(f"{name}_steer_{s}").qposadr[0] for s in ("fl", "fr")]
        # Every joint below the chassis (wheels, steering): zeroed when the car is placed.
        hinges = [j for j in range(model.njnt) if self._in_car(model, model.jnt_bodyid[j]) and j not in chassis_joints]
        self._hinge_qpos = [model.jnt_qposadr[j] for j in hinges]
        self._hinge_dofs = [model.jnt_dofadr[j] for j in hinges]
        # Out of a race (finished, or out under its rules): kept still off the road, not drawn on maps.
        self.parked = False

    def _in_car(self, model: mujoco.MjModel, body: int) -> bool:
        while body > 0:
            if body == self.body_id:
                return True
            body = model.body_parentid[body]
        return False

    def place(self, x: float, y: float, yaw: float) -> None:
        """Put the car at rest with its rear-axle origin at (x, y), heading yaw (radians)."""
        self.parked = False
        qpos = self.data.qpos
        qpos[self._qpos] = (x, y, 0.0, yaw)
        self.data.qvel[self._qvel] = 0.0
        # Wheels and steering back to straight, at rest.
        qpos[self._hinge_qpos] = 0.0
        self.data.qvel[self._hinge_dofs] = 0.0
        self.data.ctrl[self._drive] = 0.0
        self.data.ctrl[self._steer] = 0.0

    def park(self, x: float, y: float) -> None:
        """Take the car out of a race: at rest at (x, y) (off the road, away from the others), unmarked."""
        self.place(x, y, 0.0)
        self.parked = True

    def command(self, steering_deg: float, speed: float) -> None:
        """Set the steering target and the speed target (already clamped) for the next physics steps."""
        self.data.ctrl[self._steer] = ackermann(steering_deg)
        self.data.ctrl[self._drive] = wheel_speeds(steering_deg, speed)

    def pose(self) -> CarPose:
        """Where the rear-axle origin is and which way the car faces (yaw within ±π)."""
        x, y, _, yaw = self.data.qpos[self._qpos].tolist()
        return CarPose(x, y, math.remainder(yaw, math.tau))

    def forward_speed(self) -> float:
        """Measured speed along the car's heading, m/s (negative when rolling backwards)."""
        yaw = self.pose().yaw
        vx, vy = self.data.qvel[self._qvel][:2].tolist()
        return vx * math.cos(yaw) + vy * math.sin(yaw)

    def steering_deg(self) -> float:
        """The measured mean front-wheel angle."""
        return float(np.rad2deg(np.mean(self.data.qpos[self._steer_qpos])))

    def height(self) -> float:
        """How far the chassis sits above its resting height (m): tyre compression and hops."""
        return float(self.data.qpos[self._qpos.start + 2])
