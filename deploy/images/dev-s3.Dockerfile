# An S3-compatible store (moto, as the S3 tests use) for local meshes and the container tests:
# in-memory, any credentials accepted, so never for production. Built by build-dev-images.sh, whose
# context holds moto's wheels downloaded on the host (the host's pip reaches PyPI; a container may not).
#   docker run -p 127.0.0.1::5000 imap-sdc-dev-s3 BUCKET...   (creates the buckets, then serves)
ARG BASE=imap-sdc-base:bookworm
FROM ${BASE}
RUN apt-get update && apt-get install -y --no-install-recommends python3 python3-venv \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10002 moto
COPY wheels /tmp/wheels
RUN python3 -m venv /opt/moto \
    && /opt/moto/bin/pip install --no-cache-dir --disable-pip-version-check --no-index --find-links /tmp/wheels 'moto[server]==5.2.1' \
    && rm -rf /tmp/wheels
COPY dev-s3-serve.py /opt/moto/serve.py
USER moto
EXPOSE 5000
HEALTHCHECK --interval=5s --timeout=3s CMD ["/opt/moto/bin/python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:5000/moto-api/')"]
ENTRYPOINT ["/opt/moto/bin/python", "/opt/moto/serve.py"]
