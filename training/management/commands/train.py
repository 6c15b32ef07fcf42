"""python manage.py train MODEL [--minutes M] [--iterations N]: train a model in this process, with a
progress bar and a summary line per iteration (the same job, rows and files as training from the console)."""

from django.core.management.base import BaseCommand, CommandError

from training import services, worker
from training.models import JobStatus, TrainingJob

from ._progress import ProgressBar, model_by_id_or_name


class Command(BaseCommand):
    help = "Train a model headless (no Celery worker needed): progress bar and one line per iteration."

    def add_arguments(self, parser):
        parser.add_argument("model", help="model id, or model name (with --owner when names repeat)")
        parser.add_argument("--owner", help="username of the model's owner")
        parser.add_argument("--minutes", type=float, help="stop after this many minutes (default: the model's)")
        parser.add_argument("--iterations", type=int, help="stop after this many iterations in total")

    def handle(self, *args, **options):
        model = model_by_id_or_name(options["model"], options.get("owner"))
        if options["iterations"] is not None and options["iterations"] < 1:
            raise CommandError("--iterations must be at least 1")
        try:
            job = services.training_start(model, max_minutes=options["minutes"],
                                          max_iterations=options["iterations"], enqueue=False)
        except services.JobError as error:
            raise CommandError(str(error)) from None
        self.stdout.write(f"Training {model.name} (job {job.pk}) for at most {job.max_minutes:g} minutes"
                          + (f" or {job.max_iterations} iterations" if job.max_iterations else ""))
        bar = ProgressBar(self.stdout, total=job.max_minutes * 60.0, unit="s")
        try:
            job = worker.training_run(job.pk, observer=lambda progress: self._show(bar, progress))
        except KeyboardInterrupt:
            TrainingJob.objects.filter(pk=job.pk).update(stop_requested=True)
            raise CommandError("Interrupted: the job keeps its last checkpoint; `manage.py train` resumes it.") \
                from None
        finally:
            bar.close()
        if job.status == JobStatus.FAILED:
            raise CommandError(f"Training failed: {job.failure_reason}")
        self.stdout.write(self.style.SUCCESS(
            f"Training {job.get_status_display().lower()} ({job.stop_reason}): {job.last_iteration} iterations, "
            f"best iteration {job.best_iteration}, model {job.model.status}."))

    @staticmethod
    def _show(bar: ProgressBar, progress) -> None:
        data = progress.data
        if "elapsed_seconds" in data:
            bar.advance_to(data["elapsed_seconds"])
        if progress.kind == "metrics":
            best = "  best" if data.get("best") else ""
            bar.line(f"iteration {data['iteration']:4d}  reward {data['average_reward']:9.2f}  "
                     f"training {data['average_training_completion']:5.1f}%  "
                     f"evaluation {data['average_evaluation_completion']:5.1f}%  "
                     f"steps {data.get('steps', 0)}{best}")
