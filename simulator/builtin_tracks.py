"""Our own tracks, authored here as smooth closed curves.

Each design is a handful of control points (a rough sketch in metres) that a periodic cubic spline
passes through. The curve is scaled to the design's length, sampled at an even spacing like real
DeepRacer files (0.1-0.3 m between waypoints), and the borders are the centre line offset by half the
width on each side. simulator.tracks builds the ``Track`` from them (one-way: this module knows
nothing of it), which checks that the result is a valid road (no border crossing itself
or the other one), and the tests check each design's length, width and tightest turn.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.interpolate import CubicSpline

DENSE_SAMPLES = 4000  # per lap, to measure arc length before resampling evenly
WAYPOINT_SPACING = 0.15  # m, close to re:Invent 2018's


@dataclass(frozen=True)
class TrackDesign:
    """A built-in track: where its spline goes and how big the road is."""

    slug: str
    title: str
    description: str
    control_points: tuple[tuple[float, float], ...]  # the sketch, first point on the start line
    length: float  # m, the centre line is scaled to this
    width: float  # m, border to border
    spacing: float = WAYPOINT_SPACING  # m between waypoints

    def lines(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(centre line, left border, right border), waypoint by waypoint."""
        centre, left = centre_line(self.control_points, self.length, self.spacing)
        half = self.width / 2
        return centre, centre + half * left, centre - half * left

    def min_radius(self) -> float:
        """The tightest turn of the centre line, m (the car turns no tighter than ~0.28 m)."""
        spline, scale = _scaled_spline(self.control_points, self.length)
        u = np.linspace(0.0, spline.x[-1], DENSE_SAMPLES, endpoint=False)
        first, second = spline(u, 1), spline(u, 2)
        speed = np.hypot(first[:, 0], first[:, 1])
        curvature = np.abs(first[:, 0] * second[:, 1] - first[:, 1] * second[:, 0]) / speed**3
        return float(scale / curvature.max())


def centre_line(control_points, length, spacing=WAYPOINT_SPACING):
    """Evenly spaced points of the closed spline through ``control_points``, scaled to ``length``,
    first point repeated at the end; and the unit left normal at each point."""
    spline, scale = _scaled_spline(control_points, length)
    u_dense = np.linspace(0.0, spline.x[-1], DENSE_SAMPLES + 1)
    dense = spline(u_dense)
    arc = np.concatenate(([0.0], np.cumsum(np.hypot(*np.diff(dense, axis=0).T))))
    count = max(int(round(arc[-1] * scale / spacing)), 10)
    u = np.interp(np.linspace(0.0, arc[-1], count + 1), arc, u_dense)
    u[-1] = u[0]  # the closing point is exactly the first
    points = spline(u) * scale
    points *= length / np.hypot(*np.diff(points, axis=0).T).sum()  # chords are a touch shorter than arcs
    tangent = spline(u, 1)
    tangent /= np.hypot(tangent[:, 0], tangent[:, 1])[:, None]
    left = np.column_stack((-tangent[:, 1], tangent[:, 0]))
    return points, left


def _scaled_spline(control_points, length):
    """The periodic spline through the control points (chord-length parameter) and the factor that
    scales it to ``length``."""
    points = np.asarray(control_points, dtype=np.float64)
    loop = np.vstack((points, points[:1]))
    chords = np.hypot(*np.diff(loop, axis=0).T)
    spline = CubicSpline(np.concatenate(([0.0], np.cumsum(chords))), loop, bc_type="periodic")
    u = np.linspace(0.0, spline.x[-1], DENSE_SAMPLES + 1)
    natural = float(np.hypot(*np.diff(spline(u), axis=0).T).sum())
    return spline, length / natural


def _stadium(straight, radius, points_per_turn=6):
    """Control points of an oval: two straights joined by half circles, starting mid-straight."""
    points = [(0.0, -radius), (straight / 2, -radius)]
    for angle in np.linspace(-np.pi / 2, np.pi / 2, points_per_turn + 2)[1:-1]:
        points.append((straight / 2 + radius * np.cos(angle), radius * np.sin(angle)))
    points += [(straight / 2, radius), (0.0, radius), (-straight / 2, radius)]
    for angle in np.linspace(np.pi / 2, 3 * np.pi / 2, points_per_turn + 2)[1:-1]:
        points.append((-straight / 2 + radius * np.cos(angle), radius * np.sin(angle)))
    points.append((-straight / 2, -radius))
    return tuple((float(x), float(y)) for x, y in points)


DESIGNS: dict[str, TrackDesign] = {
    design.slug: design
    for design in (
        TrackDesign(
            slug="oval",
            title="Oval",
            description="Two straights and two wide, even turns: the easiest first track.",
            control_points=_stadium(straight=4.0, radius=1.6),
            length=18.0,
            width=0.9,
        ),
        TrackDesign(
            slug="bowtie",
            title="Bowtie",
            description="A loop pinched at the waist: two round ends joined by a pair of S-bends.",
            control_points=(
                (0.0, -0.55),
                (1.4, -1.1),
                (2.8, -1.6),
                (4.0, -1.2),
                (4.45, 0.0),
                (4.0, 1.2),
                (2.8, 1.6),
                (1.4, 1.1),
                (0.0, 0.55),
                (-1.4, 1.1),
                (-2.8, 1.6),
                (-4.0, 1.2),
                (-4.45, 0.0),
                (-4.0, -1.2),
                (-2.8, -1.6),
                (-1.4, -1.1),
            ),
            length=20.0,
            width=0.76,
        ),
        TrackDesign(
            slug="quick_loop",
            title="Quick Loop",
            description="A short technical loop: a long straight, a hairpin and an S-bend chicane. "
            "Our quick-training track.",
            # Hairpin drawn as a half circle (centre (3.78, 1.9), radius 0.8 m) so that the tightest
            # turn stays above 0.6 m: the car turns no tighter than about 0.28 m at full lock.
            control_points=(
                (0.0, 0.0),
                (1.2, 0.0),
                (2.4, 0.0),
                (3.4, 0.05),
                (4.15, 0.4),
                (4.52, 1.1),
                (4.58, 1.9),
                (4.47, 2.3),
                (4.18, 2.59),
                (3.78, 2.7),
                (3.38, 2.59),
                (3.09, 2.3),
                (2.98, 1.9),
                (2.88, 1.42),
                (2.55, 1.06),
                (2.05, 0.97),
                (1.55, 1.2),
                (1.05, 1.7),
                (0.5, 2.4),
                (-0.1, 2.9),
                (-0.75, 2.95),
                (-1.2, 2.55),
                (-1.35, 1.8),
                (-1.3, 1.0),
                (-1.05, 0.35),
                (-0.55, 0.02),
            ),
            length=17.6,
            width=0.76,
        ),
        TrackDesign(
            slug="flow_cup",
            title="Flow Cup",
            description="A flowing, wide loop of long sweeping bends with one inward dip: speed through rhythm.",
            control_points=(
                (0.0, 0.0),
                (1.5, -0.1),
                (3.0, 0.2),
                (4.2, 0.9),
                (4.8, 2.0),
                (4.6, 3.2),
                (3.8, 3.9),
                (2.8, 3.8),
                (2.1, 3.1),
                (1.3, 2.75),
                (0.4, 3.1),
                (-0.5, 3.6),
                (-1.5, 3.45),
                (-2.1, 2.5),
                (-2.0, 1.4),
                (-1.4, 0.45),
            ),
            length=23.0,
            width=1.07,
        ),
        TrackDesign(
            slug="grand_prix",
            title="Grand Prix",
            description="A long circuit: a main straight, fast esses, a deep dive into the infield and a "
            "twisting back section.",
            control_points=(
                (0.0, 0.0),
                (2.5, 0.0),
                (5.0, 0.0),
                (7.5, 0.0),
                (9.3, 0.35),
                (10.3, 1.4),
                (10.2, 2.8),
                (10.9, 4.0),
                (10.6, 5.3),
                (9.5, 6.1),
                (8.1, 5.9),
                (7.1, 5.0),
                (6.4, 3.8),
                (5.6, 3.2),
                (4.75, 3.7),
                (4.6, 4.9),
                (4.1, 6.1),
                (3.0, 6.8),
                (1.5, 6.6),
                (0.0, 6.9),
                (-1.5, 6.8),
                (-2.7, 6.0),
                (-3.0, 4.6),
                (-2.4, 3.5),
                (-2.8, 2.3),
                (-2.7, 1.0),
                (-1.7, 0.1),
            ),
            length=52.0,
            width=1.0,
            spacing=0.25,  # ~210 waypoints, like the longest real tracks: projection cost grows with N
        ),
    )
}
