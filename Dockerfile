# One image for the web server and the workers (docker-compose.yml picks the command).
FROM python:3.11-slim-bookworm

ENV PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    MODEL_STORE=/data/models \
    STATIC_ROOT=/app/staticfiles

# bubblewrap + libseccomp: the reward-function sandbox; EGL/OSMesa: MuJoCo's offscreen rendering.
RUN apt-get update \
 && apt-get install -y --no-install-recommends bubblewrap libegl1 libgl1-mesa-dri libosmesa6 libseccomp2 \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /app
# The CPU build of torch first: the default PyPI build pulls GBs of CUDA libraries.
RUN pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu
COPY pyproject.toml README.md ./
RUN pip install .
COPY . .
RUN DEBUG=false SECRET_KEY=build-time-collectstatic-only-this-key-signs-nothing-0123456789 \
    python manage.py collectstatic --noinput \
 && useradd --create-home console && mkdir -p /data/models && chown console /data/models
USER console

EXPOSE 8000
CMD ["daphne", "-b", "0.0.0.0", "-p", "8000", "console.asgi:application"]
