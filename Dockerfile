# The boltproxy image: `docker build -t boltproxy .`; run by the files in compose/.
# The base is pinned to a patch release so a rebuild gets the same interpreter;
# bump it deliberately (tests/unit/test_compose_files.py checks it stays pinned).
FROM python:3.11.13-slim-bookworm

# No .pyc files in the image layers, logs straight to `docker logs`.
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1

WORKDIR /src
# Only what the package needs, so tests and local state stay out of the image.
COPY pyproject.toml README.md ./
COPY boltproxy ./boltproxy
RUN pip install . && rm -rf /src \
    && useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin boltproxy

WORKDIR /
# A fixed, unprivileged user: the proxy needs no root, its ports are above 1024.
USER 10001
EXPOSE 7687 7688
# The admin listener's /healthz answers 200 while the primary backend is usable.
HEALTHCHECK --interval=10s --timeout=5s --start-period=10s --retries=6 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:7688/healthz', timeout=3)"]
ENTRYPOINT ["boltproxy"]
CMD ["serve", "--config", "/etc/boltproxy/boltproxy.toml"]
