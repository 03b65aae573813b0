#!/usr/bin/env bash
# KERNEL=debian: make Debian's own kernel buildable against, without building
# it. Debian's linux-headers package has no Rust metadata (no rust/*.rmeta,
# no libmacros.so): this reproduces it, as Debian's own build made it, in a
# tree prepared from Debian's linux-source with Debian's config.
#
#   KERNEL=debian scripts/debian.sh [--dir]    prepare if missing; print the tree
#
# 1. A trixie root ($CACHE/debian/trixie-<key>, mmdebstrap) with the
#    compilers Debian's config names (CONFIG_CC_VERSION_TEXT,
#    CONFIG_RUSTC_VERSION_TEXT, CONFIG_BINDGEN_VERSION_TEXT): trixie's
#    rustc needs trixie's libc, so it cannot run on this Debian 12 machine.
# 2. In it, linux-source-7.3 of the image's version configured with the
#    headers' .config (olddefconfig must change nothing: same compilers,
#    same options) and `make modules_prepare`, which builds the kernel's
#    Rust crates (core, kernel, pin_init, macros...) as a module needs them.
# 3. Debian's Module.symvers in place of ours, so that modpost checks the
#    module against the symbols Debian's kernel exports (and its vmlinux,
#    which holds only BTF, for the module's BTF), and a check that
#    the reproduced crates export exactly Debian's Rust symbols: a crate's
#    mangled names carry a hash of its name and the compiler, so a different
#    rustc shows up here, named, rather than as "undefined symbol" at modpost.
#
# The tree is $CACHE/kernels/debian-<key> (the key: the package version, the
# root's packages, Debian's config); `scripts/build-module.sh` builds the
# module against it, in the same root.
. "$(dirname "$0")/lib.sh"
export LC_ALL=C
[ "$KERNEL" = debian ] || die "scripts/debian.sh is for KERNEL=debian"

only_dir=
if [ "${1:-}" = --dir ]; then only_dir=1; shift; fi

ver=$(cat "$DEB_PKG/version" 2>/dev/null) || die "Debian's kernel packages are not fetched: run KERNEL=debian scripts/deps.sh"
abi=$(debian_abi)
headers=$(debian_headers)
root=$(debian_root)
key=$({ echo "$ver"; echo "$DEB_ROOT_PKGS"; cat "$headers/.config"; } | sha256sum | cut -c1-16)
out=$CACHE/kernels/debian-$key
if [ -n "$only_dir" ]; then echo "$out"; exit 0; fi
reuse_tree "$out" "Debian's $abi, prepared"
mkdir -p "$CACHE/kernels" "$CACHE/debian"
exec 9>"$CACHE/kernels/.lock-debian"
flock 9
reuse_tree "$out" "Debian's $abi, prepared"

if ! [ -f "$root/.sch-plug-ready" ]; then
	mirror=$(debian_mirror)
	log "making a trixie root with Debian's kernel compilers in $root (mmdebstrap, about a minute)"
	rm -rf "$root"
	mmdebstrap --quiet --variant=minbase --include="$DEB_ROOT_PKGS" trixie "$root" \
		"deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror trixie main" >&2
	touch "$root/.sch-plug-ready"
fi
# Debian's compilers, or stop: another rustc gives other crate hashes,
# another GCC or bindgen another config.
cc=$(debian_config CONFIG_CC_VERSION_TEXT)
rustc_text=$(debian_config CONFIG_RUSTC_VERSION_TEXT)
bindgen_text=$(debian_config CONFIG_BINDGEN_VERSION_TEXT)
have_cc=$(in_debian_root "$(debian_cc)" --version | sed -n 1p)
have_rustc=$(in_debian_root rustc --version)
have_bindgen=$(in_debian_root bindgen --version)
[ "$have_cc" = "$cc" ] && [ "$have_rustc" = "$rustc_text" ] && [ "$have_bindgen" = "$bindgen_text" ] ||
	die "the trixie root's compilers are not those of Debian's $abi: its config names '$cc', '$rustc_text', '$bindgen_text'; the root has '$have_cc', '$have_rustc', '$have_bindgen' (remove $root to make it again from today's trixie)"

src=$(kernel_src_unpack)
rm -rf "$out"
mkdir -p "$out"
cp "$headers/.config" "$out/.config"
kmake() { (cd "$out" && debian_make -C "$src" O="$out" KERNELRELEASE="$abi" "$@"); }
log "configuring linux-source-$KERNEL_SERIES $ver with Debian's config of $abi"
kmake -s olddefconfig >&2
if ! diff -u "$headers/.config" "$out/.config" >"$out/config.diff"; then
	cat "$out/config.diff" >&2
	die "Debian's config of $abi changes under olddefconfig in the trixie root (above): not the same compilers or tools"
fi
log "building the kernel's Rust crates as Debian's build made them (make modules_prepare, about 10 min); log: $out/build.log"
start=$SECONDS
if ! kmake -j"$(($(nproc) + 1))" modules_prepare >"$out/build.log" 2>&1; then
	tail -n 30 "$out/build.log" >&2
	die "modules_prepare failed; full log: $out/build.log"
fi
[ "$(cat "$out/include/config/kernel.release")" = "$abi" ] || die "the prepared tree's release is not $abi"
cp "$headers/Module.symvers" "$out/Module.symvers"
# The vmlinux Debian's headers ship (its BTF), from which a module's own
# BTF is made, as for Debian's modules.
cp "$headers/vmlinux" "$out/vmlinux"

# Every Rust symbol Debian's kernel exports is one our crates define, and
# each crate's hash is Debian's.
# (Each list read once: Debian's _R exports, the symbols our crates define.)
their_syms=$(awk '$2 ~ /^_R/ { print $2 }' "$headers/Module.symvers" | sort -u)
our_syms=$(cd "$out" && in_debian_root sh -c 'nm --defined-only rust/*.o' | awk '{ print $3 }' | sort -u)
hashes() { grep -oE 'Cs[0-9A-Za-z]+_[0-9]+[a-z_]+' | sed -E 's/^Cs([0-9A-Za-z]+)_[0-9]+([a-z_]+)$/\2 \1/' | sort -u; }
theirs=$(hashes <<<"$their_syms")
ours=$(hashes <<<"$our_syms")
bad=$(join -a1 <(echo "$theirs") <(echo "$ours") | awk 'NF != 3 || $2 != $3')
if [ -n "$bad" ]; then
	printf '%s\n' "crate   Debian's hash   ours" "$bad" >&2
	die "the Rust crates reproduced here are not Debian's (crate hashes above): built with '$have_rustc'"
fi
missing=$(comm -23 <(echo "$their_syms") <(echo "$our_syms"))
if [ -n "$missing" ]; then
	printf '%s\n' "$missing" | head -n 20 >&2
	die "$(printf '%s\n' "$missing" | wc -l) Rust symbols of Debian's Module.symvers are not in the reproduced crates (first 20 above)"
fi
log "Rust crates reproduced: $(echo "$theirs" | tr '\n' ' ')($(grep -c . <<<"$their_syms") exports, all defined) in $(( (SECONDS - start) / 60 ))m$(( (SECONDS - start) % 60 ))s"
touch "$out/.sch-plug-built"
echo "$out"
