# syntax=docker/dockerfile:1
# Deployment image: dependencies from the lock file in a build stage, a slim non-root runtime
# that applies the migrations and then serves (`python -m app.cli serve`: uvicorn, with a drain
# on SIGTERM — readiness 503 for APP_SERVER__DRAIN_SECONDS, then requests in flight finish within
# APP_SERVER__GRACEFUL_TIMEOUT_SECONDS). Give the container longer than both to stop
# (`docker stop --time 40`, Kubernetes `terminationGracePeriodSeconds: 40`): Docker's default
# of 10 s would kill it mid-drain.

FROM python:3.11-slim AS build
ENV UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy UV_PROJECT_ENVIRONMENT=/opt/venv
RUN pip install --no-cache-dir uv==0.13.8
WORKDIR /src
COPY pyproject.toml uv.lock README.md ./
# The project runs from its source folder (app.migrations finds alembic.ini beside app/),
# so only its dependencies go into the environment.
RUN uv sync --frozen --no-dev --no-install-project
COPY app ./app
COPY migrations ./migrations
COPY alembic.ini ./

FROM python:3.11-slim AS runtime
RUN groupadd --system app && useradd --system --gid app --home-dir /srv app
COPY --from=build /opt/venv /opt/venv
COPY --from=build /src /srv
WORKDIR /srv
ENV PATH=/opt/venv/bin:$PATH PYTHONUNBUFFERED=1 APP_ENV=production PORT=8000
USER app
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s CMD python -c "import urllib.request,os; urllib.request.urlopen(f'http://127.0.0.1:{os.environ[\"PORT\"]}/health/live')"
STOPSIGNAL SIGTERM
CMD ["sh", "-c", "python -m app.cli migrate && exec python -m app.cli serve --host 0.0.0.0 --port ${PORT}"]
