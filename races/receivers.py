"""The one place the races app hears from the training app: an evaluation is over. It only calls the
service that records a race submission's result (races.services.submission_finish)."""

from django.dispatch import receiver

from training.signals import evaluation_finished


@receiver(evaluation_finished, dispatch_uid="races.submission_finish")
def _record_race_result(sender, job, **kwargs):
    from races.services import submission_finish

    submission_finish(job)
