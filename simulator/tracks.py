"""Tracks: a closed centre line with an inner and an outer border (the N x 6 ``.npy`` model of SPEC 5.5).

A ``Track`` answers the questions the env asks every step (where is this point along the centre line,
how far from it and on which side, is this point on the road) and the ones the console asks once
(length, width, lanes, pictures). Every Track is validated when it is built, so the rest of the code can
trust its geometry; ``load_npy`` turns a racer's file into one or explains, row by row, why it cannot.
"""

from __future__ import annotations

import bisect
import io
import math
import numbers
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import NamedTuple

import numpy as np
import shapely
import shapely.ops
from shapely.geometry import LinearRing, LineString, Point, Polygon

from simulator.builtin_tracks import DESIGNS

MIN_WAYPOINTS = 10
# Real tracks have 70-230 waypoints; projection cost grows with the count (it runs every env step).
MAX_WAYPOINTS = 3000
# DeepRacer roads are 0.6-1.2 m wide: a much wider one means coordinates in another unit (mm, cm).
MAX_MEDIAN_WIDTH = 5.0  # m
# First and last rows closer than this are the same point: the file is a loop as it stands.
LOOP_TOLERANCE = 1e-6  # m
# A loop whose closing row was left out ends about one waypoint spacing before its start. Gaps up to
# this many median spacings are closed by repeating the first row; anything wider is an open track.
LOOP_GAP_SPACINGS = 2.5
# Narrower than the car's footprint (0.196 m) is no road at all; real tracks are 0.6-1.2 m wide.
MIN_ROAD_WIDTH = 0.2  # m
# Consecutive waypoints closer than this are duplicates: kept (racers' reward functions index the
# waypoints of the file as it is) but never used for a direction.
DUPLICATE_TOLERANCE = 1e-9  # m

SVG_ROAD = "#3a3a3a"
SVG_GRASS = "#7fa86a"
SVG_CENTRE = "#f5c518"
PNG_SUPERSAMPLING = 3  # draw large, shrink with a good filter: Pillow's ImageDraw does not antialias


class TrackError(ValueError):
    """A track that cannot be used, with a message a racer understands (which check, which row)."""


class Projection(NamedTuple):
    """Where a point lies relative to the centre line (the params of SPEC 1.1 that depend on it).
    A named tuple: one is made every env step, and tuples are the cheapest immutable records."""

    distance: float  # arc length of the projection from waypoint 0, m, in [0, length)
    closest_waypoints: tuple[int, int]  # indices of the waypoints behind and ahead of the projection
    distance_from_center: float  # m
    is_left_of_center: bool  # in the driving direction
    track_width: float  # inner-to-outer border distance at the projection, m
    x: float  # the projected point on the centre line
    y: float


@dataclass(frozen=True, slots=True)
class _Scalars:
    """The per-waypoint numbers as plain Python floats: scalar maths on them beats NumPy indexing."""

    cumulative: list[float]
    lengths: list[float]
    centre: list[tuple[float, float]]
    tangents: list[tuple[float, float]]
    near_inner: list[tuple[float, float]]  # the inner border's point nearest each waypoint
    near_outer: list[tuple[float, float]]


class Track:
    """A closed road: centre line, inner and outer border, all (N, 2) with the same indexing.

    ``centre[0] == centre[-1]`` (the first waypoint is repeated at the end, as DeepRacer's waypoints
    are). ``inner`` is the border inside the loop, whatever the driving direction; ``reversed()`` gives
    the same road driven the other way, with the waypoints in reverse order.
    """

    def __init__(self, slug, title, centre, inner, outer, description="", is_reversed=False):
        self.slug = slug
        self.title = title
        self.description = description
        self.is_reversed = is_reversed
        self._reversed: Track | None = None
        self.centre, self.inner, self.outer = _validated_borders(centre, inner, outer)
        for array in (self.centre, self.inner, self.outer):
            array.flags.writeable = False  # the cached geometry below is derived from them
        self._build_geometry()

    def __repr__(self):
        direction = " reversed" if self.is_reversed else ""
        return f"<Track {self.slug}{direction}: {self.length:.2f} m x {self.width:.2f} m>"

    def _build_geometry(self):
        centre = self.centre
        starts = centre[:-1]
        segments = centre[1:] - starts
        lengths = np.hypot(segments[:, 0], segments[:, 1])
        self._starts = starts[:, 0] + 1j * starts[:, 1]
        self._segments = segments[:, 0] + 1j * segments[:, 1]
        self._conjugate_segments = np.conj(self._segments)
        self._segment_lengths = lengths
        # Zero-length segments (duplicated waypoints) project nothing: t stays 0 on them.
        self._inverse_squared_lengths = np.divide(
            1.0, lengths**2, out=np.zeros_like(lengths), where=lengths > DUPLICATE_TOLERANCE
        )
        self._tangents = _unit_tangents(segments, lengths)
        self._cumulative = np.concatenate(([0.0], np.cumsum(lengths)))
        self.length = float(self._cumulative[-1])
        # The local width is measured like DeepRacer's simulator does: between the points of the two
        # borders nearest to the centre point (not between the file's paired rows, which need not face
        # each other). Precomputed per waypoint; a projection interpolates between two waypoints.
        self._near_inner = _nearest_points_on(self.inner, centre)
        self._near_outer = _nearest_points_on(self.outer, centre)
        self.widths = np.hypot(*(self._near_inner - self._near_outer).T)
        self.width = float(np.median(self.widths[:-1]))
        self._road = _road_polygon(self.inner, self.outer)
        shapely.prepare(self._road)
        self._scalars = _Scalars(
            cumulative=self._cumulative.tolist(),
            lengths=lengths.tolist(),
            centre=[tuple(p) for p in centre.tolist()],
            tangents=[tuple(p) for p in self._tangents.tolist()],
            near_inner=[tuple(p) for p in self._near_inner.tolist()],
            near_outer=[tuple(p) for p in self._near_outer.tolist()],
        )

    # -- what the console shows ---------------------------------------------------------------------

    @property
    def waypoints(self) -> list[tuple[float, float]]:
        """The centre points as a (fresh) list of tuples, first repeated at the end (params ``waypoints``)."""
        return list(self._waypoints)

    @cached_property
    def _waypoints(self) -> tuple[tuple[float, float], ...]:
        return tuple((float(x), float(y)) for x, y in self.centre)

    @property
    def inner_lane(self) -> np.ndarray:
        """The midline between the centre line and the inner border."""
        return (self.centre + self.inner) / 2

    @property
    def outer_lane(self) -> np.ndarray:
        """The midline between the centre line and the outer border."""
        return (self.centre + self.outer) / 2

    @property
    def direction(self) -> str:
        """``counterclockwise`` or ``clockwise``: which way the waypoints go round the loop."""
        return "counterclockwise" if LinearRing(self.centre).is_ccw else "clockwise"

    @property
    def road(self) -> Polygon:
        """The road as a shapely polygon (outer border with the inner border as its hole)."""
        return self._road

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        return tuple(float(v) for v in self._road.bounds)

    def reversed(self) -> Track:
        """The same road driven the other way: waypoints in reverse order, start line where it was.
        Built once and kept (validation takes milliseconds); reversing it again gives this track."""
        if self._reversed is None:
            backwards = Track(
                self.slug,
                self.title,
                self.centre[::-1],
                self.inner[::-1],
                self.outer[::-1],
                description=self.description,
                is_reversed=not self.is_reversed,
            )
            backwards._reversed, self._reversed = self, backwards
        return self._reversed

    def to_npy(self) -> np.ndarray:
        """The N x 6 float64 array of SPEC 5.5, as ``load_npy`` reads it."""
        return np.hstack((self.centre, self.inner, self.outer)).astype(np.float64)

    # -- what the env asks every step -----------------------------------------------------------------

    def project(self, x: float, y: float) -> Projection:
        """Project a point onto the centre line: the nearest point over all segments.

        Called every env step, so the search is a handful of NumPy operations on complex numbers
        (one per segment: fewer array operations than separate x and y columns) and the rest is
        scalar arithmetic on plain floats."""
        x, y = float(x), float(y)
        relative = complex(x, y) - self._starts
        t = (relative * self._conjugate_segments).real * self._inverse_squared_lengths
        np.clip(t, 0.0, 1.0, out=t)
        relative -= t * self._segments
        squared = relative.real * relative.real + relative.imag * relative.imag
        k = int(squared.argmin())
        return self._projection_on_segment(x, y, k, float(t[k]), math.sqrt(squared[k]))

    def _projection_on_segment(self, x, y, k, t, distance_from_center):
        scalars = self._scalars
        distance = scalars.cumulative[k] + t * scalars.lengths[k]
        if distance >= self.length:  # the end of the loop is its start
            distance, k, t = 0.0, 0, 0.0
        behind = min(bisect.bisect_right(scalars.cumulative, distance) - 1, len(scalars.cumulative) - 2)
        (cx, cy), (cx1, cy1) = scalars.centre[k], scalars.centre[k + 1]
        px, py = cx + t * (cx1 - cx), cy + t * (cy1 - cy)
        tx, ty = scalars.tangents[k]
        (ix, iy), (ix1, iy1) = scalars.near_inner[k], scalars.near_inner[k + 1]
        (ox, oy), (ox1, oy1) = scalars.near_outer[k], scalars.near_outer[k + 1]
        width = math.hypot(ix + t * (ix1 - ix) - ox - t * (ox1 - ox), iy + t * (iy1 - iy) - oy - t * (oy1 - oy))
        return Projection(
            distance=distance,
            closest_waypoints=(behind, behind + 1),
            distance_from_center=distance_from_center,
            is_left_of_center=bool(tx * (y - py) - ty * (x - px) > 0.0),
            track_width=width,
            x=px,
            y=py,
        )

    def pose_at(self, distance: float, lateral: float = 0.0) -> tuple[float, float, float]:
        """The point ``distance`` m along the centre line (wrapped round the loop), moved ``lateral`` m
        to the left (negative: right) of the driving direction, and the heading there in radians."""
        scalars = self._scalars
        distance = float(distance) % self.length
        k = min(bisect.bisect_right(scalars.cumulative, distance) - 1, len(scalars.lengths) - 1)
        t = (distance - scalars.cumulative[k]) / scalars.lengths[k] if scalars.lengths[k] else 0.0
        (cx, cy), (cx1, cy1) = scalars.centre[k], scalars.centre[k + 1]
        tx, ty = scalars.tangents[k]
        x, y = cx + t * (cx1 - cx), cy + t * (cy1 - cy)
        return x - lateral * ty, y + lateral * tx, math.atan2(ty, tx)

    def contains(self, x: float, y: float) -> bool:
        """Is the point on the road (borders included)?"""
        return bool(shapely.intersects_xy(self._road, x, y))

    def contains_points(self, points) -> np.ndarray:
        """Vectorized ``contains`` for an (M, 2) array of points: one bool per point."""
        points = np.asarray(points, dtype=np.float64)
        return shapely.intersects_xy(self._road, points[:, 0], points[:, 1])

    # -- pictures ------------------------------------------------------------------------------------

    def to_svg(self, size: int = 480) -> str:
        """A top-down picture: grey road, white borders, dashed yellow centre line, the start line and
        an arrow for the driving direction. ``size`` is the width in pixels; the height keeps the aspect."""
        frame = _Frame(self.bounds, size)

        def path(points, close=True):
            coords = " ".join(f"{px:.1f},{py:.1f}" for px, py in map(frame.pixel, points))
            return f"M{coords}{' Z' if close else ''}"

        road = f"{path(self.outer)} {path(self.inner)}"
        start_a, start_b = frame.pixel(self.inner[0]), frame.pixel(self.outer[0])
        line = max(1.0, frame.scale * 0.05)
        return "\n".join(
            [
                f'<svg xmlns="http://www.w3.org/2000/svg" width="{frame.width}" height="{frame.height}" '
                f'viewBox="0 0 {frame.width} {frame.height}" role="img" aria-label="{_escape(self.title)}">',
                f"<title>{_escape(self.title)}</title>",
                f'<rect width="100%" height="100%" fill="{SVG_GRASS}"/>',
                f'<path d="{road}" fill="{SVG_ROAD}" fill-rule="evenodd" stroke="white" '
                f'stroke-width="{line:.1f}" stroke-linejoin="round"/>',
                f'<path d="{path(self.centre, close=False)}" fill="none" stroke="{SVG_CENTRE}" '
                f'stroke-width="{line * 0.6:.1f}" stroke-dasharray="{line * 3:.1f} {line * 3:.1f}"/>',
                f'<line x1="{start_a[0]:.1f}" y1="{start_a[1]:.1f}" x2="{start_b[0]:.1f}" y2="{start_b[1]:.1f}" '
                f'stroke="white" stroke-width="{line * 2.5:.1f}"/>',
                f'<polygon points="{" ".join(f"{px:.1f},{py:.1f}" for px, py in self._arrow(frame))}" '
                f'fill="white"/>',
                "</svg>",
            ]
        )

    def to_png(self, size: int = 480) -> bytes:
        """The same picture as ``to_svg`` as PNG bytes, for previews."""
        buffer = io.BytesIO()
        self.to_image(size).save(buffer, format="PNG")
        return buffer.getvalue()

    def to_image(self, size: int = 480):
        """The top-down picture as a Pillow RGB image ``size`` pixels wide (the env's inset uses it:
        ``np.asarray(track.to_image(160))``)."""
        from PIL import Image, ImageDraw  # only the pictures need Pillow

        big = _Frame(self.bounds, size * PNG_SUPERSAMPLING)
        image = Image.new("RGB", (big.width, big.height), SVG_GRASS)
        draw = ImageDraw.Draw(image)
        line = max(1, round(big.scale * 0.05))
        draw.polygon([big.pixel(p) for p in self.outer], fill=SVG_ROAD)
        draw.polygon([big.pixel(p) for p in self.inner], fill=SVG_GRASS)
        for border in (self.outer, self.inner):
            draw.line([big.pixel(p) for p in border], fill="white", width=line, joint="curve")
        for dash in _dashes(self.centre, self.length, dash_length=0.15):
            draw.line([big.pixel(p) for p in dash], fill=SVG_CENTRE, width=max(1, round(line * 0.6)))
        draw.line([big.pixel(self.inner[0]), big.pixel(self.outer[0])], fill="white", width=round(line * 2.5))
        draw.polygon(self._arrow(big), fill="white")
        return image.resize((big.width // PNG_SUPERSAMPLING, big.height // PNG_SUPERSAMPLING), Image.LANCZOS)

    def pixel_frame(self, size: int = 480):
        """The world-to-pixel mapping of ``to_image(size)``: ``frame.pixel((x, y)) -> (column, row)``,
        to draw the car on the picture."""
        return _Frame(self.bounds, size)

    def _arrow(self, frame) -> list[tuple[float, float]]:
        """A triangle on the road a little after the start line, pointing the driving direction."""
        along = min(0.6, self.length * 0.05)
        size = self.width * 0.35
        tip = self.pose_at(along + size)
        left = self.pose_at(along, size * 0.6)
        right = self.pose_at(along, -size * 0.6)
        return [frame.pixel(pose[:2]) for pose in (tip, left, right)]


# -- validation --------------------------------------------------------------------------------------


def _validated_borders(centre, inner, outer):
    """Check the three polylines of a closed road; return them as float64 arrays, inner inside."""
    centre, inner, outer = (np.array(a, dtype=np.float64, copy=True) for a in (centre, inner, outer))
    if not (centre.shape == inner.shape == outer.shape) or centre.ndim != 2 or centre.shape[1] != 2:
        raise TrackError("centre line and borders must be (N, 2) arrays of the same length")
    for name, line in (("centre line", centre), ("inner border", inner), ("outer border", outer)):
        bad = np.flatnonzero(~np.isfinite(line).all(axis=1))
        if bad.size:
            raise TrackError(f"row {int(bad[0])} of the {name} holds a NaN or infinite value")
    if len(centre) < MIN_WAYPOINTS:
        raise TrackError(f"a track needs at least {MIN_WAYPOINTS} waypoints, this one has {len(centre)}")
    if len(centre) > MAX_WAYPOINTS:
        raise TrackError(f"a track may have at most {MAX_WAYPOINTS} waypoints, this one has {len(centre)}")
    for name, line in (("centre line", centre), ("inner border", inner), ("outer border", outer)):
        if not np.array_equal(line[0], line[-1]):
            raise TrackError(f"the {name} is not a closed loop: its last point must equal its first")
    widths = np.hypot(*(inner - outer).T)
    if np.median(widths) > MAX_MEDIAN_WIDTH:
        raise TrackError(
            f"the road is {np.median(widths):.1f} m wide (DeepRacer roads are about 1 m): "
            "are the coordinates in metres?"
        )
    narrow = np.flatnonzero(widths < MIN_ROAD_WIDTH)
    if narrow.size:
        row = int(narrow[0])
        raise TrackError(
            f"row {row}: the road is only {np.hypot(*(inner[row] - outer[row])):.3f} m wide "
            f"(at least {MIN_ROAD_WIDTH} m is needed for the car to fit)"
        )
    for name, line in (("centre line", centre), ("inner border", inner), ("outer border", outer)):
        row = _first_self_crossing(line)
        if row is not None:
            raise TrackError(f"the {name} crosses itself near row {row}")
    crossing = LineString(inner).intersection(LineString(outer))
    if not crossing.is_empty:
        row = _nearest_row(centre, crossing.representative_point())
        raise TrackError(f"the inner and outer borders cross each other near row {row}")
    if Polygon(inner).area > Polygon(outer).area:  # name the borders by where they are, not the file's
        inner, outer = outer, inner
    road = _road_polygon(inner, outer)
    if not road.is_valid:
        raise TrackError(f"the borders do not enclose a road: {shapely.is_valid_reason(road)}")
    outside = np.flatnonzero(~shapely.intersects_xy(road, centre[:, 0], centre[:, 1]))
    if outside.size:
        raise TrackError(f"row {int(outside[0])}: the centre point lies outside the road between the borders")
    return centre, inner, outer


def _road_polygon(inner, outer) -> Polygon:
    return Polygon(outer, holes=[inner])


def _first_self_crossing(line: np.ndarray) -> int | None:
    """The first row where a closed polyline touches or crosses a non-neighbouring part of itself."""
    if LinearRing(line).is_simple:
        return None
    keep = np.concatenate(([True], np.hypot(*np.diff(line, axis=0).T) > DUPLICATE_TOLERANCE))
    rows = np.flatnonzero(keep)  # the original row of each kept point
    points = line[keep]
    segments = shapely.linestrings(np.stack((points[:-1], points[1:]), axis=1))
    tree = shapely.STRtree(segments)
    count = len(segments)
    pairs = tree.query(segments, predicate="intersects")
    for i, j in sorted(zip(*pairs, strict=True)):
        if abs(i - j) > 1 and abs(i - j) != count - 1:
            return int(rows[i])
    return int(rows[0])


def _nearest_row(points: np.ndarray, point: Point) -> int:
    return int(np.hypot(*(points - (point.x, point.y)).T).argmin())


def _nearest_points_on(border: np.ndarray, points: np.ndarray) -> np.ndarray:
    line = LineString(border)
    located = shapely.line_locate_point(line, shapely.points(points))
    return shapely.get_coordinates(shapely.line_interpolate_point(line, located))


def _unit_tangents(segments, lengths):
    """Unit direction of each segment; a duplicated waypoint's zero-length segment borrows the next one's."""
    tangents = np.zeros_like(segments)
    valid = lengths > DUPLICATE_TOLERANCE
    tangents[valid] = segments[valid] / lengths[valid, None]
    nonzero = np.flatnonzero(valid)
    for k in np.flatnonzero(~valid):
        later = nonzero[nonzero > k]
        tangents[k] = tangents[later[0] if later.size else nonzero[0]]
    return tangents


# -- import ------------------------------------------------------------------------------------------


def load_npy(source, slug: str, title: str | None = None, description: str = "") -> Track:
    """Read a racer's track file (a path, the file's bytes, a file object or an array) into a Track.

    Raises TrackError saying which check failed and, where it can, at which row. Tolerates what real
    DeepRacer files contain: duplicated consecutive waypoints and a loop whose closing row is missing.
    """
    array = _as_float_array(_read_array(source))
    if array.ndim != 2 or array.shape[1] != 6:
        raise TrackError(
            f"expected an N x 6 array of rows [centre_x, centre_y, inner_x, inner_y, outer_x, outer_y], "
            f"got shape {array.shape}"
        )
    if not MIN_WAYPOINTS <= len(array) <= MAX_WAYPOINTS:
        raise TrackError(
            f"a track needs {MIN_WAYPOINTS} to {MAX_WAYPOINTS} waypoints (rows), this one has {len(array)}"
        )
    bad = np.flatnonzero(~np.isfinite(array).all(axis=1))
    if bad.size:
        raise TrackError(f"row {int(bad[0])} holds a NaN or infinite value")
    array = _closed_loop(array)
    return Track(
        slug, title or slug.replace("_", " ").title(), array[:, 0:2], array[:, 2:4], array[:, 4:6],
        description=description,
    )


def _read_array(source) -> np.ndarray:
    if isinstance(source, np.ndarray):
        return source
    if isinstance(source, list | tuple):
        return np.asarray(source, dtype=object)
    if isinstance(source, bytes | bytearray | memoryview):
        source = io.BytesIO(bytes(source))
    elif not (isinstance(source, str | Path) or hasattr(source, "read")):
        raise TrackError(f"cannot read a track from a {type(source).__name__}")
    try:
        loaded = np.load(source, allow_pickle=False)
    except FileNotFoundError as error:
        raise TrackError(f"no such track file: {source}") from error
    except (OSError, ValueError, EOFError) as error:
        raise TrackError(f"not a NumPy .npy track file ({error})") from error
    if not isinstance(loaded, np.ndarray):  # np.load opens .npz archives too
        raise TrackError("this is a NumPy .npz archive; a track file is a single .npy array")
    return loaded


def _as_float_array(array: np.ndarray) -> np.ndarray:
    """Numbers only: text that happens to parse as a number is still not a track file."""
    if array.dtype.kind == "c":
        raise TrackError("the array holds complex numbers; a track file holds real coordinates in metres")
    if array.dtype.kind == "O" and not all(isinstance(value, numbers.Real) for value in array.flat):
        raise TrackError("the array's values are not numbers (it holds Python objects of other kinds)")
    if array.dtype.kind not in "biufO":
        raise TrackError(f"the array's values are not numbers (dtype {array.dtype})")
    return array.astype(np.float64)


def _closed_loop(array: np.ndarray) -> np.ndarray:
    """Make the last row equal the first: snap a rounding-size gap, append the first row to close a
    missing closing segment, refuse an open track."""
    gap = max(np.hypot(*(array[-1, i : i + 2] - array[0, i : i + 2])) for i in (0, 2, 4))
    if gap <= LOOP_TOLERANCE:
        array = array.copy()
        array[-1] = array[0]
        return array
    steps = np.hypot(*np.diff(array[:, 0:2], axis=0).T)
    spacing = float(np.median(steps[steps > DUPLICATE_TOLERANCE])) if (steps > DUPLICATE_TOLERANCE).any() else 0.0
    if gap <= LOOP_GAP_SPACINGS * spacing:
        return np.vstack((array, array[:1]))
    raise TrackError(
        f"the track is not a closed loop: the last row is {gap:.2f} m from the first "
        f"(waypoints are {spacing:.2f} m apart; open tracks are not supported)"
    )


# -- built-in tracks ---------------------------------------------------------------------------------


class _BuiltinTracks(Mapping):
    """Our authored tracks, built on first use (the splines take a few milliseconds each)."""

    def __init__(self):
        self._built: dict[str, Track] = {}

    def __getitem__(self, slug: str) -> Track:
        if slug not in self._built:
            design = DESIGNS[slug]
            centre, left_border, right_border = design.lines()
            self._built[slug] = Track(design.slug, design.title, centre, left_border, right_border,
                                      description=design.description)
        return self._built[slug]

    def __iter__(self) -> Iterator[str]:
        return iter(DESIGNS)

    def __len__(self) -> int:
        return len(DESIGNS)


BUILTIN_TRACKS: Mapping[str, Track] = _BuiltinTracks()


def get_track(slug: str, reverse: bool = False) -> Track:
    """A built-in track by slug (reversed on request); TrackError for an unknown slug."""
    try:
        track = BUILTIN_TRACKS[slug]
    except KeyError:
        raise TrackError(f"unknown track {slug!r}; built-in tracks are: {', '.join(BUILTIN_TRACKS)}") from None
    return track.reversed() if reverse else track


def track_from(value) -> Track:
    """What the env's ``track`` argument may be: a Track, a built-in slug, or the path of a ``.npy``
    track file (str or Path; a notebook user tries ``track="path/to/track.npy"`` first). TrackError
    says what was wrong, naming the built-in slugs when the name is neither."""
    if isinstance(value, Track):
        return value
    if isinstance(value, Path) or (isinstance(value, str) and (value.endswith(".npy") or os.sep in value)):
        path = Path(value)
        if not path.is_file():
            raise TrackError(f"no such track file: {path} (a track is a built-in slug or a .npy file's path; "
                             f"built-in tracks are: {', '.join(BUILTIN_TRACKS)})")
        return load_npy(path, slug=path.stem)
    if isinstance(value, str):
        return get_track(value)
    raise TrackError(f"a track is a Track, a built-in slug or a .npy path, not a {type(value).__name__}")


# -- drawing helpers ---------------------------------------------------------------------------------


class _Frame:
    """Maps world metres (y up) onto image pixels (y down) with a margin."""

    MARGIN = 0.06  # of the picture's width

    def __init__(self, bounds, width):
        minx, miny, maxx, maxy = bounds
        span_x, span_y = max(maxx - minx, 1e-9), max(maxy - miny, 1e-9)
        margin = width * self.MARGIN
        self.scale = (width - 2 * margin) / span_x
        self.width = int(width)
        self.height = int(round(span_y * self.scale + 2 * margin))
        self._origin = (minx, maxy, margin)

    def pixel(self, point) -> tuple[float, float]:
        minx, maxy, margin = self._origin
        return (margin + (point[0] - minx) * self.scale, margin + (maxy - point[1]) * self.scale)


def _dashes(line: np.ndarray, length: float, dash_length: float):
    """Pieces of a polyline, ``dash_length`` m on and off, for the dashed centre line."""
    shape = LineString(line)
    marks = np.arange(0.0, length, dash_length)
    for start in marks[::2]:
        piece = shapely.ops.substring(shape, start, min(start + dash_length, length))
        coords = list(piece.coords)
        if len(coords) >= 2:
            yield coords


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")

