"""Celery tasks of the `training` queue (routed there by console.celery.TASK_ROUTES): ids in, a service
call, nothing else (DESIGN.md).

acks_late + reject_on_worker_lost: a message is acknowledged only when the job is over, so a worker that
dies mid-job leaves the message for another worker, whose claim resumes the job from its last checkpoint.
A worker that starts (again) also sweeps for jobs whose worker is gone (services.jobs_recover).
"""

from celery import shared_task
from celery.signals import worker_ready

from training import services


@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True)
def run_training_job(self, job_id: int) -> None:
    services.training_run(job_id, worker=self.request.hostname or None)


@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True)
def run_evaluation_job(self, job_id: int) -> None:
    services.evaluation_run(job_id, worker=self.request.hostname or None)


@shared_task
def recover_jobs(dead_worker: str | None = None) -> list:
    return services.jobs_recover(dead_worker=dead_worker)


@worker_ready.connect
def _recover_after_restart(sender=None, **kwargs) -> None:
    # A worker that (re)starts under a name still holding running jobs was killed while running them.
    hostname = getattr(sender, "hostname", None)
    recover_jobs.apply_async(kwargs={"dead_worker": hostname})
