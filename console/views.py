import redis
from django.conf import settings
from django.db import connection
from django.http import JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from console import accounts
from simulator.spec import HYPERPARAMETER_DEFAULTS

HEALTH_TIMEOUT_SECONDS = 2


@require_GET
def home(request):
    """Anonymous visitors see the landing page; racers see "Get started with reinforcement learning"."""
    if not request.user.is_authenticated:
        return render(request, "console/landing.html", {"registration_open": accounts.registration_open()})
    return render(request, "console/get_started.html", {"defaults": HYPERPARAMETER_DEFAULTS})


@require_GET
def health(request):
    """For load balancers and `docker compose`: 200 when the database and Redis answer, 503 otherwise."""
    checks = {"database": _check_database(), "redis": _check_redis()}
    healthy = all(state == "ok" for state in checks.values())
    return JsonResponse(checks, status=200 if healthy else 503)


def _check_database() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception as error:  # any failure means unhealthy; say which kind
        return f"error: {type(error).__name__}"
    return "ok"


def _check_redis() -> str:
    try:
        client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=HEALTH_TIMEOUT_SECONDS)
        client.ping()
        client.close()
    except redis.RedisError as error:
        return f"error: {type(error).__name__}"
    return "ok"
