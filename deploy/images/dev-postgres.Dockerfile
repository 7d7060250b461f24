# PostgreSQL 15 from Debian for local meshes and the container tests: trust authentication from
# anywhere on its network, so never for production (use a managed or properly secured server there).
# Build context: deploy/images. Data lives in the container (throwaway).
ARG BASE=imap-sdc-base:bookworm
FROM ${BASE}
# A fixed uid (999, as elsewhere) so Kubernetes can check runAsNonRoot against a number.
RUN groupadd --system --gid 999 postgres \
    && useradd --system --uid 999 --gid 999 --home-dir /var/lib/postgresql --shell /bin/bash postgres \
    && mkdir -p /etc/postgresql-common/createcluster.d \
    && echo 'create_main_cluster = false' >/etc/postgresql-common/createcluster.d/no-main-cluster.conf \
    && apt-get update && apt-get install -y --no-install-recommends postgresql-15 \
    && rm -rf /var/lib/apt/lists/*
ENV PATH=/usr/lib/postgresql/15/bin:$PATH PGDATA=/var/lib/postgresql/data
USER 999:999
RUN initdb --auth=trust --username=postgres --encoding=UTF8 --locale=C.UTF-8 \
    && echo 'host all all all trust' >>"$PGDATA/pg_hba.conf"
EXPOSE 5432
HEALTHCHECK --interval=5s --timeout=3s CMD ["pg_isready", "-h", "127.0.0.1", "-q"]
CMD ["postgres", "-c", "listen_addresses=*"]
