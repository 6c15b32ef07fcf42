"""A fast line round any track and the speed the car can hold along it (plain Python, no Django).

The line is a minimum-curvature line, found as racers' notebooks find it: points spread evenly along
the centre line are pulled, again and again, towards the midpoint of their two neighbours (which
straightens the path) and kept inside the road less a margin for the car's half width. Where the
line is straight the car reaches its top speed; in a corner the grip caps it at sqrt(a_lat / curvature);
then a forward pass (how fast it can accelerate) and a backward pass (how late it can brake) make a
speed profile the car could actually drive. The car's limits are the ones measured by driving the
simulated car (simulator/car_limits.py), so the lap time is what our car could do on that line.
Racers' racing-line reward functions expect the line as a list of ``[x, y]`` points, which
``RacingLine.points_list`` gives.

``limit_lap(track)`` is the same computation with the episode rules' own margin: a car is off track
only when no wheel is on the road, so the fastest legal line may put one side's wheels over the
border. The console's racing line keeps all four wheels on (what racers' reward functions reward).
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from simulator.car_limits import MEASURED, CarLimits
from simulator.params import WHEEL_TRACK
from simulator.tracks import Track

CAR_HALF_WIDTH = 0.1  # m: the line keeps this far inside each border (all wheels on the track)
# The limit lap's line may take the car's centre this far beyond a border: the wheels of the other
# side stay 2 cm on the road, so the car is still on track (SPEC 1.2: off track = no wheel on it).
LIMIT_MARGIN = -(WHEEL_TRACK / 2 - 0.02)
SPACING = 0.1  # m between the line's points
ITERATIONS = 1500  # smoothing passes; enough to converge on every built-in and DeepRacer track
STEP = 0.5  # how far a point moves towards its neighbours' midpoint per pass
# Curvature is measured over chords of this many points (0.3 m) and averaged as far again: a car cannot
# follow kinks shorter than its own length, and point-to-point curvature of a clipped line is noisy.
CURVATURE_STENCIL = 3


@dataclass(frozen=True)
class RacingLine:
    points: np.ndarray  # (N, 2), closed: the first point is repeated at the end
    speeds: np.ndarray  # (N,) m/s the car can hold at each point
    curvature: np.ndarray  # (N,) 1/m, positive turning left
    lap_time: float  # s, driving the speed profile once round

    @property
    def length(self) -> float:
        """m along the line, once round."""
        return float(np.hypot(*np.diff(self.points, axis=0).T).sum())

    def points_list(self, decimals: int = 4) -> list[list[float]]:
        return np.round(self.points, decimals).tolist()

    def as_dict(self, decimals: int = 3) -> dict:
        return {"points": self.points_list(decimals), "speeds": np.round(self.speeds, decimals).tolist(),
                "lap_time": round(self.lap_time, 3), "length": round(self.length, 3)}


def limit_lap(track: Track, limits: CarLimits = MEASURED) -> RacingLine:
    """The limit lap of our car on ``track``: the fast line any legal car position allows, driven at the
    speed profile of the car's measured limits. Its ``lap_time`` is what bench/fast_lap.py compares to."""
    return racing_line(track, limits=limits, margin=LIMIT_MARGIN)


def racing_line(track: Track, *, limits: CarLimits = MEASURED, top_speed: float | None = None,
                margin: float = CAR_HALF_WIDTH, iterations: int = ITERATIONS) -> RacingLine:
    """The fast line of ``track`` in its driving direction (a reversed track gives the line reversed),
    keeping ``margin`` metres inside each border (negative: beyond it). ``top_speed`` caps the car's
    (a model whose actions never ask for more)."""
    if top_speed is not None:
        limits = dataclasses.replace(limits, top_speed=min(limits.top_speed, float(top_speed)))
    centre, normals, half_widths = _resampled_centre(track)
    limit = np.maximum(half_widths - margin, 0.0)
    offsets = _smoothed_offsets(centre, normals, limit, iterations)
    # Points bunch up where the line hugs the inside of a tight corner: spread them evenly again.
    return _driven(_evenly_spaced(centre + offsets[:, None] * normals, len(centre)), limits)


def lap_from_rest(line: RacingLine, start: tuple[float, float], limits: CarLimits = MEASURED) -> float:
    """s: one lap of ``line`` as an evaluation trial drives it, from rest at the line's point nearest
    ``start`` (the start line) round to that point again, crossed at speed. ``line.lap_time`` is a flying
    lap; this one pays for the acceleration off the line as well."""
    points, speeds = line.points[:-1], line.speeds[:-1]
    first = int(np.argmin(np.hypot(*(points - np.asarray(start, dtype=float)).T)))
    order = np.roll(np.arange(len(points)), -first)
    ordered = np.vstack([points[order], points[order[:1]]])
    # The flying profile already brakes for every corner: starting slower only lowers speeds after the start.
    profile = np.append(speeds[order], speeds[order[0]])
    profile[0] = 0.0
    steps = np.hypot(*np.diff(ordered, axis=0).T)
    _accelerate(profile, steps, limits.acceleration)
    return float(np.sum(steps / np.maximum((profile[:-1] + profile[1:]) / 2, 1e-6)))


def path_limit(path: np.ndarray, limits: CarLimits = MEASURED) -> RacingLine:
    """How fast the car could lap a given closed path, such as the positions of a lap a policy drove
    (``(N, 2)``, any spacing; the end joins the start): the path, spaced evenly as the limit lap's line
    is, driven at the speed profile the car's limits allow along it. Comparing its ``lap_time`` with the
    limit lap's tells the cost of the path chosen from the cost of driving it below the car's limits."""
    path = np.asarray(path, dtype=float)
    if np.allclose(path[0], path[-1]):
        path = path[:-1]
    length = float(np.hypot(*np.diff(np.vstack([path, path[:1]]), axis=0).T).sum())
    return _driven(_evenly_spaced(path, max(int(length / SPACING), 16)), limits)


def _driven(points: np.ndarray, limits: CarLimits) -> RacingLine:
    """The closed line through evenly spaced ``points`` (open array) at the speed profile of ``limits``."""
    curvature = _smoothed(_curvature(points, CURVATURE_STENCIL), CURVATURE_STENCIL)
    speeds = speed_profile(points, curvature, limits)
    closed = np.vstack([points, points[:1]])
    steps = np.hypot(*np.diff(closed, axis=0).T)
    lap_time = float(np.sum(steps / np.maximum((speeds + np.roll(speeds, -1)) / 2, 1e-6)))
    return RacingLine(closed, np.append(speeds, speeds[0]), np.append(curvature, curvature[0]), lap_time)


def _resampled_centre(track: Track) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Points every ~SPACING m along the centre line (open: no repeated end), their left normals and the
    local half width of the road there."""
    count = max(int(track.length / SPACING), 16)
    distances = np.arange(count) * (track.length / count)
    poses = np.array([track.pose_at(distance) for distance in distances])
    centre, heading = poses[:, :2], poses[:, 2]
    normals = np.column_stack([-np.sin(heading), np.cos(heading)])
    cumulative = np.concatenate(([0.0], np.cumsum(np.hypot(*np.diff(track.centre, axis=0).T))))
    half_widths = np.interp(distances, cumulative, track.widths) / 2
    return centre, normals, half_widths


def _smoothed_offsets(centre, normals, limit, iterations) -> np.ndarray:
    """Lateral offsets (left positive) of the smoothed line, each within +-limit."""
    offsets = np.zeros(len(centre))
    for _ in range(iterations):
        points = centre + offsets[:, None] * normals
        middle = (np.roll(points, 1, axis=0) + np.roll(points, -1, axis=0)) / 2
        wanted = np.einsum("ij,ij->i", middle - centre, normals)
        offsets = np.clip(offsets + STEP * (wanted - offsets), -limit, limit)
    return offsets


def _evenly_spaced(points: np.ndarray, count: int) -> np.ndarray:
    """``count`` points evenly spaced along a closed polyline (open array), starting at its first point."""
    closed = np.vstack([points, points[:1]])
    cumulative = np.concatenate(([0.0], np.cumsum(np.hypot(*np.diff(closed, axis=0).T))))
    wanted = np.arange(count) * (cumulative[-1] / count)
    return np.column_stack([np.interp(wanted, cumulative, closed[:, 0]), np.interp(wanted, cumulative, closed[:, 1])])


def _smoothed(values: np.ndarray, half: int) -> np.ndarray:
    """Circular moving average over 2 * half + 1 values."""
    window = np.ones(2 * half + 1) / (2 * half + 1)
    padded = np.concatenate([values[-half:], values, values[:half]])
    return np.convolve(padded, window, mode="valid")


def _curvature(points: np.ndarray, stencil: int = 1) -> np.ndarray:
    """Signed curvature of a closed polyline (open array) at each point: the circle through a point and
    the points ``stencil`` before and after it (Menger curvature), positive turning left."""
    before, after = np.roll(points, stencil, axis=0), np.roll(points, -stencil, axis=0)
    a = np.hypot(*(points - before).T)
    b = np.hypot(*(after - points).T)
    c = np.hypot(*(after - before).T)
    cross = (points - before)[:, 0] * (after - points)[:, 1] - (points - before)[:, 1] * (after - points)[:, 0]
    return 2 * cross / np.maximum(a * b * c, 1e-12)


def speed_profile(points, curvature, limits: CarLimits = MEASURED) -> np.ndarray:
    """The speed at each point of a closed line (open array): the grip limit in corners, then what the
    car can reach accelerating out of them and braking into them. Two laps of each pass settle the wrap."""
    steps = np.hypot(*(np.roll(points, -1, axis=0) - points).T)
    speeds = limits.corner_speed(curvature)
    acceleration, braking = limits.acceleration, limits.braking
    count = len(speeds)
    for _ in range(2):
        _accelerate(speeds, steps, acceleration)
    for _ in range(2):
        for i in range(count - 1, -1, -1):
            j = (i + 1) % count
            speeds[i] = min(speeds[i], math.sqrt(speeds[j] ** 2 + 2 * braking * steps[i]))
    return speeds


def _accelerate(speeds: np.ndarray, steps: np.ndarray, acceleration: float) -> None:
    """Caps each speed, in place and in driving order, at what the car reaches from the point before it:
    ``speeds[i + 1] <= sqrt(speeds[i]**2 + 2 * acceleration * steps[i])``. As many steps as speeds go round
    a closed line (the last step leads back to the first point); one fewer go along an open one."""
    count = len(speeds)
    for i, step in enumerate(steps):
        j = (i + 1) % count
        speeds[j] = min(speeds[j], math.sqrt(speeds[i] ** 2 + 2 * acceleration * step))


def track_outline(track: Track) -> dict:
    """The track picture as lines (m), for plots: centre, inner and outer border, each {x: [...], y: [...]}."""
    def line(array):
        return {"x": np.round(array[:, 0], 3).tolist(), "y": np.round(array[:, 1], 3).tolist()}

    return {"title": track.title, "centre": line(track.centre), "inner": line(track.inner),
            "outer": line(track.outer), "length": round(track.length, 3), "width": round(track.width, 3)}


_CACHED: OrderedDict[tuple, RacingLine] = OrderedDict()
CACHED_LINES = 32


def cached_racing_line(track: Track, top_speed: float = MEASURED.top_speed) -> RacingLine:
    """``racing_line(track, top_speed=...)`` with the other limits at their defaults, remembered per track
    geometry, direction and top speed (pages draw the same few tracks again and again)."""
    key = (track.is_reversed, round(float(top_speed), 3),
           hashlib.sha1(track.centre.tobytes() + track.inner.tobytes()).hexdigest())
    line = _CACHED.get(key)
    if line is None:
        line = _CACHED[key] = racing_line(track, top_speed=top_speed)
        while len(_CACHED) > CACHED_LINES:
            _CACHED.popitem(last=False)
    return line


def racing_line_svg(track: Track, size: int = 480) -> str:
    """The racing line as an SVG path drawn over ``track.to_svg(size)`` (same pixel frame)."""
    frame = track.pixel_frame(size)
    coords = " ".join(f"{px:.1f},{py:.1f}" for px, py in map(frame.pixel, cached_racing_line(track).points))
    width = max(1.0, frame.scale * 0.03)
    return (f'<path d="M{coords}" fill="none" stroke="#ff9900" stroke-width="{width:.1f}" '
            f'stroke-dasharray="{width * 3:.1f} {width * 2:.1f}" data-racing-line="true"/>')


def track_svg_with_racing_line(track: Track, size: int = 480) -> str:
    """``track.to_svg(size)`` with the racing line drawn on it (the track picker)."""
    return track.to_svg(size).replace("</svg>", racing_line_svg(track, size) + "\n</svg>")


def top_speed_of(metadata: dict) -> float:
    """The fastest the car of a model_metadata dict is ever asked to go (its racing line's top speed)."""
    space = metadata.get("action_space")
    if metadata.get("action_space_type", "discrete") == "continuous" and isinstance(space, dict):
        return min(MEASURED.top_speed, float(space["speed"]["high"]))
    speeds = [float(action["speed"]) for action in space or []]
    return min(MEASURED.top_speed, max(speeds)) if speeds else MEASURED.top_speed
