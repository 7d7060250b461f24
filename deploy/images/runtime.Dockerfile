# The runtime stage of deploy/Dockerfile for a binary built outside docker (keep the two the same):
# the build context is a directory holding only `imap-sdc`. deploy/images/build-runtime.sh uses it.
ARG BASE=imap-sdc-base:bookworm
FROM ${BASE}
RUN if [ ! -e /etc/ssl/certs/ca-certificates.crt ]; then \
        apt-get update && apt-get install -y --no-install-recommends ca-certificates && rm -rf /var/lib/apt/lists/*; \
    fi \
    && groupadd --system --gid 10001 imap-sdc \
    && useradd --system --uid 10001 --gid 10001 --home-dir /var/lib/imap-sdc --shell /usr/sbin/nologin imap-sdc \
    && install -d -o 10001 -g 10001 /var/lib/imap-sdc
COPY imap-sdc /usr/local/bin/imap-sdc
USER 10001:10001
WORKDIR /var/lib/imap-sdc
ENV IMAP_SDC_LISTEN=0.0.0.0:8480 IMAP_SDC_DATA_DIR=/var/lib/imap-sdc
EXPOSE 8480 8481
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 CMD ["/usr/local/bin/imap-sdc", "health"]
ENTRYPOINT ["/usr/local/bin/imap-sdc"]
CMD ["serve", "--roles", "all"]
