"""Settings as a fresh process sees them: production security switches on with DEBUG off."""

import subprocess
import sys
from pathlib import Path

import pytest

from tests.processes import clean_environ

REPO = Path(__file__).resolve().parents[2]
PRODUCTION_ENV = {
    "DEBUG": "false",
    "SECRET_KEY": "a-long-random-production-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz",
    "ALLOWED_HOSTS": "console.example.com",
    "CSRF_TRUSTED_ORIGINS": "https://console.example.com",
    "TRUST_X_FORWARDED_PROTO": "true",
}


def _manage(*args, **env):
    environment = {key: value for key, value in clean_environ().items() if key not in PRODUCTION_ENV}
    environment.update(env)
    return subprocess.run([sys.executable, "manage.py", *args], cwd=REPO, env=environment,
                          capture_output=True, text=True, timeout=120)


def test_it_passes_the_deployment_checks_with_the_documented_production_environment():
    result = _manage("check", "--deploy", "--fail-level", "WARNING", **PRODUCTION_ENV)
    assert result.returncode == 0, result.stderr + result.stdout
    assert "no issues" in result.stdout


def test_it_refuses_to_start_without_a_secret_key_when_debug_is_off():
    env = {**PRODUCTION_ENV, "SECRET_KEY": ""}
    result = _manage("check", **env)
    assert result.returncode != 0
    assert "set SECRET_KEY" in result.stderr


def test_it_names_a_bad_environment_value():
    result = _manage("check", DEBUG="perhaps")
    assert result.returncode != 0
    assert "DEBUG='perhaps'" in result.stderr


def test_it_has_the_model_store_and_upload_limits(settings):
    assert settings.MODEL_STORE.name == "models"
    assert settings.MAX_UPLOAD_TRACK_BYTES > 0
    assert settings.MAX_UPLOAD_MODEL_BYTES > settings.MAX_UPLOAD_TRACK_BYTES


def test_it_uses_redis_for_the_channel_layer_and_celery(settings):
    assert settings.CHANNEL_LAYERS["default"]["BACKEND"] == "channels_redis.core.RedisChannelLayer"
    assert settings.CELERY_BROKER_URL.startswith(("redis://", "rediss://", "unix://"))


def test_an_idle_socket_outlives_the_channel_layers_blocking_read():
    # channels_redis reads in 5 s blocking waits: a read timeout as short as that (redis-py 8's default) closed
    # every socket that heard nothing for 5 s.
    import asyncio

    from asgiref.sync import async_to_sync
    from channels.layers import get_channel_layer

    layer = get_channel_layer()

    async def wait_idle():
        channel = await layer.new_channel()
        with pytest.raises(TimeoutError):  # asyncio's: nothing came, and nothing broke
            await asyncio.wait_for(layer.receive(channel), timeout=layer.brpop_timeout + 2)

    async_to_sync(wait_idle)()
