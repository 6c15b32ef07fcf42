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


class WorkerHeartbeat(bootsteps.StartStopStep):
    """Keeps the worker's row (training.models.WorkerHost) fresh while it waits for jobs: the admin page
    lists live workers, and the queue's estimates count them."""

    requires = {"celery.worker.consumer.tasks:Tasks"}

    def start(self, consumer):
        consumer.timer.call_repeatedly(WORKER_SEEN_SECONDS, self.beat, (consumer.hostname,), priority=10)

    @staticmethod
    def beat(hostname: str) -> None:
        from training.worker import worker_seen

        try:
            worker_seen(hostname)
        except Exception:  # a database hiccup must not stop the worker: the next beat tries again
            pass


app.steps["consumer"].add(WorkerHeartbeat)
