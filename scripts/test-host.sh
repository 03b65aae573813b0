#!/usr/bin/env bash
# Host-side tests: the epoch engine (epoch.rs) compiled for the host.
. "$(dirname "$0")/lib.sh"
export CARGO_TARGET_DIR=$CACHE/host-target
cd "$TOP/tests/host"
cargo test --quiet "$@"
