# syntax=docker/dockerfile:1
# Base image: the tag, not a digest. A digest can only be read from the registry (this project's
# build machines cannot reach it), and one copied from elsewhere would be of unknown age. To pin,
# on a machine that can pull:
#   docker buildx imagetools inspect python:3.11-slim-bookworm   # "Digest: sha256:…" (the index)
#   docker build --build-arg PYTHON_IMAGE=python:3.11-slim-bookworm@sha256:<digest> -t visitor-analytics .
# or write the same into the ARG below; bump it by running the same command again (monthly, and on
# every Python or Debian security release), keeping the tag in front of the digest.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# Build stage: compile wheels (hiredis) with a toolchain that never reaches the final image.
FROM ${PYTHON_IMAGE} AS build
WORKDIR /src
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
# Dependencies first, read from pyproject.toml alone: a change to the code reuses this layer.
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > requirements.txt \
    && pip install --no-compile -r requirements.txt
# Then the package itself, without touching the dependencies installed above.
COPY README.md ./
COPY service ./service
RUN pip install --no-compile --no-deps . && find /opt/venv -name '__pycache__' -prune -exec rm -rf {} +

# Final stage: the virtual environment, a non-root user, gunicorn.
FROM ${PYTHON_IMAGE}
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PROMETHEUS_MULTIPROC_DIR=/tmp/va-metrics \
    JOURNAL_DIR=/var/lib/visitor-analytics/journal \
    PORT=8000
COPY --from=build /opt/venv /opt/venv
RUN useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin visitor \
    && mkdir -p /var/lib/visitor-analytics/journal \
    && chown -R 10001 /var/lib/visitor-analytics
# Hits buffered during a Redis outage are spilled here on shutdown and replayed at start.
VOLUME ["/var/lib/visitor-analytics"]
USER 10001
EXPOSE 8000
# No curl in the image: Python's own urllib asks /healthz.
HEALTHCHECK --interval=15s --timeout=3s --start-period=10s --retries=3 \
    CMD ["python", "-c", "import os,urllib.request;urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('PORT','8000'), timeout=2)"]
CMD ["gunicorn", "-c", "python:service.gunicorn_config", "service:create_app()"]
