# posture-profile service: the serving install of docs/api.md ("Install for serving") in an image,
#
#   python3 -m venv /opt/posture && /opt/posture/bin/pip install .      # no extras: no test tools, no Ray
#
# (the pose model is inside the package), run as an unprivileged user:
#
#   docker build -t posture-profile .
#   docker run -d --name posture -p 8000:8000 -v posture-data:/data posture-profile
#   docker exec posture posture users create NAME      # prints the API key on its last line
#
# Nothing is downloaded at run time (the API docs at /docs included). Data (SQLite database, photos,
# overlays) lives in the /data volume; set POSTURE_DATABASE_URL to use PostgreSQL instead (docs/api.md).

# Debian release pinned so that the system package names below stay right.
FROM python:3.11-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
# Only what the package build reads (.dockerignore keeps the rest out of the context).
COPY pyproject.toml README.md ./
COPY posture ./posture
COPY app ./app
# the pose model's licence, which the wheel carries as a licence file (pyproject.toml: license-files)
COPY models/LICENSE.mediapipe ./models/
RUN python -m venv /opt/posture && /opt/posture/bin/pip install .

FROM python:3.11-slim-bookworm

# Libraries the wheels link against without bundling them (from their ELF headers): libEGL, libGLESv2
# for MediaPipe; libGL and GLib for the opencv-contrib-python build that MediaPipe depends on.
RUN apt-get update \
    && apt-get install -y --no-install-recommends libegl1 libgles2 libgl1 libglib2.0-0 \
    && rm -rf /var/lib/apt/lists/*

COPY --from=build /opt/posture /opt/posture

ENV PATH=/opt/posture/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    GLOG_minloglevel=2 \
    TF_CPP_MIN_LOG_LEVEL=2 \
    POSTURE_DATA_DIR=/data

# The code is root-owned and read-only to the service; its user owns only the data volume.
RUN useradd --system --uid 10001 --home-dir /data --create-home posture
USER posture
WORKDIR /data
VOLUME ["/data"]
EXPOSE 8000

HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/api/v1/health', timeout=4)"]

CMD ["posture", "serve", "--host", "0.0.0.0", "--port", "8000"]
