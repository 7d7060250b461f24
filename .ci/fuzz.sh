#!/usr/bin/env bash
# Runs every cargo-fuzz target for a bounded time and fails on the first crash, leak, timeout or
# out-of-memory. The corpus in fuzz/corpus/ (not versioned) grows between runs; it is seeded from
# fuzz/seeds/, the project's own graph files and XTCE definitions, and the real level-0 files in
# $IMAP_SHARED_DIR/data when present. A crash is left in fuzz/artifacts/<target>/: turn it into a
# unit test of the crate it broke, then fix it.
#
#   FUZZ_SECONDS=45 (per target)   FUZZ_TARGETS="filename cdf_read" (default: all)
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${FUZZ_SECONDS:-45}"
read -r -a targets <<<"${FUZZ_TARGETS:-filename xtce_packets cdf_read graph_toml mission_yaml}"
shared_data="${IMAP_SHARED_DIR:-/work/shared}/data"

if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked
fi

seed() {
    local target=$1
    local corpus="fuzz/corpus/$target"
    mkdir -p "$corpus"
    cp -n fuzz/seeds/"$target"/* "$corpus"/ 2>/dev/null || true
    case "$target" in
    graph_toml) cp -n depsvc/src/graph/mission_graph.toml "$corpus/mission_graph.toml" ;;
    mission_yaml) cp -n depsvc/src/graph/mission_dependencies/*.yaml "$corpus"/ ;;
    xtce_packets)
        # The first byte picks the definition (0 swapi, 1 mag, 2 codice, 3 swe); the first 4 KiB of
        # each real file keep inputs small enough to mutate quickly.
        local selector=0
        for stem in imap_swapi_l0_raw_20240924_v001 mag_l0_test_data imap_codice_l0_hskp_20100101_v001; do
            local real="$shared_data/l0/$stem.pkts"
            if [[ -f "$real" && ! -f "$corpus/real-$stem" ]]; then
                { printf "\\x0$selector"; head -c 4096 "$real"; } >"$corpus/real-$stem"
            fi
            selector=$((selector + 1))
        done
        ;;
    esac
}

for target in "${targets[@]}"; do
    seed "$target"
    # The graph targets need depsvc (and so tonic and sqlx): a feature, so the others build fast.
    features=()
    if [[ $target == graph_toml || $target == mission_yaml ]]; then
        features=(--features graph)
    fi
    echo "fuzzing $target for ${seconds}s"
    log="fuzz/artifacts/$target.log"
    mkdir -p fuzz/artifacts
    status=0
    cargo +nightly fuzz run --fuzz-dir fuzz "${features[@]}" "$target" "fuzz/corpus/$target" -- \
        -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 >"$log" 2>&1 || status=$?
    grep -E "^(#[0-9]+ +DONE|stat::number_of_executed_units|stat::average_exec_per_sec|stat::peak_rss_mb)" "$log" || true
    if [[ $status -ne 0 ]]; then
        tail -n 40 "$log" >&2
    fi
    if [[ $status -ne 0 ]]; then
        echo "fuzz target $target failed (exit $status); the input is in fuzz/artifacts/$target/" >&2
        exit 1
    fi
done
echo "all fuzz targets ran ${seconds}s without a crash"
