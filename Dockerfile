# syntax=docker/dockerfile:1
# trackway in a container (README "Container"): the data folder is the /data volume,
# the server runs as an unprivileged user on 8080 (HTTP), 8443 (HTTPS) and 8081 (admin).
#   docker build -t trackway .
#   docker run -d --name trackway -v trackway-data:/data \
#     -p 80:8080 -p 443:8443 -p 127.0.0.1:8081:8081 trackway

# Build stage: trackway's wheel and the wheels of everything it needs.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md LICENSE ./
COPY config ./config
COPY redirector ./redirector
COPY certs ./certs
COPY proxy ./proxy
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

# Final stage: the wheels installed (from the build stage only, no index), no sources,
# no build tools, no pip cache.
FROM python:3.11-slim
# A fixed uid and gid, so that a bind-mounted data folder can be given to it
# (chown 10001:10001, chmod 0700).
RUN groupadd --system --gid 10001 trackway \
    && useradd --system --uid 10001 --gid trackway --home-dir /data --no-create-home \
        --shell /usr/sbin/nologin trackway \
    && install -d -m 0700 -o trackway -g trackway /data
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    pip install --no-cache-dir --no-index --find-links=/wheels /wheels/trackway-*.whl

# Settings as variables (TRACKWAY_<SECTION>_<KEY>), so that `docker exec trackway
# trackway …` finds the same data folder and `-e` changes one. Ports above 1023: no
# root and no capability needed; the host publishes them as 80 and 443. The admin
# listener binds every address of the container so that the host can reach it
# (publish it on the host's loopback only): /api/* and /ui/ need the admin token, but
# /metrics and /healthz do not, and any container on the same network reaches it.
ENV TRACKWAY_DATA=/data \
    TRACKWAY_SERVER_HTTP=0.0.0.0:8080 \
    TRACKWAY_SERVER_HTTPS=0.0.0.0:8443 \
    TRACKWAY_SERVER_ADMIN=0.0.0.0:8081 \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1

USER 10001:10001
WORKDIR /data
VOLUME /data
# Not the admin's 8081: `docker run -P` would publish it on every host address.
EXPOSE 8080 8443
# The public listener's /healthz, answered by the workers that serve clicks, on the
# port TRACKWAY_SERVER_HTTP names (no proxy: it is this container's own loopback).
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request as u; port = os.environ.get('TRACKWAY_SERVER_HTTP', ':8080').rpartition(':')[2]; u.build_opener(u.ProxyHandler({})).open(f'http://127.0.0.1:{port}/healthz', timeout=4)"]
STOPSIGNAL SIGTERM
CMD ["trackway", "serve"]
