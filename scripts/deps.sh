#!/usr/bin/env bash
# Install what building and testing the module needs, and nothing twice.
#
#   scripts/deps.sh          install what is missing; says so when nothing is
#
# Debian packages come from apt (the machine runs as root in CI; sudo is used
# otherwise). The Rust compiler is Debian's rustc-web with the rust-web-src of
# the same version (the kernel needs the core sources of exactly the compiler
# it builds with). bindgen-cli is pinned and installed under the project cache,
# virtme-ng lives in a venv there too.
. "$(dirname "$0")/lib.sh"

SUDO=
[ "$(id -u)" = 0 ] || SUDO=sudo

# One at a time: make check runs this for its other lines at once, and two
# apt-get runs (the machine's dpkg lock, or the private lists of
# trixie-backports) would fail each other.
mkdir -p "$CACHE"
exec 7>"$CACHE/.deps.lock"
flock 7

# Debian packages, by what needs them.
PKGS=(
	make flex bison bc cpio kmod xz-utils libelf-dev libssl-dev python3
	clang lld llvm libclang-dev                      # LLVM=1 build, bindgen
	qemu-system-x86 udev                             # guest runner (udev: virtio-ports links)
	iproute2 libnl-utils python3-pyroute2 python3-venv  # the clients under test
	busybox                                          # guest helpers (nc, timeout)
	ethtool                                          # the kernel's tdc (7.x checks for it at start)
	librsvg2-bin                                     # make run: the timeline as PNG too
	rsync                                            # kselftest lib.mk install (make check)
	gcc patch pkg-config dpkg-dev                    # tc with our q_plug.c patch (scripts/iproute2.sh)
)
case $KERNEL in
6.12) PKGS+=("linux-source-$KERNEL_SERIES") ;;     # the kernel we build
# 7.3's source comes from trixie-backports, and its LLVM (rustc's) is
# installed after rustc, below.
7.3) ;;
# Debian's kernel: the same source, its image packages (below), and the
# trixie root with Debian's compilers (scripts/debian.sh, by mmdebstrap).
debian) PKGS+=(mmdebstrap) ;;
esac
RUST_PKGS=(rustc-web rust-web-src rust-web-clippy rustfmt-web)

apt_updated=
apt_update() {
	[ -n "$apt_updated" ] && return
	log "apt-get update"
	$SUDO apt-get update -qq
	apt_updated=1
}

installed_version() { dpkg-query -W -f='${db:Status-Abbrev} ${Version}' "$1" 2>/dev/null | awk '$1=="ii"{print $2}'; }

did=0
# install_missing <package...>: apt-get install those not installed.
install_missing() {
	local p missing=()
	for p in "$@"; do
		[ -n "$(installed_version "$p")" ] || missing+=("$p")
	done
	[ ${#missing[@]} -gt 0 ] || return 0
	apt_update
	log "installing Debian packages: ${missing[*]}"
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
	did=1
}
install_missing "${PKGS[@]}"

# 7.3: Debian's linux-source-7.3 from trixie-backports, without touching the
# machine's apt setup: a private sources list (on the mirror the machine
# already uses for bookworm), private lists and archives under the cache,
# `apt-get download` and `dpkg-deb -x` into $KPKG/<version>. No package of
# the machine is installed, upgraded or pinned, and a later `apt-get upgrade`
# never sees trixie. The version (part of the kernel's cache key) is written
# last, to $KPKG/version; once it is there nothing is fetched again (remove
# $KPKG to take a newer upload).
apt=$CACHE/apt/trixie-backports
aptp=(-o Dir::Etc::SourceList="$apt/sources.list" -o Dir::Etc::SourceParts="$apt/parts"
	-o Dir::State::Lists="$apt/lists" -o Dir::Cache="$apt/cache"
	-o APT::Sandbox::User=root -o Acquire::Languages=none -qq)
private_apt_updated=
private_apt_update() {
	[ -n "$private_apt_updated" ] && return
	mkdir -p "$apt/lists/partial" "$apt/cache/archives/partial" "$apt/parts"
	printf 'deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] %s trixie-backports main\n' \
		"$(debian_mirror)" >"$apt/sources.list"
	log "fetching the trixie-backports package list (private to $apt)"
	apt-get "${aptp[@]}" update
	private_apt_updated=1
}
if [ "$KERNEL_SERIES" = 7.3 ] && ! [ -f "$(kernel_src_tarball)" ]; then
	mkdir -p "$KPKG"
	private_apt_update
	ver=$(apt-cache "${aptp[@]}" show "linux-source-$KERNEL_SERIES" | awk '/^Version:/ { print $2; exit }')
	[ -n "$ver" ] || die "trixie-backports has no linux-source-$KERNEL_SERIES"
	log "downloading linux-source-$KERNEL_SERIES $ver (about 170 MB) into $KPKG"
	rm -rf "$KPKG/$ver" "$KPKG/version"
	mkdir -p "$KPKG/$ver"
	(cd "$apt/cache/archives" && apt-get "${aptp[@]}" download "linux-source-$KERNEL_SERIES=$ver")
	deb=$(ls "$apt/cache/archives/linux-source-${KERNEL_SERIES}_"*.deb)
	dpkg-deb -x "$deb" "$KPKG/$ver"
	rm -f "$deb"
	[ -f "$KPKG/$ver/usr/src/linux-source-$KERNEL_SERIES.tar.xz" ] ||
		die "linux-source-$KERNEL_SERIES $ver has no usr/src/linux-source-$KERNEL_SERIES.tar.xz"
	echo "$ver" >"$KPKG/version"
	did=1
fi

# KERNEL=debian: Debian's kernel of that same source version, as packaged:
# its headers (.config, Module.symvers), its image and modules (booted as
# they are), and the machine's busybox-static for virtme-ng's initramfs
# (its 9p and virtio drivers are modules; the package conflicts with the
# busybox installed above, so only its binary is taken). Unpacked, never
# installed; $DEB_PKG/version last.
if [ "$KERNEL" = debian ] && [ "$(cat "$DEB_PKG/version" 2>/dev/null)" != "$(kernel_src_version)" ]; then
	ver=$(kernel_src_version)
	private_apt_update
	apt_update
	# The ABI name (7.3.4+deb13-amd64) of the amd64 image built from it.
	abi=$(apt-cache "${aptp[@]}" search --names-only '^linux-binary-[0-9.]+\+deb[0-9]+-amd64$' | awk '{ print $1 }' |
		while read -r p; do
			if apt-cache "${aptp[@]}" show "$p" | grep -qxF "Version: $ver"; then echo "${p#linux-binary-}"; fi
		done | sed -n 1p)
	[ -n "$abi" ] || die "trixie-backports has no linux-binary-*-amd64 of version $ver (the version of linux-source-$KERNEL_SERIES)"
	dir=$DEB_PKG/$ver
	log "downloading Debian's kernel $abi ($ver: headers, image, modules; about 135 MB) into $dir"
	rm -rf "$dir" "$DEB_PKG/version"
	mkdir -p "$dir/headers" "$dir/image" "$dir/c"
	pkgs=("linux-headers-$abi=$ver" "linux-headers-${abi%-amd64}-common=$ver" "linux-base-$abi=$ver"
		"linux-binary-$abi=$ver" "linux-modules-$abi=$ver")
	(cd "$apt/cache/archives" && rm -f ./*.deb && apt-get "${aptp[@]}" download "${pkgs[@]}" &&
		apt-get -qq -o APT::Sandbox::User=root download busybox-static)
	for p in "$apt"/cache/archives/linux-headers-*.deb; do dpkg-deb -x "$p" "$dir/headers"; done
	for p in "$apt"/cache/archives/linux-{base,binary,modules}-*.deb; do dpkg-deb -x "$p" "$dir/image"; done
	dpkg-deb -x "$apt"/cache/archives/busybox-static_*.deb "$dir/busybox-static"
	mv "$(find "$dir/busybox-static" -path '*/bin/busybox' -type f | sed -n 1p)" "$dir/busybox"
	rm -rf "$dir/busybox-static"
	rm -f "$apt"/cache/archives/*.deb
	moddir=$dir/image/usr/lib/modules/$abi
	[ -f "$moddir/vmlinuz" ] && [ -f "$dir/headers/usr/src/linux-headers-$abi/Module.symvers" ] ||
		die "Debian's packages of $abi lack vmlinuz or Module.symvers: $dir"
	# modules.dep, as the package's postinst would make it (virtme-ng
	# reads it to build the initramfs; the guest's modprobe too).
	depmod -b "$dir/image/usr" "$abi"
	# Debian's C sch_plug, uncompressed: the tests read its build ID.
	xz -dc "$moddir/kernel/net/sched/sch_plug.ko.xz" >"$dir/c/sch_plug.ko"
	echo "$abi" >"$dir/abi"
	echo "$ver" >"$DEB_PKG/version"
	did=1
fi

# rustc-web and its companions must be one version. Accept an installed
# matching set; otherwise install the newest version that all four share
# (1.85 and 1.96 are both known to build 6.12, see TOOLCHAIN.md).
rust_ok() {
	local v
	v=$(installed_version rustc-web)
	[ -n "$v" ] || return 1
	for p in "${RUST_PKGS[@]}"; do
		[ "$(installed_version "$p")" = "$v" ] || return 1
	done
}
if ! rust_ok; then
	apt_update
	versions() { apt-cache madison "$1" | awk '{print $3}'; }
	pick=
	for v in $(versions rustc-web); do
		ok=1
		for p in "${RUST_PKGS[@]}"; do
			versions "$p" | grep -qxF "$v" || ok=
		done
		if [ -n "$ok" ]; then pick=$v; break; fi
	done
	[ -n "$pick" ] || die "no version of rustc-web is available together with rust-web-src, rust-web-clippy and rustfmt-web of the same version; apt-cache madison rustc-web rust-web-src shows what the archive has"
	log "installing Rust toolchain $pick (${RUST_PKGS[*]})"
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends --allow-downgrades \
		$(for p in "${RUST_PKGS[@]}"; do echo "$p=$pick"; done) >/dev/null
	did=1
fi

# 7.3 is built with the LLVM of rustc's own major version (22 for rustc-web
# 1.95; lib.sh), not Debian 12's default 14: 7.3 needs LLVM >= 17, and
# CONFIG_RUST_INLINE_HELPERS needs clang and rustc on one LLVM.
if [ "$KERNEL" = 7.3 ]; then
	LLVM_SUFFIX=-$(rustc_llvm_major)
	install_missing "clang$LLVM_SUFFIX" "lld$LLVM_SUFFIX" "llvm$LLVM_SUFFIX" "libclang1$LLVM_SUFFIX"
fi

# bindgen-cli, pinned per line (lib.sh), under the cache. (KERNEL=debian:
# Debian's bindgen, in the trixie root; scripts/debian.sh.)
if [ "$KERNEL" != debian ] && { ! [ -x "$BINDGEN" ] || ! "$BINDGEN" --version | grep -F "$BINDGEN_VERSION" >/dev/null; }; then
	command -v cargo >/dev/null || die "cargo is needed to build bindgen-cli $BINDGEN_VERSION"
	log "building bindgen-cli $BINDGEN_VERSION into $BINDGEN_ROOT (~2 min)"
	cargo install --quiet --locked --root "$BINDGEN_ROOT" bindgen-cli --version "$BINDGEN_VERSION"
	did=1
fi

# virtme-ng in a venv made with Debian's python (the guest sees the host's /usr).
if ! [ -x "$VENV/bin/vng" ] || ! "$VENV/bin/pip" show virtme-ng 2>/dev/null | grep -x "Version: $VNG_VERSION" >/dev/null; then
	log "installing virtme-ng $VNG_VERSION into $VENV"
	/usr/bin/python3 -m venv "$VENV"
	"$VENV/bin/pip" install -q "virtme-ng==$VNG_VERSION"
	did=1
fi

# Debian 12's nl-qdisc-add looks for its plug module under libnl/cli, the
# package installs it under libnl-3/cli.
libdir=/usr/lib/x86_64-linux-gnu
if [ -d "$libdir/libnl-3/cli" ] && ! [ -e "$libdir/libnl/cli" ]; then
	log "linking $libdir/libnl -> libnl-3 (nl-qdisc-add module path)"
	$SUDO ln -s libnl-3 "$libdir/libnl"
	did=1
fi

[ "$did" = 1 ] || log "dependencies: everything already installed"
