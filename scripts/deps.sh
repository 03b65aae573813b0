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

# Debian packages, by what needs them.
PKGS=(
	"linux-source-$KERNEL_SERIES"                     # the kernel we build
	make flex bison bc cpio kmod xz-utils libelf-dev libssl-dev python3
	clang lld llvm libclang-dev                      # LLVM=1 build, bindgen
	qemu-system-x86 udev                             # guest runner (udev: virtio-ports links)
	iproute2 libnl-utils python3-pyroute2 python3-venv  # the clients under test
	busybox                                          # guest helpers (nc, timeout)
	librsvg2-bin                                     # make run: the timeline as PNG too
	rsync                                            # kselftest lib.mk install (make check)
	gcc patch pkg-config dpkg-dev                    # tc with our q_plug.c patch (scripts/iproute2.sh)
)
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
missing=()
for p in "${PKGS[@]}"; do
	[ -n "$(installed_version "$p")" ] || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	apt_update
	log "installing Debian packages: ${missing[*]}"
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
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

# bindgen-cli, pinned, under the cache (Debian's 0.60 is below 6.12's minimum).
if ! [ -x "$BINDGEN" ] || ! "$BINDGEN" --version | grep -F "$BINDGEN_VERSION" >/dev/null; then
	command -v cargo >/dev/null || die "cargo is needed to build bindgen-cli $BINDGEN_VERSION"
	log "building bindgen-cli $BINDGEN_VERSION into $CACHE/tools (~2 min)"
	cargo install --quiet --locked --root "$CACHE/tools" bindgen-cli --version "$BINDGEN_VERSION"
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
