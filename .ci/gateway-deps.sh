#!/usr/bin/env bash
# What the gateway's end-to-end tests need: the mission's own client (imap-data-access 1.3.0, from
# PyPI), a local S3 server for the S3 archive test (moto, from PyPI) and headless Chromium (Debian)
# for the page screenshot. Idempotent: a no-op when present.
set -euo pipefail

if ! python3 -c 'import imap_data_access, sys; sys.exit(imap_data_access.__version__ != "1.3.0")' 2>/dev/null; then
    python3 -m pip install --quiet --disable-pip-version-check imap-data-access==1.3.0
fi

if ! python3 -c 'import moto.server, boto3' 2>/dev/null; then
    python3 -m pip install --quiet --disable-pip-version-check 'moto[server]==5.2.1'
fi

if ! command -v chromium >/dev/null 2>&1 || ! dpkg -s fonts-dejavu-core >/dev/null 2>&1; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-dejavu-core >/dev/null
fi
