"""Django settings for the DeepRacer console.

Everything that differs between a laptop and a server comes from the environment (see README.md,
"Configuration"); common/envvars.py reads it and fails loudly on values it cannot understand.
"""

import hashlib
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from common.envvars import (
    database_config,
    env_bool,
    env_bytes,
    env_int,
    env_list,
    env_path,
    env_str,
    redis_url,
)

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = env_path("VAR_DIR", BASE_DIR / "var")

# Local use (make run) is the default; production sets DEBUG=false and gets the security settings below.
DEBUG = env_bool("DEBUG", True)
# Known to everyone, so only ever used with DEBUG on.
DEV_SECRET_KEY = "insecure-development-key-never-used-with-debug-off"
SECRET_KEY = env_str("SECRET_KEY", DEV_SECRET_KEY if DEBUG else None)
if not DEBUG and (SECRET_KEY is None or SECRET_KEY == DEV_SECRET_KEY):
    raise ImproperlyConfigured("With DEBUG off, set SECRET_KEY to a long random value (see README.md).")

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
SITE_NAME = env_str("SITE_NAME", "DeepRacer console")

INSTALLED_APPS = [
    "daphne",  # first: its runserver serves HTTP and websockets (ASGI)
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "django_ace",
    "console",
    "garage",
    "models_app",
    "training",
    "races",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "console.middleware.RacerNameRequiredMiddleware",
]

ROOT_URLCONF = "console.urls"
WSGI_APPLICATION = "console.wsgi.application"
ASGI_APPLICATION = "console.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "console.context_processors.console",
            ],
        },
    },
]

DATABASES = {"default": database_config(sqlite_path=VAR_DIR / "db.sqlite3")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "console:home"
LOGOUT_REDIRECT_URL = "console:home"
# Self-service sign-up at first; an admin switches it in the console (Sign-up and invitations), which then
# wins. When off, the first account (the admin) and invitation links can sign up.
REGISTRATION_OPEN = env_bool("REGISTRATION_OPEN", True)
# Mail (optional): with EMAIL_HOST set, invitations are mailed; without, admins copy the link.
EMAIL_HOST = env_str("EMAIL_HOST", "")
EMAIL_PORT = env_int("EMAIL_PORT", 587, minimum=1)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", True)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "deepracer-console@localhost")

LANGUAGE_CODE = "en-us"
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = env_path("STATIC_ROOT", BASE_DIR / "staticfiles")
STATICFILES_DIRS = [BASE_DIR / "static"]
STATICFILES_FINDERS = [
    "django.contrib.staticfiles.finders.FileSystemFinder",
    "django.contrib.staticfiles.finders.AppDirectoriesFinder",
    "console.staticfinders.PackageFileFinder",
]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}
# With DEBUG on (make run, the tests' live server) static files are served straight from the finders.
WHITENOISE_USE_FINDERS = DEBUG
WHITENOISE_AUTOREFRESH = DEBUG
MEDIA_ROOT = env_path("MEDIA_ROOT", VAR_DIR / "media")
MEDIA_URL = "media/"

# The model store: one folder per model in the deepracer-for-cloud layout (SPEC 5.4).
MODEL_STORE = env_path("MODEL_STORE", VAR_DIR / "models")
# Upload limits: imported track files (.npy), imported model archives (.tar.gz), reward code and forms.
MAX_UPLOAD_TRACK_BYTES = env_bytes("MAX_UPLOAD_TRACK_BYTES", 5 * 1024**2)
MAX_UPLOAD_MODEL_BYTES = env_bytes("MAX_UPLOAD_MODEL_BYTES", 512 * 1024**2)
DATA_UPLOAD_MAX_MEMORY_SIZE = env_bytes("MAX_UPLOAD_FORM_BYTES", 2 * 1024**2)
# A model folder dropped in the browser arrives as one file per sim-trace (a long run has thousands).
DATA_UPLOAD_MAX_NUMBER_FILES = 20_000

# Redis carries the Celery queues and the Channels layer. Keys are prefixed per checkout so that two
# checkouts sharing one Redis (a team on one machine, CI beside a developer) never take each other's jobs.
REDIS_URL = redis_url()
REDIS_PREFIX = env_str("REDIS_PREFIX", "deepracer-" + hashlib.sha1(str(BASE_DIR).encode()).hexdigest()[:8])

CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {
            # A consumer waits for its next event in 5 s blocking reads (channels_redis's brpop_timeout); redis-py
            # 8 gives up on any read after 5 s (its default socket_timeout), so a socket that heard nothing for
            # 5 s (a broadcast between runs) died with 1011 and lost what came while it reconnected.
            "hosts": [{"address": REDIS_URL, "socket_timeout": 30}],
            "prefix": f"{REDIS_PREFIX}:asgi",
            # Small on purpose: live pages throttle at the source instead of queueing stale frames.
            "capacity": 200,
            "expiry": 30,
        },
    },
}

CELERY_BROKER_URL = REDIS_URL
CELERY_RESULT_BACKEND = REDIS_URL
CELERY_BROKER_TRANSPORT_OPTIONS = {"global_keyprefix": f"{REDIS_PREFIX}:celery:"}
CELERY_RESULT_BACKEND_TRANSPORT_OPTIONS = {"global_keyprefix": f"{REDIS_PREFIX}:celery:"}
CELERY_RESULT_EXPIRES = 3600
CELERY_TASK_DEFAULT_QUEUE = "default"
# One long job per training worker process: never reserve a second one while the first runs.
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A running training job goes on when the broker restarts (its state is in the database); the worker
# reconnects afterwards. (Celery 6 will cancel such tasks by default: keep them.)
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = False
# Threads per worker process for torch, BLAS and Mesa's llvmpipe: more than one thread per process on a
# busy machine is slower, not faster (DESIGN.md).
WORKER_THREADS = env_int("WORKER_THREADS", 1, minimum=1)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "rest_framework.authentication.TokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}
SPECTACULAR_SETTINGS = {
    "TITLE": SITE_NAME + " API",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    # Every operation documents the errors it can answer (common/openapi.py).
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums",
                             "common.openapi.document_error_responses"],
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
}

# Production: with DEBUG off, HTTPS everywhere (TLS ends at a reverse proxy that sets X-Forwarded-Proto
# when TRUST_X_FORWARDED_PROTO is on). HTTPS_ONLY=false is for a trial on plain http, never for real use.
if not DEBUG:
    HTTPS_ONLY = env_bool("HTTPS_ONLY", True)
    SECURE_SSL_REDIRECT = HTTPS_ONLY
    SECURE_REDIRECT_EXEMPT = [r"^health/$"]  # load balancers probe over plain http
    SESSION_COOKIE_SECURE = HTTPS_ONLY
    CSRF_COOKIE_SECURE = HTTPS_ONLY
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000, minimum=0) if HTTPS_ONLY else 0
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", True)
    if env_bool("TRUST_X_FORWARDED_PROTO", False):
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_REFERRER_POLICY = "same-origin"
