"""Head-to-model test helpers: a head-to-model race, a board of racers' entries (with models, trained when
a test starts heat jobs), and a heat finished the way the worker finishes it (HeatJob.move, so the
heat_finished signal and races.receivers run)."""

import shutil

from models_app.models import RLModel
from races.models import Heat, HeatStatus
from tests.conftest import make_racer
from tests.races.conftest import make_entry, make_race
from tests.training.jobs_fixtures import make_model
from training.models import HeatJob, JobStatus

NAMES = ("Ana", "Ben", "Cy", "Dee", "Eve", "Fay", "Gus", "Hal", "Ida", "Jo", "Kit", "Lu", "Max", "Ned", "Oz", "Pam")


def make_h2m_race(owner, **fields):
    values = {"name": "Duel Cup", "race_type": {"race_type": "HEAD_TO_MODEL"}, "heat_laps": 2, "heat_seconds": 60}
    return make_race(owner, **(values | fields))


def make_board(race, count, trained_model_folder=None):
    """`count` racers with one completed entry each, ranked Ana (fastest), Ben, ... ; each entry's model is a
    real model (a copy of the trained folder when given); racers of an earlier board enter with their model."""
    entries = []
    for place, name in enumerate(NAMES[:count]):
        model = RLModel.objects.filter(owner__username=name.lower()).first()  # a racer of another board
        if model is None:
            model = make_model(make_racer(name.lower(), f"{name}_Racer"), name=f"{name}-Model")
            if trained_model_folder is not None:
                shutil.copytree(trained_model_folder, model.folder)
        racer = model.owner
        entries.append(make_entry(race, racer, 10_000 + 1_000 * place, model=model, model_name=model.name))
    return entries


def car(model, *, lap_times=(12.5, 12.25), finished=True, progress=200.0, resets=0):
    return {"model_id": str(model.pk), "model_name": model.name, "lap_times": list(lap_times),
            "total_time": round(sum(lap_times), 3) if finished else None, "finished": finished,
            "progress": progress, "off_track_count": resets, "crash_count": 0, "reset_count": resets,
            "penalty_seconds": 5.0 * resets}


def result(heat, winner, decided_by="finish"):
    """A heat job's result (H2M_INTERFACE.md) where car `winner` won (None: a draw)."""
    first, second = heat.first.model, heat.second.model
    loser = {"lap_times": (13.0,), "finished": False, "progress": 150.0, "resets": 1}
    return {"winner": winner, "decided_by": decided_by, "sim_seconds": 24.75,
            "cars": [car(first) if winner == 0 else car(first, **loser),
                     car(second) if winner == 1 else car(second, **loser)]}


def put_on_track(heat) -> HeatJob:
    """A heat job for the heat as heat_start makes it (without a checkpoint check), the heat RUNNING."""
    race = heat.race
    job = HeatJob.objects.create(model=heat.first.model, opponent=heat.second.model, requested_by=race.owner,
                                 track=race.track, laps=race.heat_laps, label=heat.label)
    Heat.objects.filter(pk=heat.pk).update(job=job, status=HeatStatus.RUNNING)
    return job


def finish(heat, winner, decided_by="finish", job=None) -> Heat:
    """Finish the heat's job as the worker does: COMPLETED with its result; returns the heat, re-read."""
    heat.refresh_from_db()
    job = job or heat.job or put_on_track(heat)
    heat.refresh_from_db()
    job.move(JobStatus.COMPLETED, result=result(heat, winner, decided_by))
    return Heat.objects.for_pages().get(pk=heat.pk)
