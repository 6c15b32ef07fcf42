"""Tracks a racer may pick: the simulator's built-ins and the racer's imported .npy files (`user-<id>`).

Resolving a slug to a Track and naming it live with the ImportedTrack model (models.py); this module
builds the wizard's list of choices on top of them.
"""

from models_app.models import ImportedTrack, resolve_track, track_title
from simulator.tracks import BUILTIN_TRACKS, Track, TrackError

__all__ = ["resolve_track", "track_options", "track_title"]


def track_options(owner) -> dict[str, Track]:
    """slug -> Track for the wizard's picker: built-ins first, then the owner's imports that still load."""
    options = dict(BUILTIN_TRACKS)
    for imported in ImportedTrack.objects.filter(owner=owner):
        try:
            options[imported.slug] = imported.load()
        except TrackError:
            continue
    return options
