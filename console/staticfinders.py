"""Serve single files that ship inside installed Python packages as static files.

Plotly's bundled plotly.min.js comes with the pinned `plotly` package: serving it from there keeps the
console offline-capable (no CDN) without committing a 4 MB copy, and collectstatic picks it up for
production like any other static file.
"""

from importlib.util import find_spec
from pathlib import Path

from django.contrib.staticfiles.finders import BaseFinder
from django.core.files.storage import FileSystemStorage

# static path -> (package, path inside the package)
PACKAGE_FILES = {
    "vendor/plotly/plotly.min.js": ("plotly", "package_data/plotly.min.js"),
}


def _package_file(package: str, relative: str) -> Path:
    spec = find_spec(package)
    if spec is None or spec.origin is None:
        raise LookupError(f"The package {package} is not installed.")
    return Path(spec.origin).parent / relative


class PackageFileFinder(BaseFinder):
    def __init__(self, files=None, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.files = {name: _package_file(*source) for name, source in (files or PACKAGE_FILES).items()}

    def check(self, **kwargs):
        from django.core.checks import Error

        return [
            Error(f"Static file {name} is missing: expected at {source}.", id="console.E001")
            for name, source in self.files.items()
            if not source.is_file()
        ]

    def find(self, path, find_all=False, **kwargs):
        source = self.files.get(path)
        if source is None or not source.is_file():
            return [] if find_all else None
        return [str(source)] if find_all else str(source)

    def list(self, ignore_patterns):
        for name, source in self.files.items():
            storage = FileSystemStorage(location=str(source.parent))
            # collectstatic stores a file at storage.prefix / path
            storage.prefix = str(Path(name).parent)
            yield source.name, storage
