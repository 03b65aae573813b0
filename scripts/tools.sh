#!/usr/bin/env bash
# Build the compiled in-guest test tools (tests/tools) with cargo on the
# host; the guest runs the host's binaries. Prints the directory holding them.
. "$(dirname "$0")/lib.sh"
dir=$(tools_dir)
export CARGO_TARGET_DIR=${dir%/release}
cargo build --quiet --release --manifest-path "$TOP/tests/tools/Cargo.toml" >&2
echo "$dir"
