"""Race pages. Every lookup goes through Race.objects.visible_to(user): a racer who is not a participant
of a private race gets a 404, whatever the page; organiser tools also check `race.is_managed_by(user)`."""

import csv

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.functional import cached_property
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from common import ranges
from races import services
from races.forms import EnterRaceForm, RaceForm, initial_from_race, may_create_open_races, new_race_initial
from races.models import Participant, Race, Submission
from training import services as training

PAGE_SIZE = 50
PREVIEW_SIZE = 240
CSV_COLUMNS = ("rank", "racer_name", "ranking_time", "gap", "laps_completed", "best_lap_time", "off_track_count",
               "crash_count", "penalty_seconds", "reset_count", "model_name", "submitted_at")


def _get_race_for_user(request, race_id) -> Race:
    return get_object_or_404(Race.objects.visible_to(request.user), pk=race_id)


def _get_managed_race(request, race_id) -> Race:
    race = _get_race_for_user(request, race_id)
    if not race.is_managed_by(request.user):
        raise Http404("Only the race's organiser can do this.")
    return race


# ------------------------------------------------------------------------------------------ lists


@login_required
@require_GET
def race_list(request):
    """Community races: the ones you organise or race in (private and open)."""
    user = request.user
    races = (Race.objects.visible_to(user).filter(participants__user=user, participants__removed_at__isnull=True)
             | Race.objects.filter(owner=user)).distinct()
    races = (Race.objects.filter(pk__in=races.values("pk")).with_racer_counts().with_track_titles()
             .select_related("owner__racer"))
    return render(request, "races/list.html", {"races": races, "may_create_open": may_create_open_races(user)})


@login_required
@require_GET
def leaderboards(request):
    """Open races, newest first, with the top three of each (one query for all the top rows)."""
    races = list(Race.objects.filter(is_open=True).with_racer_counts().with_track_titles().select_related("owner__racer")
                 .order_by("-opens_at", "-created_at")[:PAGE_SIZE])
    tops: dict = {}
    for entry in Submission.objects.top_of(races):
        tops.setdefault(entry.race_id, []).append(entry)
    return render(request, "races/leaderboards.html",
                  {"races": [(race, tops.get(race.pk, [])) for race in races]})


# ------------------------------------------------------------------------------------ create / edit


def _track_cards(tracks):
    from models_app.tracks import track_cards

    return track_cards(tracks, PREVIEW_SIZE)


def _race_form_page(request, form, *, title, race=None, source=None, status=200):
    return render(request, "races/form.html", {"form": form, "title": title, "race": race, "source": source,
                                               "tracks": _track_cards(form.tracks)}, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def race_create(request):
    form = RaceForm(request.POST or None, owner=request.user, initial=new_race_initial())
    if request.method == "POST" and form.is_valid():
        race = form.save()
        services.race_join(race, request.user)
        messages.success(request, f"Race {race.name} is created.")
        return redirect("races:detail", race_id=race.pk)
    return _race_form_page(request, form, title="Create race", status=400 if request.method == "POST" else 200)


@login_required
@require_http_methods(["GET", "POST"])
def race_clone(request, race_id):
    source = _get_race_for_user(request, race_id)
    form = RaceForm(request.POST or None, owner=request.user, initial=initial_from_race(source))
    if request.method == "POST" and form.is_valid():
        race = form.save()
        services.race_join(race, request.user)
        messages.success(request, f"Race {race.name} is created from {source.name}.")
        return redirect("races:detail", race_id=race.pk)
    return _race_form_page(request, form, title=f"Clone race: {source.name}", source=source,
                           status=400 if request.method == "POST" else 200)


@login_required
@require_http_methods(["GET", "POST"])
def race_edit(request, race_id):
    race = _get_managed_race(request, race_id)
    form = RaceForm(request.POST or None, owner=request.user, instance=race)
    if request.method == "POST" and form.is_valid():
        form.save()
        services.announce_changed(race)
        messages.success(request, f"Race {race.name} is saved.")
        return redirect("races:detail", race_id=race.pk)
    return _race_form_page(request, form, title=f"Edit race: {race.name}", race=race,
                           status=400 if request.method == "POST" else 200)


# ------------------------------------------------------------------------------------------ the race


class BoardPaginator(Paginator):
    """Pages of the leaderboard, counted without ranking the board (the count is the racers on it)."""

    def __init__(self, race: Race, per_page: int = PAGE_SIZE):
        super().__init__(Submission.objects.leaderboard(race), per_page)
        self.race = race

    @cached_property
    def count(self) -> int:
        return Submission.objects.racer_count(self.race)


def board_context(request, race: Race) -> dict:
    """The leaderboard page's rows (one query), the viewer's own best row when it is off this page, and
    the viewer's submissions with their place in the queue."""
    page = BoardPaginator(race).get_page(request.GET.get("page"))
    rows = list(page.object_list)
    mine = services.racer_board_entry(race, request.user)
    pinned = mine if mine is not None and all(row.pk != mine.pk for row in rows) else None
    submissions = list(Submission.objects.filter(race=race, participant__user=request.user)
                       .select_related("evaluation"))
    for submission in submissions:
        submission.queue_position = services.submission_queue_position(submission)
    heats = services.racer_heats(race, request.user) if race.is_head_to_model else []
    return {"race": race, "page": page, "rows": rows, "pinned": pinned, "viewer_id": request.user.pk,
            "submissions": submissions, "my_heats": heats, "managed": race.is_managed_by(request.user)}


@login_required
@require_GET
def race_detail(request, race_id):
    race = _get_race_for_user(request, race_id)
    context = board_context(request, race)
    managed = context["managed"]
    raceable, refused = services.models_for_racing(request.user)
    context.update({
        "form": EnterRaceForm(user=request.user, offered=raceable),
        "models_refused": refused,
        "used_submissions": len(context["submissions"]),
        "invite_url": request.build_absolute_uri(reverse("races:join", args=[race.invite_token]))
        if managed and not race.is_open else "",
        "racers": list(race.participants.filter(removed_at__isnull=True).select_related("user__racer"))
        if managed else [],
        "track_svg": _track_svg(race),
        "runs_race_day": race.is_run_by(request.user),
        "champion": services.bracket_champion(race) if race.is_head_to_model else None,
    })
    return render(request, "races/detail.html", context)


def _track_svg(race: Race) -> str:
    from simulator.tracks import TrackError

    try:
        return mark_safe(race.get_track().to_svg(PREVIEW_SIZE))  # noqa: S308 (the simulator's own drawing)
    except TrackError:
        return ""


@login_required
@require_GET
def race_board(request, race_id):
    """The leaderboard and your submissions as HTML, for the live page to swap in when an entry lands."""
    race = _get_race_for_user(request, race_id)
    return render(request, "races/_board.html", board_context(request, race))


@login_required
@require_POST
def race_submit(request, race_id):
    race = _get_race_for_user(request, race_id)
    form = EnterRaceForm(request.POST, user=request.user)
    if not form.is_valid():
        messages.error(request, "Pick one of your models.")
        return redirect("races:detail", race_id=race.pk)
    try:
        submission = services.submission_create(race, request.user, form.cleaned_data["model"])
    except services.RaceError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, f"{submission.model_name} is submitted: it races as soon as a worker is free.")
    return redirect("races:detail", race_id=race.pk)


# ---------------------------------------------------------------------------------------- invite link


@login_required
@require_http_methods(["GET", "POST"])
def race_join(request, token):
    race = Race.objects.filter(invite_token=token).select_related("owner__racer").first()
    if race is None:
        raise Http404("This invite link is not valid: the organiser may have reset it. Ask them for the new one.")
    if request.method == "POST":
        try:
            services.race_join(race, request.user)
        except services.RaceError as error:
            messages.error(request, str(error))
            return render(request, "races/join.html", {"race": race, "refused": True}, status=403)
        messages.success(request, f"You joined {race.name}.")
        return redirect("races:detail", race_id=race.pk)
    already = Participant.objects.filter(race=race, user=request.user, removed_at__isnull=True).exists()
    if already or race.owner_id == request.user.pk:
        return redirect("races:detail", race_id=race.pk)
    removed = Participant.objects.filter(race=race, user=request.user, removed_at__isnull=False).exists()
    return render(request, "races/join.html", {"race": race, "refused": removed}, status=403 if removed else 200)


# ------------------------------------------------------------------------------------- organiser tools


@login_required
@require_POST
def race_reset_invite(request, race_id):
    race = _get_managed_race(request, race_id)
    services.race_reset_invite(race)
    messages.success(request, "The invite link is new: the old one no longer works.")
    return redirect("races:detail", race_id=race.pk)


@login_required
@require_POST
def race_remove_racer(request, race_id, user_id):
    race = _get_managed_race(request, race_id)
    user = get_object_or_404(get_user_model(), pk=user_id)
    try:
        services.race_remove_racer(race, user)
    except services.RaceError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, "The racer is removed: their entries have left the board.")
    return redirect("races:detail", race_id=race.pk)


@login_required
@require_POST
def race_close(request, race_id):
    race = _get_managed_race(request, race_id)
    try:
        services.race_close(race)
    except services.RaceError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, f"{race.name} is closed: no more submissions.")
    return redirect("races:detail", race_id=race.pk)


@login_required
@require_http_methods(["GET", "POST"])
def race_delete(request, race_id):
    race = _get_managed_race(request, race_id)
    if request.method == "POST":
        name = race.name
        services.race_delete(race)
        messages.success(request, f"Race {name} is deleted.")
        return redirect("races:list")
    return render(request, "races/delete.html", {"race": race})


@login_required
@require_GET
def race_csv(request, race_id):
    """The whole leaderboard as CSV (organisers)."""
    race = _get_managed_race(request, race_id)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="leaderboard-{race.pk}.csv"'
    writer = csv.writer(response)
    writer.writerow(CSV_COLUMNS)
    for entry in Submission.objects.leaderboard(race):
        writer.writerow([entry.rank if entry.ranking_ms is not None else "", entry.racer_name, entry.ranking_time,
                         entry.gap, entry.laps_completed, entry.best_lap_time, entry.off_track_count,
                         entry.crash_count, f"{entry.penalty_seconds:g}", entry.reset_count, entry.model_name,
                         entry.submitted_at.isoformat()])
    return response


def _get_entry(request, race_id, entry_id) -> Submission:
    race = _get_race_for_user(request, race_id)
    entry = get_object_or_404(Submission.objects.entries_of(race).select_related("evaluation__model", "participant"),
                              pk=entry_id)
    return entry


@login_required
@require_GET
def entry_video(request, race_id, entry_id):
    """An entry's replay (chase view with the top-down inset), for everyone who can see the race."""
    entry = _get_entry(request, race_id, entry_id)
    path = training.evaluation_video_path(entry.evaluation) if entry.evaluation else None
    if path is None:
        raise Http404("This entry has no video.")
    return ranges.file_response(request, path, "video/mp4")


@login_required
@require_GET
def entry_simtrace(request, race_id, entry_id):
    """An entry's sim-trace CSV (SPEC 5.2) for the log-analysis tools: the organiser's and the racer's own."""
    entry = _get_entry(request, race_id, entry_id)
    if not (entry.race.is_managed_by(request.user) or entry.participant.user_id == request.user.pk):
        raise Http404("Only the organiser and the racer can download the sim trace.")
    path = training.evaluation_simtrace_path(entry.evaluation) if entry.evaluation else None
    if path is None:
        raise Http404("This entry has no sim trace.")
    return ranges.file_response(request, path, "text/csv")


# --------------------------------------------------------------------------------------------- racers


@login_required
@require_GET
def racer_profile(request, racer_name):
    """A racer's public page: racer name and results in the races the viewer can see. No models or code."""
    racer = get_object_or_404(get_user_model().objects.select_related("racer"), racer__racer_name__iexact=racer_name)
    return render(request, "races/racer.html", {"profile": racer.racer,
                                                "results": services.racer_results(racer, request.user)})
