"""Live streams of a job: /ws/training/<job id>/ and /ws/evaluation/<job id>/. Only the model's owner may
listen; the consumer joins the job's group and forwards what the worker publishes (services.py)."""

from channels.db import database_sync_to_async

from common.consumers import GroupForwardConsumer
from training.models import EvaluationJob, TrainingJob


class _JobConsumer(GroupForwardConsumer):
    job_class = None

    async def group_for(self, user) -> str | None:
        job_id = self.scope["url_route"]["kwargs"]["job_id"]
        return await self._group_of_owned_job(user, job_id)

    @database_sync_to_async
    def _group_of_owned_job(self, user, job_id: int) -> str | None:
        job = self.job_class.objects.owned_by(user).filter(pk=job_id).first()
        return job.group if job is not None else None


class TrainingConsumer(_JobConsumer):
    job_class = TrainingJob


class EvaluationConsumer(_JobConsumer):
    job_class = EvaluationJob
