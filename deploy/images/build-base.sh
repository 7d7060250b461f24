#!/usr/bin/env bash
# Makes the Debian bookworm base image locally, for machines that cannot pull from an image
# registry: debootstrap (minbase) into a scratch directory, slim it the way debian:bookworm-slim
# is slimmed, and `docker import` it.
#
#   deploy/images/build-base.sh [IMAGE]        (default imap-sdc-base:bookworm; needs root)
#
# Idempotent: when IMAGE exists and was made by this same recipe (a label holds the script's
# hash) nothing is done, so a changed recipe rebuilds it. The runtime needs only glibc, libgcc
# and CA certificates (S3 over TLS: rustls reads the system's roots); it uses no local time zone,
# so tzdata is left out. Packages are included at debootstrap time, so the image needs no
# network from inside a container. MIRROR overrides the Debian mirror.
set -euo pipefail

image=${1:-imap-sdc-base:bookworm}
mirror=${MIRROR:-http://deb.debian.org/debian}
packages=ca-certificates
recipe=$(sha256sum "$0" | cut -c1-16)

if [ "$(docker image inspect --format '{{ index .Config.Labels "org.imap-sdc.recipe" }}' "$image" 2>/dev/null)" = "$recipe" ]; then
    echo "$image is up to date (recipe $recipe)"
    exit 0
fi
for tool in debootstrap docker; do
    command -v "$tool" >/dev/null || { echo "build-base.sh: $tool is not installed (apt-get install debootstrap docker.io)" >&2; exit 1; }
done

rootfs=$(mktemp -d /tmp/imap-sdc-base.XXXXXX)
trap 'rm -rf "$rootfs"' EXIT
started=$(date +%s)
debootstrap --variant=minbase --include="$packages" bookworm "$rootfs" "$mirror" >"$rootfs.log" 2>&1 || {
    tail -n 30 "$rootfs.log" >&2
    exit 1
}
rm -f "$rootfs.log"

# What debian:bookworm-slim does: no daemons started by package scripts inside a container, no
# docs, man pages or translations installed later, no downloaded package files kept.
cat >"$rootfs/usr/sbin/policy-rc.d" <<'EOF'
#!/bin/sh
exit 101
EOF
chmod 0755 "$rootfs/usr/sbin/policy-rc.d"
cat >"$rootfs/etc/dpkg/dpkg.cfg.d/docker-slim" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-exclude /usr/share/lintian/*
EOF
cat >"$rootfs/etc/apt/apt.conf.d/docker-clean" <<'EOF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/*.bin || true"; };
APT::Install-Recommends "false";
Acquire::Languages "none";
EOF
find "$rootfs/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
find "$rootfs/usr/share/doc" -mindepth 1 -type d -empty -delete
rm -rf "$rootfs"/usr/share/{man,info,locale,lintian}/* "$rootfs"/var/cache/apt/archives/*.deb \
    "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/log/* "$rootfs"/tmp/*
# The container runtime provides these.
: >"$rootfs/etc/hostname"
: >"$rootfs/etc/resolv.conf"

tar --numeric-owner -C "$rootfs" -c . | docker import \
    --change 'CMD ["bash"]' \
    --change "LABEL org.imap-sdc.recipe=$recipe" \
    --change 'LABEL org.opencontainers.image.description="Debian bookworm minbase + ca-certificates, made by deploy/images/build-base.sh"' \
    - "$image" >/dev/null
echo "$image built in $(($(date +%s) - started)) s ($(docker image inspect --format '{{.Size}}' "$image" | numfmt --to=iec))"
