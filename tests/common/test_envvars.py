from pathlib import Path

import pytest
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


@pytest.mark.parametrize("value, expected", [("true", True), ("1", True), ("Yes", True), ("off", False), ("0", False)])
def test_it_reads_booleans(monkeypatch, value, expected):
    monkeypatch.setenv("FLAG", value)
    assert env_bool("FLAG", not expected) is expected


def test_it_uses_defaults_for_unset_and_empty_variables(monkeypatch):
    monkeypatch.delenv("FLAG", raising=False)
    monkeypatch.setenv("EMPTY", "  ")
    assert env_bool("FLAG", True) is True
    assert env_int("EMPTY", 7) == 7
    assert env_list("EMPTY", ["a"]) == ["a"]
    assert env_str("EMPTY", "x") == "x"


def test_it_refuses_a_boolean_it_cannot_read(monkeypatch):
    monkeypatch.setenv("DEBUG", "maybe")
    with pytest.raises(ImproperlyConfigured, match="DEBUG='maybe'"):
        env_bool("DEBUG", False)


def test_it_refuses_bad_numbers(monkeypatch):
    monkeypatch.setenv("WORKERS", "two")
    with pytest.raises(ImproperlyConfigured, match="WORKERS='two' is not a whole number"):
        env_int("WORKERS", 1)
    monkeypatch.setenv("WORKERS", "0")
    with pytest.raises(ImproperlyConfigured, match="at least 1"):
        env_int("WORKERS", 1, minimum=1)


def test_it_requires_a_variable_without_default(monkeypatch):
    monkeypatch.delenv("SECRET_THING", raising=False)
    with pytest.raises(ImproperlyConfigured, match="SECRET_THING must be set"):
        env_str("SECRET_THING")


@pytest.mark.parametrize("value, expected", [("1048576", 1048576), ("512K", 512 * 1024), ("20MB", 20 * 1024**2), ("2g", 2 * 1024**3)])
def test_it_reads_sizes(monkeypatch, value, expected):
    monkeypatch.setenv("SIZE", value)
    assert env_bytes("SIZE", 1) == expected


def test_it_refuses_a_size_it_cannot_read(monkeypatch):
    monkeypatch.setenv("SIZE", "lots")
    with pytest.raises(ImproperlyConfigured, match="SIZE='lots' is not a size"):
        env_bytes("SIZE", 1)


def test_it_splits_lists_on_commas(monkeypatch):
    monkeypatch.setenv("HOSTS", " a.example, b.example ,,")
    assert env_list("HOSTS", []) == ["a.example", "b.example"]


def test_it_resolves_paths(monkeypatch, tmp_path):
    monkeypatch.setenv("STORE", str(tmp_path / "models"))
    assert env_path("STORE", Path("x")) == tmp_path / "models"


def test_it_defaults_to_a_sqlite_file_with_a_file_test_database(monkeypatch, tmp_path):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    config = database_config(sqlite_path=tmp_path / "var" / "db.sqlite3")
    assert config["ENGINE"] == "django.db.backends.sqlite3"
    assert (tmp_path / "var").is_dir()
    assert config["TEST"]["NAME"] == str(tmp_path / "var" / "test-db.sqlite3")


def test_it_reads_a_postgres_url(monkeypatch, tmp_path):
    monkeypatch.setenv("DATABASE_URL", "postgres://racer:secret@db.example:5433/console")
    config = database_config(sqlite_path=tmp_path / "db.sqlite3")
    assert config["ENGINE"] == "django.db.backends.postgresql"
    assert (config["NAME"], config["USER"], config["HOST"], config["PORT"]) == ("console", "racer", "db.example", 5433)


def test_it_refuses_a_database_url_it_cannot_read(monkeypatch, tmp_path):
    monkeypatch.setenv("DATABASE_URL", "mongodb://somewhere/db")
    with pytest.raises(ImproperlyConfigured, match="DATABASE_URL"):
        database_config(sqlite_path=tmp_path / "db.sqlite3")


def test_it_checks_redis_urls(monkeypatch):
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:6380/2")
    assert redis_url() == "redis://127.0.0.1:6380/2"
    monkeypatch.setenv("REDIS_URL", "http://127.0.0.1:6379")
    with pytest.raises(ImproperlyConfigured, match="not a Redis URL"):
        redis_url()
