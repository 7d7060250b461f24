#!/usr/bin/env bash
# Creates (or completes) the venv with the pinned Python tools in .ci/requirements.txt and prints
# its bin folder. Idempotent: a venv that already satisfies the pins is left alone.
set -euo pipefail
cd "$(dirname "$0")"
venv="${IMAP_SDC_VENV:-/opt/imap-sdc-venv}"
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
stamp="$venv/.requirements.sha256"
wanted=$(sha256sum requirements.txt | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$wanted" ]; then
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r requirements.txt >&2
    echo "$wanted" > "$stamp"
fi
echo "$venv/bin"
