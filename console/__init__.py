# The Celery app loads with Django so that @shared_task binds to it in the web and worker processes.
from console.celery import app as celery_app

__all__ = ["celery_app"]
