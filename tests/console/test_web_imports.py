"""The web process serves pages and the API without loading torch (hundreds of MB and seconds per start):
only training workers need it."""

import os
import subprocess
import sys

CHECK = ("import django; django.setup(); import console.urls, console.asgi, console.routing; import sys; "
         "loaded = sorted(name for name in ('torch', 'training.engine', 'training.networks') if name in sys.modules); "
         "assert not loaded, loaded")


def test_it_serves_the_console_without_importing_torch():
    done = subprocess.run([sys.executable, "-c", CHECK], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "DJANGO_SETTINGS_MODULE": "console.settings"})
    assert done.returncode == 0, done.stderr[-2000:]
