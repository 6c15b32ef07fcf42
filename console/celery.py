"""The Celery app: two queues on Redis.

`default` takes short jobs (validation, notifications, bookkeeping). `training` takes training and
evaluation jobs; its workers run one job per process with a pool whose workers may start their own
processes (`-P solo`: prefork children are daemonic and cannot), e.g.

    celery -A console worker -Q training -P solo
"""

import os

from celery import Celery, bootsteps
from kombu import Queue

DEFAULT_QUEUE = "default"
TRAINING_QUEUE = "training"
# Routing lives here, not on the tasks (Celery deprecates the `queue` task attribute); the rest go to `default`.
TASK_ROUTES = {
    "training.tasks.run_training_job": {"queue": TRAINING_QUEUE},
    "training.tasks.run_evaluation_job": {"queue": TRAINING_QUEUE},
    "training.tasks.run_heat_job": {"queue": TRAINING_QUEUE},
}
RECOVER_JOBS_TASK = "training.tasks.recover_jobs"
# Read by torch, NumPy's BLAS and Mesa's llvmpipe when they start, so set before any of them loads.
THREAD_ENV_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "LP_NUM_THREADS")

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "console.settings")
for _name in THREAD_ENV_VARS:
    os.environ.setdefault(_name, os.environ.get("WORKER_THREADS", "1"))

app = Celery("console")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.task_queues = (Queue(DEFAULT_QUEUE), Queue(TRAINING_QUEUE))
app.conf.task_routes = TASK_ROUTES
app.autodiscover_tasks()


class ResendWaitingJobsAfterReconnect(bootsteps.StartStopStep):
    """A broker that restarted without its data (an external Redis without persistence) lost the messages
    of queued jobs; the worker reconnects by itself, and then asks the recovery task to send again those
    of every waiting job (a duplicate is harmless: claiming a job is conditional). The worker's first start
    does the same through the worker_ready signal (training.tasks)."""

    requires = {"celery.worker.consumer.tasks:Tasks"}

    def start(self, consumer):
        if consumer.restart_count > 0:
            consumer.app.send_task(RECOVER_JOBS_TASK, kwargs={"resend_waiting": True})


app.steps["consumer"].add(ResendWaitingJobsAfterReconnect)


WORKER_SEEN_SECONDS = 30.0  # an idle worker's heartbeat in the worker list (a running job's reporter beats too)


class IdleTimer(bootsteps.StartStopStep):
    """Something a worker does every few seconds while it waits for jobs: the consumer's timer fires in the
    worker's event loop, which a running job holds (solo pool), so it runs only while the worker is idle;
    the job's reporter does the same meanwhile. Its timer goes with the consumer (a broker reconnect
    restarts the consumer: one timer, never two)."""

    requires = {"celery.worker.consumer.tasks:Tasks"}

    def __init__(self, parent, **kwargs):
        super().__init__(parent, **kwargs)
        self.timer = None

    def start(self, consumer):
        self.timer = consumer.timer.call_repeatedly(self.seconds(), self.run, (consumer.hostname,), priority=10)

    def stop(self, consumer):
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    def seconds(self) -> float:
        raise NotImplementedError

    def run(self, hostname: str) -> None:
        raise NotImplementedError


class WorkerHeartbeat(IdleTimer):
    """Keeps the worker's row (training.models.WorkerHost) fresh while it waits for jobs: the admin page
    lists live workers, and the queue's estimates count them."""

    def seconds(self) -> float:
        return WORKER_SEEN_SECONDS

    def run(self, hostname: str) -> None:
        from training.worker import worker_seen

        try:
            worker_seen(hostname)
        except Exception:  # a database hiccup must not stop the worker: the next beat tries again
            pass


class IdleSweep(IdleTimer):
    """Sweeps for jobs whose worker vanished (training.worker.jobs_recover: a stale heartbeat, the job
    requeued from its last checkpoint) while this worker waits: otherwise, with every other worker idle,
    nothing would notice until a worker started again. Every worker sweeps, on any host: the requeue is a
    conditional update, so two sweeps never requeue a job twice."""

    def seconds(self) -> float:
        from training.worker import sweep_seconds

        return sweep_seconds()

    def run(self, hostname: str) -> None:
        from training.worker import jobs_sweep

        jobs_sweep()


app.steps["consumer"].add(WorkerHeartbeat)
app.steps["consumer"].add(IdleSweep)
