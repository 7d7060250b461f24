#!/usr/bin/env bash
# Makes the two helper images of local meshes and the container tests, on the local base:
#   imap-sdc-dev-postgres:bookworm  Debian's PostgreSQL 15, trust authentication (dev-postgres.Dockerfile)
#   imap-sdc-dev-s3:moto-5.2.1      moto's S3 server (dev-s3.Dockerfile)
# Neither is for production. Idempotent: an image made by the same recipe (a label holds the hash
# of this script and the files it builds from) is kept. moto's wheels are downloaded with the host's
# pip (python3 -m pip, 3.11 wheels for the image's python) and installed offline in the image.
#
#   deploy/images/build-dev-images.sh [BASE]      (default imap-sdc-base:bookworm)
set -euo pipefail

base=${1:-imap-sdc-base:bookworm}
here=$(cd "$(dirname "$0")" && pwd)

up_to_date() { # IMAGE RECIPE
    [ "$(docker image inspect --format '{{ index .Config.Labels "org.imap-sdc.recipe" }}' "$1" 2>/dev/null)" = "$2" ]
}
recipe_of() { # FILES...: the hash of this script, the files and the base image's id
    { cat "$0" "$@"; docker image inspect --format '{{.Id}}' "$base"; } | sha256sum | cut -c1-16
}

image=imap-sdc-dev-postgres:bookworm
recipe=$(recipe_of "$here/dev-postgres.Dockerfile")
if up_to_date "$image" "$recipe"; then
    echo "$image is up to date"
else
    docker build --quiet --build-arg "BASE=$base" --label "org.imap-sdc.recipe=$recipe" \
        -f "$here/dev-postgres.Dockerfile" -t "$image" "$here" >/dev/null
    echo "$image built"
fi

image=imap-sdc-dev-s3:moto-5.2.1
recipe=$(recipe_of "$here/dev-s3.Dockerfile" "$here/dev-s3-serve.py")
if up_to_date "$image" "$recipe"; then
    echo "$image is up to date"
else
    context=$(mktemp -d /tmp/imap-sdc-dev-s3.XXXXXX)
    trap 'rm -rf "$context"' EXIT
    cp "$here/dev-s3.Dockerfile" "$here/dev-s3-serve.py" "$context/"
    python3 -m pip download --quiet --disable-pip-version-check --dest "$context/wheels" --only-binary=:all: \
        --implementation cp --python-version 3.11 \
        --platform manylinux2014_x86_64 --platform manylinux_2_28_x86_64 --platform any \
        'moto[server]==5.2.1'
    docker build --quiet --build-arg "BASE=$base" --label "org.imap-sdc.recipe=$recipe" \
        -f "$context/dev-s3.Dockerfile" -t "$image" "$context" >/dev/null
    echo "$image built"
fi
