"""Race-day pages: the facilitator's control page and its actions, the broadcast page (the race's
participants) and the read-only projector link (anyone with its token), and the race-day state they
poll and re-read when the race's live socket says something changed.

Access: the control page and its actions need ``race.is_run_by(user)`` (organiser, facilitators, admins)
on a race the user can see; the broadcast needs the race to be visible to the user; strangers get a 404.
"""

import re

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from races import services
from races.heat_views import heats_context
from races.models import Heat, HeatStatus, Race, Submission
from races.views import _get_race_for_user


def _get_live_race(request, race_id) -> Race:
    race = _get_race_for_user(request, race_id)
    if not race.is_live:
        raise Http404("This race is not a live race.")
    return race


def _get_run_race(request, race_id) -> Race:
    race = _get_live_race(request, race_id)
    if not race.is_run_by(request.user):
        raise Http404("Only the race's organiser, facilitators and admins run race day.")
    return race


def _broadcast_page(request, race: Race, *, socket: str, state_url: str):
    # A heat's two cars are named by the page's script once one is on track.
    return render(request, "races/broadcast.html", {"race": race, "socket": socket, "state_url": state_url,
                                                    "empty_heat": [None, None]})


@login_required
@require_GET
def race_broadcast(request, race_id):
    race = _get_live_race(request, race_id)
    return _broadcast_page(request, race, socket=f"/ws/races/{race.pk}/live/",
                           state_url=reverse("races:live_state", args=[race.pk]))


@require_GET
def race_projector(request, token):
    """The broadcast without signing in: the read-only link a projector opens."""
    race = get_object_or_404(Race, broadcast_token=token, is_live=True)
    return _broadcast_page(request, race, socket=f"/ws/races/projector/{token}/",
                           state_url=reverse("races:projector_state", args=[token]))


@login_required
@require_GET
def live_state(request, race_id):
    return JsonResponse(services.race_day_state(_get_live_race(request, race_id)))


@require_GET
def projector_state(request, token):
    race = get_object_or_404(Race, broadcast_token=token, is_live=True)
    return JsonResponse(services.race_day_state(race))


@login_required
@require_GET
def race_control(request, race_id):
    race = _get_run_race(request, race_id)
    context = {
        "race": race, "state": services.race_day_state(race),
        "failed": Submission.objects.filter(race=race, status="FAILED").select_related("participant__user__racer"),
        "failed_heats": [heat for heat in Heat.objects.filter(race=race, status__in=(
            HeatStatus.FAILED, HeatStatus.COMPLETED)).for_pages() if heat.may_run_again],
        "projector_url": request.build_absolute_uri(reverse("races:projector", args=[race.broadcast_token])),
        "socket": f"/ws/races/{race.pk}/live/",
        "state_url": reverse("races:live_state", args=[race.pk])}
    if race.is_head_to_model:
        context["heats"] = heats_context(race, request.user)
    return render(request, "races/control.html", context)


def _act(request, race: Race, action, success: str):
    """Run a race-day action; a refusal is the facilitator's message. JSON callers get the new state."""
    try:
        action()
    except services.RaceError as error:
        if request.accepts("application/json") and not request.accepts("text/html"):
            return JsonResponse({"detail": str(error)}, status=400)
        messages.error(request, str(error))
    else:
        if request.accepts("application/json") and not request.accepts("text/html"):
            return JsonResponse(services.race_day_state(race))
        if success:
            messages.success(request, success)
    return redirect("races:control", race_id=race.pk)


@login_required
@require_POST
def control_action(request, race_id, action):
    race = _get_run_race(request, race_id)
    actions = {
        "launch": (lambda: services.live_launch(race) or _empty_queue(), "The next run is launched."),
        "auto-on": (lambda: services.live_set_auto_launch(race, True), "Auto-launch is on."),
        "auto-off": (lambda: services.live_set_auto_launch(race, False), "Auto-launch is off."),
        "stop": (lambda: services.live_stop(race), "The run is stopped."),
        "clear": (lambda: services.live_clear_board(race), "The board is cleared."),
        "finish": (lambda: services.live_finish(race), "The race is finished: the broadcast shows the winner."),
        "reorder": (lambda: services.live_reorder(race, _keys(request.POST.get("order", ""))), ""),
    }
    if action not in actions:
        raise Http404("Unknown race-day action.")
    call, success = actions[action]
    return _act(request, race, call, success)


def _empty_queue():
    raise services.RaceError("The queue is empty.")


QUEUE_KEY = re.compile(r"^(?:(?:run|heat):)?\d+$")


def _keys(text: str) -> list[str]:
    """The queue's order as the page posts it: run ids or run:<id> / heat:<id> keys, separated by commas."""
    keys = [part.strip() for part in text.split(",") if part.strip()]
    if not all(QUEUE_KEY.match(key) for key in keys):
        raise services.RaceError("The order must list runs and heats (run:<id>, heat:<id>) separated by commas.")
    return keys


@login_required
@require_POST
def run_action(request, race_id, submission_id, action):
    race = _get_run_race(request, race_id)
    submission = get_object_or_404(Submission, race=race, pk=submission_id)
    return run_action_on(request, race, submission, action)


def run_action_on(request, race: Race, item, action):
    """The queue's buttons on a run or a heat."""
    actions = {
        "up": lambda: services.live_move(race, item, -1),
        "down": lambda: services.live_move(race, item, 1),
        "remove": lambda: services.live_remove(race, item),
        "requeue": lambda: services.live_requeue(race, item),
    }
    if action not in actions:
        raise Http404("Unknown run action.")
    return _act(request, race, actions[action], "")


@login_required
@require_POST
def heat_queue_action(request, race_id, heat_id, action):
    """A heat in race day's queue: move, remove, re-queue (a failed or drawn heat)."""
    race = _get_run_race(request, race_id)
    heat = get_object_or_404(Heat.objects.for_pages(), race=race, pk=heat_id)
    return run_action_on(request, race, heat, action)
