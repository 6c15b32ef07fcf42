import io
import math
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from shapely.geometry import LinearRing

from simulator.builtin_tracks import DESIGNS
from simulator.tracks import BUILTIN_TRACKS, Track, TrackError, get_track, load_npy

# The real DeepRacer files live in the folder `shared` beside the repository checkout (never in the
# repository); a git worktree sits one level deeper, so look upwards for it.
REAL_TRACKS = next(
    (folder / "shared" / "tracks" for folder in Path(__file__).resolve().parents[2:] if (folder / "shared" / "tracks").is_dir()),
    Path(__file__).resolve().parents[2] / ".." / "shared" / "tracks",
)

# Centre-line lengths in metres. The first two are SPEC 5.5's; SPEC gives none for the others, so
# these are measured from the files (to 0.01 m) and sanity-checked: each is a closed loop of plausible
# size for its footprint, and the Oval and Bowtie are the small practice tracks they should be.
REAL_LENGTHS = {
    "reinvent_base": 17.7,  # re:Invent 2018
    "reInvent2019_track": 23.1,  # 2019 Championship Cup
    "Bowtie_track": 17.43,
    "Oval_track": 19.55,
    "reInvent2019_wide": 16.64,  # A to Z Speedway
    "2022_reinvent_champ_ccw": 33.27,  # 2022 re:Invent Championship
}
REAL_WIDTHS = {"reinvent_base": 0.76, "reInvent2019_track": 1.07, "reInvent2019_wide": 1.07}


def real_track(name):
    return load_npy(REAL_TRACKS / f"{name}.npy", name)


@pytest.fixture(scope="module")
def reinvent():
    return real_track("reinvent_base")


# -- real DeepRacer files ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(REAL_LENGTHS))
def test_it_loads_every_real_track_with_its_known_length(name):
    track = real_track(name)
    assert track.length == pytest.approx(REAL_LENGTHS[name], rel=0.01)
    assert 70 <= len(track.waypoints) <= 230
    assert track.waypoints[0] == track.waypoints[-1]
    if name in REAL_WIDTHS:
        assert track.width == pytest.approx(REAL_WIDTHS[name], abs=0.01)


def test_it_finds_every_real_file_the_spec_lists():
    assert sorted(path.stem for path in REAL_TRACKS.glob("*.npy")) == sorted(REAL_LENGTHS)


def test_it_keeps_duplicated_waypoints_so_racers_indices_still_match():
    array = np.load(REAL_TRACKS / "Bowtie_track.npy")
    track = load_npy(array, "bowtie_real")
    assert len(track.waypoints) == len(array)
    duplicate = int(np.flatnonzero(np.hypot(*np.diff(array[:, :2], axis=0).T) == 0)[0])
    projection = track.project(*array[duplicate, :2])
    assert projection.distance_from_center == pytest.approx(0.0, abs=1e-9)
    assert projection.closest_waypoints[0] in (duplicate, duplicate + 1)


def test_it_closes_a_loop_whose_closing_row_is_missing():
    array = np.load(REAL_TRACKS / "reinvent_base.npy")
    track = load_npy(array[:-1], "open_by_one")
    assert len(track.waypoints) == len(array)
    assert track.length == pytest.approx(real_track("reinvent_base").length)


def test_it_snaps_a_rounding_size_loop_gap():
    array = np.load(REAL_TRACKS / "reinvent_base.npy")
    array[-1] += 1e-8
    track = load_npy(array, "nearly_closed")
    assert len(track.waypoints) == len(array)
    assert track.waypoints[0] == track.waypoints[-1]


def test_it_reads_paths_bytes_file_objects_and_arrays_alike(reinvent):
    path = REAL_TRACKS / "reinvent_base.npy"
    for source in (str(path), path.read_bytes(), io.BytesIO(path.read_bytes()), reinvent.to_npy()):
        assert load_npy(source, "copy").length == pytest.approx(reinvent.length)


def test_it_round_trips_through_to_npy(reinvent):
    again = load_npy(reinvent.to_npy(), "again")
    np.testing.assert_array_equal(again.to_npy(), reinvent.to_npy())
    assert reinvent.to_npy().shape == (len(reinvent.waypoints), 6)
    assert reinvent.to_npy().dtype == np.float64


# -- import refuses what it cannot use, saying why -----------------------------------------------------


def bad(array_or_source, match):
    with pytest.raises(TrackError, match=match):
        load_npy(array_or_source, "bad")


def test_it_rejects_a_wrong_shape():
    bad(np.zeros((50, 4)), r"N x 6 .* got shape \(50, 4\)")
    bad(np.zeros(60), r"got shape \(60,\)")


def test_it_rejects_too_few_or_too_many_rows(reinvent):
    bad(reinvent.to_npy()[::20], "10 to 3000 waypoints .* has 6")
    bad(np.zeros((5000, 6)), "10 to 3000 waypoints .* has 5000")


def test_it_rejects_coordinates_that_are_not_in_metres(reinvent):
    bad(reinvent.to_npy() * 1000, "7[56][0-9].[0-9] m wide .* in metres")


def test_it_rejects_nan_and_infinity_naming_the_row(reinvent):
    array = reinvent.to_npy()
    array[17, 3] = np.nan
    bad(array, "row 17 holds a NaN")
    array[17, 3] = np.inf
    bad(array, "row 17")


def test_it_checks_arrays_given_to_the_constructor_too(reinvent):
    centre = reinvent.centre.copy()
    centre[3, 1] = np.nan
    with pytest.raises(TrackError, match="row 3 of the centre line holds a NaN"):
        Track("direct", "Direct", centre, reinvent.inner, reinvent.outer)
    with pytest.raises(TrackError, match="same length"):
        Track("direct", "Direct", reinvent.centre[:-1], reinvent.inner, reinvent.outer)


def test_it_rejects_values_that_are_not_numbers(reinvent):
    bad(reinvent.to_npy().astype(str).astype(object), "not numbers")
    bad(reinvent.to_npy().astype(complex), "complex")


def test_it_rejects_what_is_not_an_npy_file(tmp_path, reinvent):
    bad(b"centre_x,centre_y\n1,2\n", "not a NumPy .npy track file")
    bad(tmp_path / "missing.npy", "no such track file")
    archive = io.BytesIO()
    np.savez(archive, track=reinvent.to_npy())
    bad(archive.getvalue(), "a NumPy .npz archive")
    bad(12.5, "cannot read a track from a float")


def test_it_reads_nested_lists_of_numbers(reinvent):
    assert load_npy(reinvent.to_npy().tolist(), "listed").length == pytest.approx(reinvent.length)
    bad([[1.0, 2.0], [3.0]], "not numbers")


def test_it_rejects_an_open_curve(reinvent):
    bad(reinvent.to_npy()[:60], "not a closed loop")


def test_it_rejects_borders_that_cross_each_other(reinvent):
    array = reinvent.to_npy()
    array[40:50, 2:4], array[40:50, 4:6] = array[40:50, 4:6].copy(), array[40:50, 2:4].copy()
    bad(array, r"inner and outer borders cross each other near row (39|40|49|50)")


def test_it_rejects_a_border_that_crosses_itself(reinvent):
    array = reinvent.to_npy()
    array[30, 4:6] = array[60, 4:6] * 1.3  # one outer point flung across the track
    bad(array, "the outer border crosses itself near row (29|30)")


def test_it_rejects_a_figure_of_eight():
    angle = np.linspace(0, 2 * np.pi, 121)
    centre = np.column_stack((4 * np.sin(angle), 2 * np.sin(2 * angle)))  # crosses itself at the origin
    normal = np.gradient(centre, axis=0)[:, ::-1] * (1, -1)
    normal /= np.hypot(*normal.T)[:, None]
    array = np.hstack((centre, centre + 0.4 * normal, centre - 0.4 * normal))
    array[-1] = array[0]
    bad(array, r"the centre line crosses itself near row (29|30|31|59|60|61|89|90|91)")


def test_it_rejects_a_centre_line_outside_the_road(reinvent):
    array = reinvent.to_npy()
    array[25, 0:2] += 3 * (array[25, 4:6] - array[25, 0:2])  # well past the outer border
    bad(array, "row 25: the centre point lies outside the road")


def test_it_rejects_a_road_too_narrow_for_the_car(reinvent):
    array = reinvent.to_npy()
    array[12, 2:4] = array[12, 0:2] + 0.01
    array[12, 4:6] = array[12, 0:2] - 0.01
    bad(array, "row 12: the road is only 0.028 m wide")


# -- built-in tracks ---------------------------------------------------------------------------------


DESIGNED = {"oval", "bowtie", "quick_loop", "flow_cup", "grand_prix"}


def test_it_offers_the_designed_tracks_with_a_title_and_description():
    assert DESIGNED <= set(BUILTIN_TRACKS)
    for slug in BUILTIN_TRACKS:
        track = BUILTIN_TRACKS[slug]
        assert track.slug == slug and track.title and len(track.description) > 20


@pytest.mark.parametrize("slug", sorted(DESIGNED))
@pytest.mark.parametrize("reverse", [False, True])
def test_it_builds_each_builtin_as_a_valid_road_both_ways(slug, reverse):
    track = get_track(slug, reverse=reverse)
    design = DESIGNS[slug]
    assert track.is_reversed == reverse
    assert track.length == pytest.approx(design.length, rel=0.001)
    # Borders are offset by exactly half the width at each waypoint; between waypoints the inner
    # border's chords cut a few millimetres into tight turns.
    np.testing.assert_allclose(track.widths, design.width, rtol=0.01)
    np.testing.assert_allclose(np.hypot(*(track.inner - track.outer).T), design.width, rtol=1e-9)
    assert track.road.is_valid
    for line in (track.centre, track.inner, track.outer):
        assert LinearRing(line).is_simple
    spacing = np.hypot(*np.diff(track.centre, axis=0).T)
    assert 0.1 <= spacing.min() and spacing.max() <= 0.3
    assert 70 <= len(track.waypoints) <= 230
    assert all(track.contains(x, y) for x, y in track.centre)


def test_it_keeps_the_builtin_lengths_the_task_asks_for():
    assert get_track("quick_loop").length == pytest.approx(17.6, rel=0.01)
    assert get_track("quick_loop").width == pytest.approx(0.76, rel=0.005)
    assert get_track("flow_cup").length == pytest.approx(23.0, rel=0.01)
    assert get_track("flow_cup").width == pytest.approx(1.07, rel=0.005)
    assert 40 <= get_track("grand_prix").length <= 60


@pytest.mark.parametrize("slug", sorted(DESIGNED))
def test_it_keeps_every_turn_drivable(slug):
    # The car's tightest turn is ~0.28 m; the centre line keeps a margin for the road's width.
    assert DESIGNS[slug].min_radius() >= 0.6


def test_it_draws_a_pinched_waist_on_the_bowtie():
    track = get_track("bowtie")
    minx, miny, maxx, maxy = track.bounds
    waist = [abs(y) for x, y in track.centre if abs(x) < 0.2]
    assert max(waist) < 0.3 * (maxy - miny)


def test_it_refuses_an_unknown_slug():
    with pytest.raises(TrackError, match="unknown track 'monaco'.*quick_loop"):
        get_track("monaco")


# -- geometry ----------------------------------------------------------------------------------------


def test_it_projects_a_waypoint_onto_itself(reinvent):
    for index in (0, 5, 57, len(reinvent.waypoints) - 2):
        projection = reinvent.project(*reinvent.waypoints[index])
        assert projection.distance == pytest.approx(float(np.hypot(*np.diff(reinvent.centre[: index + 1], axis=0).T).sum()))
        assert projection.distance_from_center == pytest.approx(0.0, abs=1e-9)
        assert projection.closest_waypoints == (index, index + 1)


def test_it_wraps_the_end_of_the_loop_to_its_start(reinvent):
    assert reinvent.project(*reinvent.waypoints[-1]).distance == 0.0


def test_it_tells_left_from_right_in_the_driving_direction(reinvent):
    x, y, _ = reinvent.pose_at(4.0, lateral=0.2)
    left = reinvent.project(x, y)
    assert left.is_left_of_center and left.distance_from_center == pytest.approx(0.2, abs=1e-6)
    assert left.distance == pytest.approx(4.0, abs=1e-6)
    x, y, _ = reinvent.pose_at(4.0, lateral=-0.3)
    right = reinvent.project(x, y)
    assert not right.is_left_of_center and right.distance_from_center == pytest.approx(0.3, abs=1e-6)


def test_it_swaps_sides_and_distances_when_reversed(reinvent):
    backwards = reinvent.reversed()
    x, y, _ = reinvent.pose_at(4.0, lateral=0.2)
    projection = backwards.project(x, y)
    assert not projection.is_left_of_center
    assert projection.distance == pytest.approx(reinvent.length - 4.0, abs=1e-6)
    assert backwards.waypoints == reinvent.waypoints[::-1]
    assert backwards.reversed() is reinvent
    assert backwards.direction != reinvent.direction


def test_it_measures_the_local_width_at_the_projection():
    track = real_track("Bowtie_track")  # its width varies from 0.6 to 1.2 m
    for index in (0, 40, 80, 120):
        assert track.project(*track.centre[index]).track_width == pytest.approx(track.widths[index], rel=1e-6)


def test_it_gives_the_heading_along_the_driving_direction(reinvent):
    _, _, heading = reinvent.pose_at(0.05)
    dx, dy = reinvent.centre[1] - reinvent.centre[0]
    assert heading == pytest.approx(math.atan2(dy, dx))
    _, _, backwards = reinvent.reversed().pose_at(reinvent.length - 0.05)
    assert math.cos(backwards - heading) == pytest.approx(-1.0, abs=1e-6)


def test_it_knows_which_points_are_on_the_road(reinvent):
    half = reinvent.width / 2
    assert reinvent.contains(*reinvent.pose_at(3.0, lateral=half - 0.01)[:2])
    assert not reinvent.contains(*reinvent.pose_at(3.0, lateral=half + 0.01)[:2])
    assert not reinvent.contains(*reinvent.pose_at(3.0, lateral=-half - 0.01)[:2])
    assert not reinvent.contains(*np.mean(reinvent.inner[:-1], axis=0))  # the infield is no road
    points = [reinvent.pose_at(3.0, lateral=offset)[:2] for offset in (0.0, 0.3, 0.5)]
    assert reinvent.contains_points(points).tolist() == [True, True, False]


def test_it_offers_lanes_between_the_centre_and_each_border(reinvent):
    quarter = reinvent.width / 4
    for lane in (reinvent.inner_lane, reinvent.outer_lane):
        assert np.median(np.hypot(*(lane - reinvent.centre).T)) == pytest.approx(quarter, rel=0.01)


def test_it_names_borders_by_where_they_are_not_by_the_file_column(reinvent):
    array = reinvent.to_npy()[:, [0, 1, 4, 5, 2, 3]]  # inner and outer columns swapped
    swapped = load_npy(array, "swapped")
    np.testing.assert_array_equal(swapped.inner, reinvent.inner)


# -- pictures ----------------------------------------------------------------------------------------


def test_it_draws_an_svg_with_road_centre_line_start_and_arrow():
    track = get_track("quick_loop")
    svg = track.to_svg(size=300)
    root = ElementTree.fromstring(svg)
    assert root.get("width") == "300"
    tags = [element.tag.split("}")[1] for element in root]
    assert tags.count("path") == 2 and "line" in tags and "polygon" in tags
    assert "Quick Loop" in svg and "stroke-dasharray" in svg


def test_it_draws_a_png_preview():
    image = Image.open(io.BytesIO(get_track("oval").to_png(size=200)))
    assert image.format == "PNG" and image.width == 200
    colours = {colour for _, colour in image.getcolors(maxcolors=200 * 200)}
    assert (255, 255, 255) in colours  # the borders and the start line


def test_it_protects_its_geometry_from_changes(reinvent):
    with pytest.raises(ValueError, match="read-only"):
        reinvent.centre[0, 0] = 5.0
    reinvent.waypoints.append((9.0, 9.0))
    assert len(reinvent.waypoints) == 119


def test_it_maps_world_points_onto_the_picture():
    track = get_track("oval")
    image = track.to_image(size=200)
    frame = track.pixel_frame(size=200)
    assert (image.width, image.height) == (frame.width, frame.height)
    column, row = frame.pixel(track.pose_at(track.length / 2, lateral=0.2)[:2])
    assert image.getpixel((round(column), round(row))) == (0x3A, 0x3A, 0x3A)  # the road
    column, row = frame.pixel(np.mean(track.inner[:-1], axis=0))
    assert image.getpixel((round(column), round(row))) == (0x7F, 0xA8, 0x6A)  # the infield


def test_it_is_a_track_object_with_the_interface_fields(reinvent):
    assert isinstance(reinvent, Track)
    assert reinvent.centre.shape == reinvent.inner.shape == reinvent.outer.shape
    assert isinstance(reinvent.waypoints[0], tuple) and isinstance(reinvent.waypoints[0][0], float)
