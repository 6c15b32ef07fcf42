"""Tracks a racer may pick: the simulator's built-ins and the racer's imported .npy files (`user-<id>`).

Resolving a slug to a Track and naming it live with the ImportedTrack model (models.py); this module
builds the wizard's list of choices on top of them.
"""

from django.utils.safestring import mark_safe

from models_app.models import ImportedTrack, resolve_track, track_title
from simulator.racing_line import track_svg_with_racing_line
from simulator.tracks import BUILTIN_TRACKS, Track, TrackError

__all__ = ["resolve_track", "track_cards", "track_options", "track_title"]


def track_options(owner) -> dict[str, Track]:
    """slug -> Track for the wizard's picker: built-ins first, then the owner's imports that still load."""
    options = dict(BUILTIN_TRACKS)
    for imported in ImportedTrack.objects.filter(owner=owner):
        try:
            options[imported.slug] = imported.load()
        except TrackError:
            continue
    return options


def track_cards(tracks: dict[str, Track], size: int) -> list[dict]:
    """The track picker's cards (templates/models_app/_track_picker.html): slug, Track and its SVG picture."""
    # to_svg() escapes the title: the markup is the simulator's own drawing, with its racing line (dashed).
    return [{"slug": slug, "track": track, "svg": mark_safe(track_svg_with_racing_line(track, size))}  # noqa: S308
            for slug, track in tracks.items()]
