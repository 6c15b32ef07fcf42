"""Celery tasks of the `training` queue (routed there by console.celery.TASK_ROUTES): ids in, a service
call, nothing else (DESIGN.md).

acks_late + reject_on_worker_lost: a message is acknowledged only when the job is over, so a worker that
dies mid-job leaves the message for another worker, whose claim resumes the job from its last checkpoint.
A worker that starts (again) also sweeps for jobs whose worker is gone and sends again the messages of
waiting jobs (worker.jobs_recover). A worker told to shut down (Ctrl-C, SIGTERM: Celery's warm shutdown
waits for the running task) makes its job checkpoint and wait for the next worker; a job message it
receives meanwhile goes back to the queue unstarted.

The job tasks take the id of the job they were sent for, but a worker runs the fairest waiting job
(training.queue): the messages only say that a job waits; the database decides which one runs next.
"""

import time

from celery import shared_task
from celery.exceptions import Reject
from celery.signals import worker_init, worker_ready, worker_shutdown, worker_shutting_down

from training import worker

_PROCESS_STARTED = time.time()  # this module loads when the worker boots, before it takes any job


def _refuse_while_shutting_down() -> None:
    if worker.worker_is_shutting_down():
        raise Reject("this worker is shutting down", requeue=True)


@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True)
def run_training_job(self, job_id: int) -> None:
    _refuse_while_shutting_down()
    worker.job_run_next(worker=self.request.hostname or None)


@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True)
def run_evaluation_job(self, job_id: int) -> None:
    _refuse_while_shutting_down()
    worker.job_run_next(worker=self.request.hostname or None)


@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True)
def run_heat_job(self, job_id: int) -> None:
    _refuse_while_shutting_down()
    worker.job_run_next(worker=self.request.hostname or None)


@shared_task
def recover_jobs(dead_worker: str | None = None, started_at: float | None = None, resend_waiting: bool = False) -> list:
    return worker.jobs_recover(dead_worker=dead_worker, started_at=started_at, resend_waiting=resend_waiting)


@worker_init.connect
def _yield_the_cpu_to_the_pages(sender=None, **kwargs) -> None:
    # Only workers of the queue the job tasks are routed to (console.celery.TASK_ROUTES): short tasks stay quick.
    training_queue = sender.app.amqp.router.route({}, run_training_job.name)["queue"].name
    if training_queue in sender.app.amqp.queues.consume_from:
        worker.worker_yield_cpu()


@worker_ready.connect
def _recover_after_restart(sender=None, **kwargs) -> None:
    # A worker that (re)starts under a name still holding running jobs was killed while running them.
    # The sweep runs in another worker, maybe after this one has claimed a job under the same name: only
    # jobs that name held before this process started are its predecessor's.
    hostname = getattr(sender, "hostname", None)
    if hostname:
        queues = ",".join(sorted(queue.name for queue in sender.task_consumer.queues)) \
            if getattr(sender, "task_consumer", None) else ""
        worker.worker_register(hostname, queues)
    recover_jobs.apply_async(kwargs={"dead_worker": hostname, "started_at": _PROCESS_STARTED,
                                     "resend_waiting": True})


@worker_shutting_down.connect
def _checkpoint_before_shutdown(sender=None, sig=None, how=None, **kwargs) -> None:
    # In the signal handler of the worker's main process: only a flag is set; the running job sees it at
    # its next report (within a second), checkpoints and ends as INTERRUPTED, then the worker exits.
    worker.worker_shutdown_requested(str(sig or "SIGTERM"))


@worker_shutdown.connect
def _leave_the_worker_list(sender=None, **kwargs) -> None:
    hostname = getattr(sender, "hostname", None)
    if hostname:
        try:
            worker.worker_unregister(hostname)
        except Exception:  # the database may be gone too: the row then ages out
            pass
