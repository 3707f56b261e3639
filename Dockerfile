# syntax=docker/dockerfile:1
# epbot: build a wheel and a virtual environment in one stage, run from a clean slim image.
ARG PYTHON_IMAGE=python:3.11-slim

# --- build: the wheel, then a venv holding it and its dependencies -----------------------
FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY epbot ./epbot
COPY handlers ./handlers
RUN python -m pip wheel --no-deps --wheel-dir /wheels . \
 && python -m venv /venv \
 && /venv/bin/pip install /wheels/epbot-*.whl \
 && /venv/bin/pip uninstall --yes pip

# --- runtime: no compilers, no pip, no source tree; a non-root user; the PDF's libraries --
FROM ${PYTHON_IMAGE} AS runtime
ENV PATH=/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    EPBOT_HOST=0.0.0.0 \
    EPBOT_PORT=3000 \
    EPBOT_LOG_FORMAT=json \
    EPBOT_DATABASE_URL=sqlite+aiosqlite:////app/data/epbot.db \
    EPBOT_PLAYBOOKS_DIR=/app/playbooks \
    EPBOT_MATRIX=/app/playbooks/matrix.yaml \
    EPBOT_MIGRATIONS_DIR=/app/migrations
# PDF reports (issue 17, docs/reports.md): WeasyPrint's Pango and a CJK font to embed. Debian's
# runtime packages, without recommends, lists removed: dpkg keeps track of them, so image
# scanners see these libraries and their updates (copying .so files from another stage would
# hide them). Nothing else comes from apt here (tests/ops/test_container_files.py).
RUN apt-get update \
 && apt-get install --yes --no-install-recommends \
      libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-wqy-microhei \
 && rm -rf /var/lib/apt/lists/*
RUN groupadd --system --gid 10001 epbot \
 && useradd --system --uid 10001 --gid epbot --home-dir /app --shell /usr/sbin/nologin epbot
COPY --from=build /venv /venv
WORKDIR /app
# Code and data are root-owned and read-only to the bot; only /app/data (SQLite) is writable.
COPY migrations ./migrations
COPY playbooks ./playbooks
RUN mkdir /app/data && chown epbot:epbot /app/data
VOLUME ["/app/data"]
USER epbot
EXPOSE 3000
# slim has no curl: ask /healthz with the standard library; any non-2xx or error fails.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD python -c "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('EPBOT_PORT', '3000'), timeout=4)"
STOPSIGNAL SIGTERM
# `epbot serve` checks the configuration, the playbooks and the database, applies the
# migrations, then serves (HTTP mode, or Socket Mode when SLACK_APP_TOKEN is set).
CMD ["epbot", "serve"]
