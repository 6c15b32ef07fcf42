"""Tracks a racer may pick: the simulator's built-ins and the racer's imported .npy files (`user-<id>`)."""

from models_app.models import IMPORTED_TRACK_PREFIX, UNKNOWN_TITLE, ImportedTrack
from simulator.tracks import BUILTIN_TRACKS, Track, TrackError, get_track


def _imported_id(slug: str) -> int | None:
    if not slug.startswith(IMPORTED_TRACK_PREFIX):
        return None
    number = slug[len(IMPORTED_TRACK_PREFIX):]
    return int(number) if number.isdigit() else None


def resolve_track(owner_id, slug: str, reverse: bool = False) -> Track:
    """A built-in by slug, or the owner's imported track; TrackError for anything else (a stranger's
    track included: the message is the same as for a track that does not exist)."""
    number = _imported_id(slug)
    if number is None:
        return get_track(slug, reverse=reverse)
    imported = ImportedTrack.objects.filter(owner_id=owner_id, pk=number).first()
    if imported is None:
        raise TrackError(f"unknown track {slug!r}")
    return imported.load(reverse)


def track_title(owner_id, slug: str, imported_title=UNKNOWN_TITLE) -> str:
    """A built-in's title, the owner's imported track's title, or the slug itself. `imported_title` is the
    title a list query annotated (with_track_titles(): None when there is none); without it, one query."""
    if slug in BUILTIN_TRACKS:
        return BUILTIN_TRACKS[slug].title
    if imported_title is UNKNOWN_TITLE:
        number = _imported_id(slug)
        imported_title = ImportedTrack.objects.filter(owner_id=owner_id, pk=number).values_list(
            "title", flat=True).first() if number is not None else None
    return imported_title or slug


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
    from django.utils.safestring import mark_safe

    # to_svg() escapes the title: the markup is the simulator's own drawing.
    return [{"slug": slug, "track": track, "svg": mark_safe(track.to_svg(size))}  # noqa: S308
            for slug, track in tracks.items()]
