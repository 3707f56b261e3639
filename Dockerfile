# syntax=docker/dockerfile:1
FROM python:3.11-slim AS build
WORKDIR /app
COPY pyproject.toml README.md ./
COPY epbot ./epbot
COPY handlers ./handlers
RUN python -m venv /venv && /venv/bin/pip install --no-cache-dir .

FROM python:3.11-slim
RUN useradd --create-home --uid 10001 epbot
COPY --from=build /venv /venv
WORKDIR /app
COPY migrations ./migrations
COPY playbooks ./playbooks
USER epbot
ENV PATH=/venv/bin:$PATH EPBOT_HOST=0.0.0.0
EXPOSE 3000
CMD ["epbot", "serve"]
