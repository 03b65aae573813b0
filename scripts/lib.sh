# Shared settings for the project's scripts. Sourced, not executed.
#
# Everything built or downloaded lives under $SCH_PLUG_CACHE (default
# ~/.cache/sch-plug), never inside the repository, so that a clean clone
# reuses kernels built by an earlier run.

set -euo pipefail

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE=${SCH_PLUG_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/sch-plug}
# The Rust toolchain the kernel is built with: Debian's rustc-web, never the
# rustup one on PATH (it has no rust-src, and its version is not pinned).
RUSTC=${RUSTC:-/usr/bin/rustc}
RUSTDOC=${RUSTDOC:-/usr/bin/rustdoc}
RUSTFMT=${RUSTFMT:-/usr/bin/rustfmt}
CLIPPY_DRIVER=${CLIPPY_DRIVER:-/usr/bin/clippy-driver}
VNG_VERSION=1.42
VENV=$CACHE/venv
# The kernel line: KERNEL=6.12|7.3 (the Makefile exports it; default 6.12).
#   6.12  Debian 12's linux-source-6.12, built with the machine's default
#         LLVM (clang 14): KLLVM=1, KCLANG=clang; cache dirs <flavour>-<key>.
#   7.3   linux-source-7.3 of trixie-backports, fetched into the cache with a
#         private apt sources list (scripts/deps.sh; nothing of the machine's
#         apt setup changes), built with the Debian 12 LLVM whose major is
#         rustc's own (22 for rustc-web 1.95: clang-22, lld-22, llvm-22), so
#         that Kconfig's RUSTC_CLANG_LLVM_COMPATIBLE holds and
#         CONFIG_RUST_INLINE_HELPERS (kernel/7.3.config) can link C helpers
#         as LLVM bitcode into Rust objects (7.3 needs LLVM >= 17):
#         KLLVM=-22, KCLANG=clang-22; cache dirs 7.3-<flavour>-<key>.
# KLLVM is what every kernel or module make gets as LLVM=.
KERNEL=${KERNEL:-6.12}
# The LLVM major version rustc was built with (22 for rustc-web 1.95). Before
# scripts/deps.sh has installed rustc: 22, and deps.sh asks again after.
rustc_llvm_major() {
	local v=
	[ ! -x "$RUSTC" ] || v=$("$RUSTC" --version --verbose | sed -n 's/^LLVM version: \([0-9]*\).*/\1/p')
	echo "${v:-22}"
}
# bindgen-cli, pinned per line and installed under the cache: 0.71.1 for
# 6.12 (Debian's 0.60 is below its minimum); 0.72.1 for 7.3, because LLVM 22
# no longer reports elaborated types and older bindgen then silently turns
# every struct declared before its definition into an opaque byte
# (rust-bindgen #3264, fixed in 0.72.1).
KERNEL_SERIES=$KERNEL
case $KERNEL in
6.12) KLLVM=1 LLVM_SUFFIX= KCLANG=clang KDIR_PREFIX=
	BINDGEN_VERSION=0.71.1 BINDGEN_ROOT=$CACHE/tools ;;
7.3)
	LLVM_SUFFIX=-$(rustc_llvm_major)
	KLLVM=$LLVM_SUFFIX KCLANG=clang$LLVM_SUFFIX KDIR_PREFIX=7.3-
	BINDGEN_VERSION=0.72.1 BINDGEN_ROOT=$CACHE/tools/bindgen-0.72.1 ;;
# debian: Debian's own kernel of trixie-backports, linux-image-7.3.x+deb13-amd64,
# unmodified: nothing of it is built here but the Rust metadata its headers
# package lacks, reproduced from its linux-source-7.3 and config with the
# compilers its config names (GCC 14, rustc 1.85.1, bindgen 0.71.1) in a
# trixie root; the module is built in that root too (scripts/debian.sh).
debian) KLLVM= LLVM_SUFFIX= KCLANG= KDIR_PREFIX=debian- KERNEL_SERIES=7.3
	BINDGEN_VERSION=0.71.1 BINDGEN_ROOT=/usr ;;
*) printf 'error: unknown KERNEL %s (have: 6.12, 7.3, debian)\n' "$KERNEL" >&2; exit 1 ;;
esac
export KERNEL
BINDGEN=${BINDGEN:-$BINDGEN_ROOT/bin/bindgen}
# bindgen (clang-sys) loads the newest libclang it finds unless told: pin it
# to the line's LLVM, so that installing LLVM 22 for 7.3 changes nothing on
# 6.12 (which has always loaded the default LLVM's, 14). (The trixie root
# of KERNEL=debian has one libclang, and none of this environment.)
if [ "$KERNEL" != debian ] && [ -z "${LIBCLANG_PATH:-}" ] &&
	libclang_dir=$(llvm-config$LLVM_SUFFIX --libdir 2>/dev/null); then
	export LIBCLANG_PATH=$libclang_dir
fi
# 7.3's source package, unpacked from its .deb by scripts/deps.sh:
# $KPKG/<version>/usr/src/linux-source-7.3.tar.xz, $KPKG/version.
KPKG=$CACHE/pkg/linux-source-$KERNEL_SERIES

# The id of this checkout in the cache (a hash of its path): two clones
# building or checking at once never share a directory there.
CHECKOUT=$(printf %s "$TOP" | sha1sum | cut -c1-12)

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# Version of the line's Debian linux-source: the installed package (6.12),
# or the one deps.sh unpacked into the cache (7.3).
kernel_src_version() {
	if [ "$KERNEL" = 6.12 ]; then
		dpkg-query -W -f='${Version}' "linux-source-$KERNEL_SERIES" 2>/dev/null
	else
		cat "$KPKG/version" 2>/dev/null
	fi
}

# The source tarball of that version.
kernel_src_tarball() {
	if [ "$KERNEL" = 6.12 ]; then
		echo "/usr/src/linux-source-$KERNEL_SERIES.tar.xz"
	else
		echo "$KPKG/$(kernel_src_version)/usr/src/linux-source-$KERNEL_SERIES.tar.xz"
	fi
}

# kernel_src_unpack: unpack the line's source once per Debian package
# version (the 7.3 and debian lines share it); print its directory.
kernel_src_unpack() {
	local ver src
	ver=$(kernel_src_version) || die "linux-source-$KERNEL_SERIES is not installed: run scripts/deps.sh"
	src=$CACHE/src/$ver/linux-source-$KERNEL_SERIES
	if ! [ -f "$src/.sch-plug-unpacked" ]; then
		mkdir -p "$CACHE/src"
		(
			flock 9
			if ! [ -f "$src/.sch-plug-unpacked" ]; then
				log "unpacking linux-source-$KERNEL_SERIES $ver"
				rm -rf "$CACHE/src/$ver"
				mkdir -p "$CACHE/src/$ver"
				tar -C "$CACHE/src/$ver" -xf "$(kernel_src_tarball)"
				touch "$src/.sch-plug-unpacked"
			fi
		) 9>"$CACHE/src/.lock"
	fi
	echo "$src"
}

# tree_built <dir>: the kernel tree was built to the end (its stamp,
# .sch-plug-built, written last by kernel.sh and debian.sh).
tree_built() { [ -f "$1/.sch-plug-built" ]; }

# reuse_tree <dir> <what>: a kernel tree built before (tree_built): say
# so, print it, and end the script. Called before taking the build lock
# and again once it is held (another build may have finished the same
# tree meanwhile).
reuse_tree() {
	tree_built "$1" || return 0
	log "$2: cached in $1"
	echo "$1"
	exit 0
}

# Cache key of a kernel flavour: source version, config fragments, toolchain.
kernel_key() {
	local flavour=$1
	{
		kernel_src_version
		kernel_fragments "$flavour" | xargs cat
		"$RUSTC" --version
		"$KCLANG" --version | head -n1
		"$BINDGEN" --version
	} | sha256sum | cut -c1-16
}

# The config fragments of a flavour on this line, in merge order: the base,
# the flavour, and the line's own (kernel/7.3.config: options 6.12 lacks).
kernel_fragments() {
	printf '%s\n' "$TOP/kernel/base.config" "$TOP/kernel/$1.config"
	[ ! -f "$TOP/kernel/$KERNEL.config" ] || echo "$TOP/kernel/$KERNEL.config"
}

kernel_build_dir() {
	echo "$CACHE/kernels/$KDIR_PREFIX$1-$(kernel_key "$1")"
}

# The compiled in-guest test tools (tests/tools: plugfuzz, plugstress), one
# cargo target directory per checkout, as for the host tests.
tools_dir() {
	echo "$CACHE/tools-target/$CHECKOUT/release"
}

# ksft_install <kernel build dir>: install tests/ as the collection
# net/sch_plug of a kselftest install (what tools/testing/selftests'
# `make install` lays out: run_kselftest.sh, kselftest/, the collection's
# files, kselftest-list.txt), with the kernel's lib.mk. One per checkout, in
# the cache; prints its path. The guest runs it (tests/run-suite.sh).
ksft_install() {
	local ksft dir inst
	ksft=$(readlink -f "$1/source")/tools/testing/selftests
	# Per checkout and per line: make check runs the two lines at once, and
	# lib.mk builds the test device (tests/mqhold) in the tree it installs
	# from, so each line installs from its own copy of tests/.
	dir=$CACHE/ksft/$CHECKOUT-$KERNEL
	inst=$dir/inst
	rm -rf "$dir"
	mkdir -p "$inst" "$dir/src/scripts"
	rsync -a --exclude=host/ --exclude=tools/ --exclude=__pycache__/ --exclude='*.o' --exclude='*.ko' \
		--exclude='*.mod' --exclude='*.mod.c' --exclude='.*.cmd' --exclude=Module.symvers \
		--exclude=modules.order "$TOP/tests" "$dir/src/"
	cp "$TOP/scripts/timeline.py" "$dir/src/scripts/"
	cp -r "$ksft/kselftest" "$ksft/run_kselftest.sh" "$inst/"
	# On Debian's kernel, without the test device (tests/mqhold, of
	# t-multiqueue only, which that part does not run: a module for it
	# would be built in the trixie root), and with t-package listed.
	local mods=()
	[ "$KERNEL" != debian ] || mods=(TEST_GEN_MODS_DIR=)
	make -s --no-print-directory -C "$dir/src/tests" KSFT_DIR="$ksft" \
		KDIR="$1" LLVM="$KLLVM" INSTALL_PATH="$inst/net/sch_plug" "${mods[@]}" install >&2
	make -s --no-print-directory -C "$dir/src/tests" KSFT_DIR="$ksft" \
		COLLECTION=net/sch_plug emit_tests >"$inst/kselftest-list.txt"
	[ "$KERNEL" != debian ] || echo net/sch_plug:t-package.sh >>"$inst/kselftest-list.txt"
	echo "$inst"
}

# ksft_count <log> [expected tests]: "passed failed" of a run_kselftest.sh
# log: each test's own results (nested under "# "). Counted as failures
# besides its "not ok" results: a skipped result ("ok ... # SKIP": the check
# did not run; in our guest every prerequisite is there); a test that
# failed, timed out or was skipped without reporting a failed result of its
# own (one failure); a test that passed with fewer results than its plan
# (one failure); and, with [expected tests], each test that never reported
# a top-level result (a guest killed by its timeout loses the rest).
ksft_count() {
	awk -v want="${2:-0}" '
		/^# selftests: / { nf = 0; got = 0; plan = 0 }
		/^# +1\.\.[0-9]+/ { sub(/^# +1\.\./, ""); plan += $1 + 0 }
		/^# +ok [0-9]+ .*# *SKIP/ { f++; nf++; got++; next }
		/^# +ok [0-9]+ / { p++; got++ }
		/^# +not ok [0-9]+ / { f++; nf++; got++ }
		/^not ok [0-9]+ selftests: / { tests++; if (nf == 0) f++ }
		/^ok [0-9]+ selftests: .*# *SKIP/ { tests++; f++; next }
		/^ok [0-9]+ selftests: / { tests++; if (got < plan) f++ }
		END {
			if (want > tests) f += want - tests
			print p + 0, f + 0
		}' "$1"
}
# ksft_reported <log>: how many tests reported a top-level result.
ksft_reported() { grep -cE '^(not )?ok [0-9]+ selftests: ' "$1" || true; }

# --- KERNEL=debian -----------------------------------------------------------
# Debian's packages of one kernel (the version of its linux-source-7.3),
# unpacked by scripts/deps.sh into $DEB_PKG/<version>: headers/ (the
# linux-headers packages: .config, Module.symvers), image/usr/lib/modules/<abi>
# (linux-binary and linux-modules: vmlinuz and the .ko.xz files, as
# installed), c/sch_plug.ko (Debian's C module, uncompressed), busybox
# (busybox-static's binary, for virtme-ng's initramfs);
# $DEB_PKG/version and $DEB_PKG/<version>/abi name them.
DEB_PKG=$CACHE/pkg/debian-$KERNEL_SERIES
# The machine's Debian mirror (its bookworm entry), from which trixie and
# trixie-backports are fetched (deps.sh, debian.sh).
debian_mirror() {
	local m
	m=$(apt-get indextargets --format '$(REPO_URI) $(RELEASE)' | awk '$2 == "bookworm" { print $1; exit }')
	[ -n "$m" ] || die "no bookworm entry in the machine's apt sources: cannot tell which Debian mirror to fetch trixie from"
	echo "$m"
}
debian_dir() { echo "$DEB_PKG/$(cat "$DEB_PKG/version" 2>/dev/null)"; }
debian_abi() { cat "$(debian_dir)/abi" 2>/dev/null; }
debian_headers() { echo "$(debian_dir)/headers/usr/src/linux-headers-$(debian_abi)"; }
debian_moddir() { echo "$(debian_dir)/image/usr/lib/modules/$(debian_abi)"; }
# What the trixie root holds: Debian's compilers of the kernel (its config
# names GCC 14, rustc 1.85.1, bindgen 0.71.1; scripts/debian.sh checks) and
# what a module build runs.
DEB_ROOT_PKGS=rustc,rust-src,bindgen,libclang-dev,gcc-14,make,bc,flex,bison,libelf-dev,libssl-dev,openssl,python3,cpio,kmod,xz-utils,dwarves,binutils,libc6-dev
debian_root() { echo "$CACHE/debian/trixie-$(printf %s "$DEB_ROOT_PKGS" | sha256sum | cut -c1-12)"; }
# in_debian_root <command...>: run it in the trixie root, in a mount
# namespace of its own (proc, dev, and the cache at its own path, so that
# every path under the cache means the same inside and out), in the current
# directory if it is under the cache (else in /), with a clean environment.
in_debian_root() {
	local dir=/
	case $PWD/ in "$CACHE"/*) dir=$PWD ;; esac
	unshare --mount --propagation private -- /bin/sh -c '
		root=$1 cache=$2 dir=$3
		shift 3
		mkdir -p "$root$cache" "$root/proc" "$root/dev"
		mount -t proc proc "$root/proc" && mount --rbind /dev "$root/dev" &&
			mount --bind "$cache" "$root$cache" &&
			exec chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
				HOME=/root LANG=C.UTF-8 /bin/sh -c '"'"'cd "$0" && exec "$@"'"'"' "$dir" "$@"
	' sh "$(debian_root)" "$CACHE" "$dir" "$@"
}
# debian_config <OPTION>: the value of a string option of Debian's config.
debian_config() { sed -n "s/^$1=\"\(.*\)\"\$/\1/p" "$(debian_headers)/.config"; }
# debian_cc: the compiler of Debian's build, the first word of its
# CONFIG_CC_VERSION_TEXT (x86_64-linux-gnu-gcc-14; Debian's headers package
# sets the same in .kernelvariables).
debian_cc() { local cc; cc=$(debian_config CONFIG_CC_VERSION_TEXT); echo "${cc%% *}"; }
# debian_make <args...>: make in the trixie root with that compiler. Run
# from a directory under the cache.
debian_make() {
	local gcc
	gcc=$(debian_cc)
	in_debian_root make ARCH=x86 CROSS_COMPILE="${gcc%gcc-*}" CC="$gcc" "$@"
}
