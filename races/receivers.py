"""The one place the races app hears from the training app: an evaluation is over (the service that
records a race submission's result: races.services.submission_finish), a live run starts (the service
that times and colours its sectors for the broadcast: races.services.live_sectors), or a heat is over (the
service that records its result and advances its winner: races.services.heat_finish). And one thing it
tells training: a heat is deleted, so its heat job, replay and traces go too (training.services.heat_discard).
"""

from django.db.models.signals import post_delete
from django.dispatch import receiver

from races.models import Heat
from training.signals import evaluation_finished, heat_finished, live_run_started


@receiver(evaluation_finished, dispatch_uid="races.submission_finish")
def _record_race_result(sender, job, **kwargs):
    from races.services import submission_finish

    submission_finish(job)


@receiver(live_run_started, dispatch_uid="races.live_sectors")
def _time_live_sectors(sender, job, **kwargs):
    from races.services import live_sectors

    return live_sectors(job)


@receiver(heat_finished, dispatch_uid="races.heat_finish")
def _record_heat_result(sender, job, **kwargs):
    from races.services import heat_finish

    heat_finish(job)


@receiver(post_delete, sender=Heat, dispatch_uid="races.heat_discard")
def _discard_heat_job(sender, instance, **kwargs):
    # Every way a heat goes (its race deleted, the board cleared, the bracket discarded, removed by hand)
    # deletes the row, so this is the one place its job goes with it.
    if instance.job_id is not None:
        from training.services import heat_discard

        heat_discard(instance.job_id)
