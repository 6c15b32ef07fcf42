"""Head-to-model pages: the race's heats and bracket (with the tools to pair entries, seed a bracket and
start heats), a heat's page (live while it races, then the result) and its replay.

Access: every page needs a head-to-model race the user can see (404 otherwise, private races included);
the tools need ``race.runs_heats(user)`` (the organiser and admins; in a live race also facilitators).
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from common import ranges
from races import services
from races.forms import BracketSeedForm, HeatPairForm
from races.models import Heat, HeatStatus, Race
from races.views import _get_race_for_user


def _get_heats_race(request, race_id) -> Race:
    race = _get_race_for_user(request, race_id)
    if not race.is_head_to_model:
        raise Http404("This race is not a head-to-model race.")
    return race


def _get_heats_crew_race(request, race_id) -> Race:
    race = _get_heats_race(request, race_id)
    if not race.runs_heats(request.user):
        raise Http404("Only the race's organiser (and race day's facilitators) run heats.")
    return race


def _get_heat(race: Race, heat_id) -> Heat:
    return get_object_or_404(Heat.objects.for_pages(), race=race, pk=heat_id)


def heats_context(race: Race, user, *, pair_form=None, seed_form=None) -> dict:
    """What the heats page (and race day's control page) show: the bracket's rounds, heats paired by hand,
    the final's winner, and the tools for those who run heats."""
    crew = race.runs_heats(user)
    return {
        "race": race, "rounds": services.bracket_rounds(race), "crew": crew,
        "hand_heats": list(Heat.objects.paired_by_hand(race).for_pages()),
        "champion": services.bracket_champion(race),
        "has_ready": Heat.objects.filter(race=race, status=HeatStatus.READY).exists(),
        "pair_form": pair_form or (HeatPairForm(race=race) if crew else None),
        "seed_form": seed_form or (BracketSeedForm() if crew else None),
    }


def _back(request, race: Race):
    """Back to where the tool was used: race day's control page or the heats page."""
    if request.POST.get("back") == "control" and race.is_live:
        return redirect("races:control", race_id=race.pk)
    return redirect("races:heats", race_id=race.pk)


def _tool_page(request, race: Race, **forms):
    """A tool's form with errors: the heats page, which has every tool, with the fields and reasons (400)."""
    return render(request, "races/heats.html", heats_context(race, request.user, **forms), status=400)


@login_required
@require_GET
def race_heats(request, race_id):
    race = _get_heats_race(request, race_id)
    return render(request, "races/heats.html", heats_context(race, request.user))


@login_required
@require_POST
def heat_pair(request, race_id):
    race = _get_heats_crew_race(request, race_id)
    form = HeatPairForm(request.POST, race=race)
    if form.is_valid():
        try:
            heat = services.heat_pair(race, form.cleaned_data["first"], form.cleaned_data["second"])
        except services.RaceError as error:
            form.add_error(error.field if error.field in form.fields else None, str(error))
        else:
            where = "in the race-day queue" if race.is_live else "ready to start"
            messages.success(request, f"{heat.name} is paired and {where}.")
            return _back(request, race)
    return _tool_page(request, race, pair_form=form)


@login_required
@require_POST
def bracket_seed(request, race_id):
    race = _get_heats_crew_race(request, race_id)
    form = BracketSeedForm(request.POST)
    if form.is_valid():
        try:
            services.bracket_seed(race, form.cleaned_data["size"])
        except services.RaceError as error:
            form.add_error(error.field if error.field in form.fields else None, str(error))
        else:
            where = "its first round is in the race-day queue" if race.is_live else "start its first round"
            messages.success(request, f"The bracket of {form.cleaned_data['size']} is seeded: {where}.")
            return _back(request, race)
    return _tool_page(request, race, seed_form=form)


def _act(request, race: Race, action, success: str):
    try:
        action()
    except services.RaceError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, success)
    return _back(request, race)


@login_required
@require_POST
def bracket_discard(request, race_id):
    race = _get_heats_crew_race(request, race_id)
    return _act(request, race, lambda: services.bracket_discard(race), "The bracket is discarded.")


@login_required
@require_POST
def heats_start(request, race_id):
    race = _get_heats_crew_race(request, race_id)
    return _act(request, race, lambda: services.heats_run_ready(race),
                "The ready heats are started: they race as soon as a worker is free.")


@login_required
@require_POST
def heat_action(request, race_id, heat_id, action):
    race = _get_heats_crew_race(request, race_id)
    heat = _get_heat(race, heat_id)
    actions = {
        "start": (lambda: services.heat_run(heat), f"{heat.name} is started: it races as soon as a worker is free."),
        "stop": (lambda: services.heat_stop(heat), f"{heat.name} is stopping."),
        "remove": (lambda: services.heat_remove(heat), f"{heat.name} is removed."),
    }
    if action not in actions:
        raise Http404("Unknown heat action.")
    call, success = actions[action]
    return _act(request, race, call, success)


@login_required
@require_GET
def heat_detail(request, race_id, heat_id):
    race = _get_heats_race(request, race_id)
    heat = _get_heat(race, heat_id)
    return render(request, "races/heat.html", {
        "race": race, "heat": heat, "cars": heat.cars(), "crew": race.runs_heats(request.user),
        "has_video": heat.job is not None and heat.job.video_path is not None})


@login_required
@require_GET
def heat_video(request, race_id, heat_id):
    """A heat's replay (both cars), for everyone who can see the race."""
    heat = _get_heat(_get_heats_race(request, race_id), heat_id)
    path = heat.job.video_path if heat.job is not None else None
    if path is None:
        raise Http404("This heat has no replay.")
    return ranges.file_response(request, path, "video/mp4")
