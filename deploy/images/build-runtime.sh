#!/usr/bin/env bash
# Packages a binary built outside docker into the runtime image (deploy/images/runtime.Dockerfile),
# on the locally made base by default, without compiling anything in docker.
#
#   deploy/images/build-runtime.sh BINARY [IMAGE] [BASE]
#   e.g. cargo build --release && deploy/images/build-runtime.sh target/release/imap-sdc imap-sdc:latest
#
# IMAGE defaults to imap-sdc:latest, BASE to imap-sdc-base:bookworm (deploy/images/build-base.sh).
set -euo pipefail

binary=${1:?usage: build-runtime.sh BINARY [IMAGE] [BASE]}
image=${2:-imap-sdc:latest}
base=${3:-imap-sdc-base:bookworm}
here=$(cd "$(dirname "$0")" && pwd)

[ -x "$binary" ] || { echo "build-runtime.sh: $binary is not an executable (cargo build first)" >&2; exit 1; }
context=$(mktemp -d /tmp/imap-sdc-runtime.XXXXXX)
trap 'rm -rf "$context"' EXIT
# The context is the binary alone: nothing else of the checkout goes into the image.
ln "$binary" "$context/imap-sdc" 2>/dev/null || cp "$binary" "$context/imap-sdc"
docker build --quiet --build-arg "BASE=$base" -f "$here/runtime.Dockerfile" -t "$image" "$context" >/dev/null
echo "$image built from $binary on $base ($(docker image inspect --format '{{.Size}}' "$image" | numfmt --to=iec))"
