#!/usr/bin/env bash
# Build (or reuse) a Rust-enabled kernel of one line and flavour.
#
#   [KERNEL=6.12|7.3] scripts/kernel.sh debug|perf    build if missing; print the build dir
#   [KERNEL=6.12|7.3] scripts/kernel.sh --dir debug   print the build dir, build nothing
#   KERNEL=debian scripts/kernel.sh [--dir]           Debian's kernel: scripts/debian.sh
#
# The kernel is Debian's linux-source-$KERNEL (6.12 by default; see lib.sh),
# configured as tinyconfig plus kernel/base.config plus
# kernel/<flavour>.config (plus kernel/$KERNEL.config where the line has one),
# and built with LLVM=$KLLVM (1 on 6.12, rustc's LLVM major, -22, on 7.3)
# and Debian's rustc-web into $CACHE/kernels/<flavour>-<key> (6.12) or
# $CACHE/kernels/7.3-<flavour>-<key>, where the key hashes the source
# version, both fragments and the toolchain versions. A build is reused until
# one of those changes. The tree also holds the C sch_plug.ko
# (CONFIG_NET_SCH_PLUG=m), the reference our module is compared with.
. "$(dirname "$0")/lib.sh"
# Debian's kernel is not built (one flavour, Debian's): its Rust crates are
# reproduced (debian.sh).
if [ "$KERNEL" = debian ]; then
	if [ "${1:-}" = --dir ]; then exec "$TOP/scripts/debian.sh" --dir; fi
	exec "$TOP/scripts/debian.sh"
fi

only_dir=
if [ "${1:-}" = --dir ]; then only_dir=1; shift; fi
flavour=${1:-debug}
[ -f "$TOP/kernel/$flavour.config" ] || die "unknown kernel flavour '$flavour' (have: debug, perf)"

ver=$(kernel_src_version) || die "linux-source-$KERNEL_SERIES is not installed: run scripts/deps.sh"
out=$(kernel_build_dir "$flavour")
if [ -n "$only_dir" ]; then echo "$out"; exit 0; fi
reuse_tree "$out" "kernel $KERNEL $flavour"
mkdir -p "$CACHE/kernels" "$CACHE/src"
exec 9>"$CACHE/kernels/.lock-$KDIR_PREFIX$flavour"
flock 9
reuse_tree "$out" "kernel $KERNEL $flavour"

src=$(kernel_src_unpack)

kmake() {
	make -C "$src" O="$out" LLVM="$KLLVM" RUSTC="$RUSTC" RUSTDOC="$RUSTDOC" \
		RUSTFMT="$RUSTFMT" BINDGEN="$BINDGEN" "$@"
}

rm -rf "$out"
mkdir -p "$out"
log "configuring $KERNEL $flavour kernel in $out"
kmake -s tinyconfig >/dev/null
mapfile -t fragments < <(kernel_fragments "$flavour")
"$src/scripts/kconfig/merge_config.sh" -m -O "$out" "$out/.config" "${fragments[@]}" >/dev/null
kmake -s olddefconfig >/dev/null
# merge_config warns but does not fail when Kconfig drops a requested option.
missing=$(grep -hE '^CONFIG_[A-Z0-9_]+=' "${fragments[@]}" |
	while read -r line; do grep -qxF "$line" "$out/.config" || echo "$line"; done)
[ -z "$missing" ] || die "Kconfig did not keep: $missing (is Rust available? try: make -C $src O=$out LLVM=$KLLVM RUSTC=$RUSTC BINDGEN=$BINDGEN rustavailable)"

jobs=$(($(nproc) + 1))
log "building $flavour kernel with -j$jobs (about 11 min for perf, 18 min for debug on 2 cores); log: $out/build.log"
start=$SECONDS
kmake -j"$jobs" bzImage modules >"$out/build.log" 2>&1 &
pid=$!
while kill -0 "$pid" 2>/dev/null; do
	sleep 30
	last=$(grep -E '^\s+(CC|RUSTC|LD|AR)' "$out/build.log" | tail -n1 | sed 's/^ *//')
	log "  ... $(( (SECONDS - start) / 60 ))m$(( (SECONDS - start) % 60 ))s: ${last:-starting}"
done
if ! wait "$pid"; then
	tail -n 30 "$out/build.log" >&2
	die "kernel build failed; full log: $out/build.log"
fi
touch "$out/.sch-plug-built"
log "kernel $KERNEL $flavour built in $(( (SECONDS - start) / 60 ))m$(( (SECONDS - start) % 60 ))s"
echo "$out"
