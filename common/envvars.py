"""Settings read from the environment.

Each reader returns the default when the variable is unset or empty, and raises ImproperlyConfigured
naming the variable when its value cannot be understood: a typo in production must stop the start-up,
not silently fall back to a default.
"""

import os
from pathlib import Path
from urllib.parse import urlsplit

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

TRUE_WORDS = frozenset({"1", "true", "yes", "on"})
FALSE_WORDS = frozenset({"0", "false", "no", "off"})
SIZE_SUFFIXES = {"": 1, "B": 1, "K": 1024, "KB": 1024, "M": 1024**2, "MB": 1024**2, "G": 1024**3, "GB": 1024**3}
REDIS_SCHEMES = frozenset({"redis", "rediss", "unix"})
_MISSING = object()


def _raw(name: str) -> str | None:
    value = os.environ.get(name, "").strip()
    return value or None


def _missing(name: str, default):
    if default is _MISSING:
        raise ImproperlyConfigured(f"The environment variable {name} must be set.")
    return default


def env_str(name: str, default=_MISSING) -> str:
    value = _raw(name)
    return _missing(name, default) if value is None else value


def env_bool(name: str, default: bool) -> bool:
    value = _raw(name)
    if value is None:
        return default
    word = value.lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ImproperlyConfigured(f"{name}={value!r} is not a yes/no value: use one of true, false, 1, 0, yes, no, on, off.")


def env_int(name: str, default: int, minimum: int | None = None) -> int:
    value = _raw(name)
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={value!r} is not a whole number.") from None
    if minimum is not None and number < minimum:
        raise ImproperlyConfigured(f"{name}={number} is too small: it must be at least {minimum}.")
    return number


def env_bytes(name: str, default: int) -> int:
    """A size in bytes, written plainly (1048576) or with a suffix (512K, 20MB, 2G)."""
    value = _raw(name)
    if value is None:
        return default
    text = value.upper().replace(" ", "")
    digits = text.rstrip("KMGB")
    suffix = text[len(digits):]
    if not digits.isdigit() or suffix not in SIZE_SUFFIXES:
        raise ImproperlyConfigured(f"{name}={value!r} is not a size: write bytes (1048576) or 512K, 20M, 2G.")
    return int(digits) * SIZE_SUFFIXES[suffix]


def env_list(name: str, default: list[str]) -> list[str]:
    """Comma-separated values; blanks around the commas are ignored."""
    value = _raw(name)
    if value is None:
        return list(default)
    return [item.strip() for item in value.split(",") if item.strip()]


def env_path(name: str, default: Path) -> Path:
    value = _raw(name)
    return Path(value).expanduser().resolve() if value else default


def database_config(sqlite_path: Path, name: str = "DATABASE_URL") -> dict:
    """DATABASE_URL (postgres://..., sqlite:///...) as Django's DATABASES entry; SQLite file by default."""
    url = _raw(name)
    if url is None:
        config = {"ENGINE": "django.db.backends.sqlite3", "NAME": str(sqlite_path)}
    else:
        try:
            config = dict(dj_database_url.parse(url))
        except ValueError as error:
            raise ImproperlyConfigured(f"{name} is not a database URL we understand ({error}).") from None
    if config["ENGINE"].endswith("sqlite3") and config["NAME"] != ":memory:":
        path = Path(config["NAME"])
        # SQLite creates the file but not its folder: a fresh checkout has no var/ yet.
        path.parent.mkdir(parents=True, exist_ok=True)
        config.update(_sqlite_tuning(path))
    return config


def _sqlite_tuning(path: Path) -> dict:
    # Web, workers and the browser tests' live server share the file: wait for locks instead of
    # failing, take the write lock up front, and let readers proceed during writes (WAL). The test
    # database is a file too, so the live server subprocess sees what the tests wrote.
    return {
        "OPTIONS": {
            "timeout": 30,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        },
        "TEST": {"NAME": str(path.with_name(f"test-{path.stem}.sqlite3"))},
    }


def redis_url(name: str = "REDIS_URL", default: str = "redis://127.0.0.1:6379/0") -> str:
    url = _raw(name) or default
    parts = urlsplit(url)
    if parts.scheme not in REDIS_SCHEMES or not (parts.hostname or parts.path):
        raise ImproperlyConfigured(f"{name}={url!r} is not a Redis URL: expected redis://host:port/db.")
    return url
