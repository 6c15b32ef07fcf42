"""python manage.py evaluate MODEL [--track T] [--reverse] [--trials N] [--continuous]: evaluate a model in
this process with a progress bar and one line per trial; the results are saved like a console evaluation."""

from django.core.management.base import BaseCommand, CommandError

from simulator import spec
from training import services, worker
from training.models import JobStatus

from ._progress import ProgressBar, model_by_id_or_name

RACE_TYPES = tuple(spec.RACE_TYPES)


class Command(BaseCommand):
    help = "Evaluate a trained model headless: progress bar and one line per trial."

    def add_arguments(self, parser):
        parser.add_argument("model", help="model id, or model name (with --owner when names repeat)")
        parser.add_argument("--owner", help="username of the model's owner")
        parser.add_argument("--track", help="track slug (default: the training track)")
        parser.add_argument("--reverse", action="store_true", help="drive the track the other way")
        parser.add_argument("--race-type", choices=RACE_TYPES, help="default: the training race type")
        parser.add_argument("--trials", type=int, default=3, help="laps, 3 to 5")
        parser.add_argument("--continuous", action="store_true", help="reset with a penalty instead of ending")
        parser.add_argument("--off-track-penalty", type=float, default=5.0)
        parser.add_argument("--collision-penalty", type=float, default=5.0)

    def handle(self, *args, **options):
        model = model_by_id_or_name(options["model"], options.get("owner"))
        race_type = dict(model.race_type or {})
        if options["race_type"] and options["race_type"] != race_type.get("race_type"):
            race_type = {"race_type": options["race_type"]}
        try:
            job = services.evaluation_start(
                model, track=options["track"] or model.track, reversed=options["reverse"], race_type=race_type,
                trials=options["trials"], continuous=options["continuous"],
                off_track_penalty=options["off_track_penalty"], collision_penalty=options["collision_penalty"],
                enqueue=False)
        except services.JobError as error:
            raise CommandError(str(error)) from None
        self.stdout.write(f"Evaluating {model.name} on {job.track} (job {job.pk}), {job.trials} trials")
        bar = ProgressBar(self.stdout, total=job.trials, unit="trials")
        try:
            job = worker.evaluation_run(job.pk, observer=lambda progress: self._show(bar, progress))
        finally:
            bar.close()
        if job.status == JobStatus.FAILED:
            raise CommandError(f"Evaluation failed: {job.failure_reason}")
        if job.video:
            self.stdout.write(f"Video: {model.folder / job.video}")
        self.stdout.write(self.style.SUCCESS(f"Evaluation {job.get_status_display().lower()}."))

    @staticmethod
    def _show(bar: ProgressBar, progress) -> None:
        if progress.kind != "episode":
            return
        trial = progress.data
        bar.advance_to(trial["trial"])
        bar.line(f"trial {trial['trial']}  time {trial['time']}  {trial['completion']:6.2f}%  {trial['status']}  "
                 f"off track {trial['off_track_count']} (+{trial['off_track_penalty']:g} s)  "
                 f"crashes {trial['crash_count']} (+{trial['crash_penalty']:g} s)  resets {trial['reset_count']}")
