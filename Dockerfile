# The boltproxy image: `docker build -t boltproxy .`, run by compose/docker-compose.yml.
FROM python:3.11-slim

# No .pyc files in the image layers, logs straight to `docker logs`.
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1

WORKDIR /src
# Only what the package needs, so tests and local state stay out of the image.
COPY pyproject.toml README.md ./
COPY boltproxy ./boltproxy
RUN pip install . && rm -rf /src

WORKDIR /
USER nobody
EXPOSE 7687 7688
ENTRYPOINT ["boltproxy"]
CMD ["serve", "--config", "/etc/boltproxy/boltproxy.toml"]
