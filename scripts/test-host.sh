#!/usr/bin/env bash
# Host-side tests: the epoch engine (epoch.rs) compiled for the host.
. "$(dirname "$0")/lib.sh"
# One target directory per checkout: clones of the same package sharing one
# confuse cargo's freshness checks.
export CARGO_TARGET_DIR=$CACHE/host-target/$CHECKOUT
cd "$TOP/tests/host"
cargo test --quiet "$@"
