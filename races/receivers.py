"""The one place the races app hears from the training app: an evaluation is over (the service that
records a race submission's result: races.services.submission_finish), a live run starts (the service
that times and colours its sectors for the broadcast: races.services.live_sectors), or a heat is over (the
service that records its result and advances its winner: races.services.heat_finish)."""

from django.dispatch import receiver

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
