# The Vigil image: one image for every `vigil` command (worker, notify, topics, ingest, enrich).
#   docker build -t vigil .
#   docker run --rm -e VIGIL_PSEUDONYM_KEY=... -e VIGIL_KAFKA_BOOTSTRAP=kafka:9092 vigil          # the worker
#   docker run --rm ... vigil notify                                                              # the notifier
# The base is pinned to a patch release: bump it deliberately.
FROM python:3.11.13-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore

# A fixed uid so mounted volumes can be prepared on the host (chown 10001).
RUN groupadd --gid 10001 vigil \
    && useradd --uid 10001 --gid vigil --create-home --home-dir /home/vigil --shell /usr/sbin/nologin vigil

# Only what the wheel needs (pyproject reads README.md); see .dockerignore.
WORKDIR /src
COPY pyproject.toml README.md ./
COPY processors ./processors
COPY streams ./streams
RUN pip install . && rm -rf /src

USER vigil
WORKDIR /home/vigil
# Inside a container the metrics server must listen on all interfaces, or Prometheus cannot scrape
# it. The cache holds the compiled drug lexicon and the worker's state directory.
ENV VIGIL_WEB_HOST=0.0.0.0 \
    VIGIL_WEB_PORT=6066 \
    VIGIL_NOTIFIER_WEB_PORT=6067 \
    VIGIL_CACHE_DIR=/home/vigil/.cache/vigil

# Compile the drug lexicon now (~10 s), at the path the worker reads it from, so that workers start
# in seconds. Its file name carries a fingerprint of the curation files and build code installed
# above, so it is never stale for this image.
RUN python -c "from processors import load_lexicon; from streams.settings import load_settings; \
load_lexicon(load_settings().cache_dir / 'lexicon')"

# 6066: `vigil worker` (/metrics); 6067: `vigil notify` (/metrics).
EXPOSE 6066 6067

# For the worker (the default command); docker-compose.yml sets its own for the notifier and turns
# it off for one-shot commands. The slim image has no curl: Python asks.
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('VIGIL_WEB_PORT', '6066') + '/metrics', timeout=4)"]

ENTRYPOINT ["vigil"]
CMD ["worker"]
