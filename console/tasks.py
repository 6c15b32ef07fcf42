from celery import shared_task

from common.broadcast import publish, user_group


@shared_task
def notify_user(user_id: int, message: str, level: str = "info") -> None:
    """Show a notification on every console page the user has open (see static/console/console.js)."""
    publish(user_group(user_id), "notification", {"message": message, "level": level})
