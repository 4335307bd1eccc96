# syntax=docker/dockerfile:1
FROM python:3.11-slim-bookworm AS build

ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/sanctionwatch
ENV PATH=/opt/sanctionwatch/bin:$PATH
WORKDIR /src
COPY pyproject.toml README.md ./
COPY daemon ./daemon
COPY alembic ./alembic
RUN pip install . && pip check


FROM python:3.11-slim-bookworm

RUN useradd --system --uid 10001 --user-group --home-dir /data --no-create-home sanctionwatch \
    && mkdir -p /data /etc/sanctionwatch \
    && chown sanctionwatch:sanctionwatch /data
COPY --from=build /opt/sanctionwatch /opt/sanctionwatch
COPY rules /etc/sanctionwatch/rules
COPY feeds.yaml /etc/sanctionwatch/feeds.yaml

ENV PATH=/opt/sanctionwatch/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    SANCTIONWATCH_DATABASE_URL=sqlite:////data/sanctionwatch.db \
    SANCTIONWATCH_RULES=/etc/sanctionwatch/rules \
    SANCTIONWATCH_FEEDS=/etc/sanctionwatch/feeds.yaml \
    SANCTIONWATCH_HTTP_PORT=8080 \
    SANCTIONWATCH_LOG_FORMAT=json

USER 10001:10001
WORKDIR /data
VOLUME ["/data"]
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('SANCTIONWATCH_HTTP_PORT', '8080'), timeout=4)"]
ENTRYPOINT ["sanctionwatch"]
CMD ["run"]
