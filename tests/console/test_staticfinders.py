from pathlib import Path

from django.contrib.staticfiles import finders
from django.core.management import call_command

from console.staticfinders import PackageFileFinder


def test_it_finds_plotly_in_the_installed_package():
    path = finders.find("vendor/plotly/plotly.min.js")
    assert path is not None and Path(path).stat().st_size > 1_000_000


def test_it_finds_nothing_else():
    assert PackageFileFinder().find("vendor/plotly/other.js") is None
    assert PackageFileFinder().find("vendor/plotly/other.js", find_all=True) == []


def test_it_reports_a_missing_package_file():
    finder = PackageFileFinder(files={"vendor/x.js": ("plotly", "no/such/file.js")})
    assert [error.id for error in finder.check()] == ["console.E001"]


def test_it_collects_the_console_assets(tmp_path, settings):
    settings.STATIC_ROOT = tmp_path
    settings.STORAGES = {**settings.STORAGES, "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}
    call_command("collectstatic", "--noinput", verbosity=0)
    for name in ("vendor/plotly/plotly.min.js", "console/console.css", "console/console.js"):
        assert (tmp_path / name).is_file()
