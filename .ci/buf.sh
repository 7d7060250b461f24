#!/usr/bin/env bash
# Hygiene of the gRPC contracts (proto/proto/imap/sdc/v1): `buf lint` with the STANDARD rules, then
# `buf breaking` (FILE rules) against the contracts at the commit named in proto/buf-baseline, the
# last landed contracts. While that file says `none` there is nothing to compare with and the
# breaking check is skipped with a message. Installs the pinned buf from npm when it is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

BUF_VERSION=1.75.0
BUF_PREFIX=${BUF_PREFIX:-/opt/buf}
buf="$BUF_PREFIX/node_modules/.bin/buf"
if [ ! -x "$buf" ] || [ "$("$buf" --version)" != "$BUF_VERSION" ]; then
    npm install --silent --no-fund --no-audit --prefix "$BUF_PREFIX" "@bufbuild/buf@$BUF_VERSION"
fi

"$buf" lint proto
echo "buf lint: clean"

baseline=$(tr -d '[:space:]' < proto/buf-baseline)
if [ "$baseline" = none ]; then
    echo "buf breaking: skipped, proto/buf-baseline says none (set it to the commit of the last landed contracts)"
    exit 0
fi
# In a git worktree .git is a file; the object store lives in the common git directory.
git_dir=$(git rev-parse --git-common-dir)
commit=$(git rev-parse --verify "$baseline^{commit}")
"$buf" breaking proto --against "$git_dir#ref=$commit,subdir=proto"
echo "buf breaking: no breaking change against $baseline"
