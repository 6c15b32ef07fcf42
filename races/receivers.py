"""The one place the races app hears from the training app: an evaluation or a heat is over. Each receiver
only calls the service that records the result (races.services.submission_finish, heat_finish)."""

from django.dispatch import receiver

from training.signals import evaluation_finished, heat_finished


@receiver(evaluation_finished, dispatch_uid="races.submission_finish")
def _record_race_result(sender, job, **kwargs):
    from races.services import submission_finish

    submission_finish(job)


@receiver(heat_finished, dispatch_uid="races.heat_finish")
def _record_heat_result(sender, job, **kwargs):
    from races.services import heat_finish

    heat_finish(job)
