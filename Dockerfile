# posture-profile service: the README's steps (`make setup`, then `posture serve`) in an image.
#
#   docker build -t posture-profile .
#   docker run -d --name posture -p 8000:8000 -v posture-data:/data posture-profile
#   docker exec posture .venv/bin/posture users create NAME      # prints the API key on its last line
#
# The pose model ships in models/ and is copied with the source: nothing is downloaded at run time.
# Data (SQLite database, photos, overlays) lives in the /data volume; set POSTURE_DATABASE_URL to use
# PostgreSQL instead (docs/api.md).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    GLOG_minloglevel=2 \
    TF_CPP_MIN_LOG_LEVEL=2 \
    POSTURE_DATA_DIR=/data

# make: the README's commands; libegl1, libgles2: libraries MediaPipe's native code links against.
RUN apt-get update \
    && apt-get install -y --no-install-recommends make libegl1 libgles2 \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY . .
RUN make setup

# Run as an unprivileged user that owns only the data volume.
RUN useradd --system --uid 10001 --home-dir /data --create-home posture
USER posture
VOLUME ["/data"]
EXPOSE 8000

HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD [".venv/bin/python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/api/v1/health', timeout=4)"]

CMD [".venv/bin/posture", "serve", "--host", "0.0.0.0", "--port", "8000"]
