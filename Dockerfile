# trackway in a container: the data folder is a volume, secrets stay in it.
#   docker build -t trackway .
#   docker run -v trackway-data:/data -p 80:80 -p 443:443 trackway
FROM python:3.11-slim

WORKDIR /app
COPY pyproject.toml README.md ./
COPY config ./config
COPY redirector ./redirector
COPY proxy ./proxy
COPY certs ./certs
RUN pip install --no-cache-dir . && useradd --system --home /data trackway \
    && mkdir -p /data && chown trackway /data && chmod 0700 /data

USER trackway
VOLUME /data
EXPOSE 80 443
# Docker (20.10+) lets unprivileged processes bind ports below 1024 in a container
# (net.ipv4.ip_unprivileged_port_start=0); elsewhere, map other ports.
ENV TRACKWAY_DATA=/data
CMD ["trackway", "serve", "--http", "0.0.0.0:80", "--https", "0.0.0.0:443", "--admin", "127.0.0.1:8081"]
