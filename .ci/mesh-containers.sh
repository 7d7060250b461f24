#!/usr/bin/env bash
# The mesh in containers (tests/mesh_in_containers.rs) and science in a container image
# (tests/container_science_in_the_mesh.rs), ignored in a plain `cargo test` because they
# need docker and root: installs docker.io, docker-compose and debootstrap when missing, starts
# dockerd when none answers (and stops it again afterwards), then runs those tests. Needs python3
# with imap-data-access and boto3 (the venv .ci/python-venv.sh makes, first on PATH) and pip (moto's wheels for the dev S3
# image). Run as root.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v docker >/dev/null 2>&1 || ! command -v debootstrap >/dev/null 2>&1 \
    || ! { command -v docker-compose >/dev/null 2>&1 || docker compose version >/dev/null 2>&1; }; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io docker-compose debootstrap >/dev/null
fi

dockerd_pid=
stop_dockerd() {
    if [ -n "$dockerd_pid" ]; then
        kill "$dockerd_pid" 2>/dev/null || true
        wait "$dockerd_pid" 2>/dev/null || true
    fi
}
trap stop_dockerd EXIT
if ! docker info >/dev/null 2>&1; then
    log=$(mktemp /tmp/imap-sdc-dockerd.XXXXXX.log)
    dockerd >"$log" 2>&1 </dev/null &
    dockerd_pid=$!
    for _ in $(seq 1 60); do
        docker info >/dev/null 2>&1 && break
        sleep 1
    done
    if ! docker info >/dev/null 2>&1; then
        echo "dockerd did not start:" >&2
        tail -n 20 "$log" >&2
        exit 1
    fi
fi

# --ignored runs just the container tests, one at a time (two meshes at once crowd two cores);
# --nocapture shows their timings.
cargo test --test mesh_in_containers -- --ignored --nocapture --test-threads=1
cargo test --test container_science_in_the_mesh -- --ignored --nocapture
