#!/usr/bin/env bash
# `make deb`: a Debian package of sch_plug.ko for the kernel of one line,
# made with dpkg-deb. Prints the path of the .deb (in the checkout's top
# directory).
#
#   KERNEL=debian scripts/deb.sh        for Debian's linux-image-<abi>
#   [KERNEL=6.12|7.3] scripts/deb.sh [flavour]   for one of our kernels
#
# The package, sch-plug-modules-<kernel release>, installs the module as
# /usr/lib/modules/<release>/updates/sch_plug.ko. depmod ranks updates/
# above the kernel's own tree (kmod's default search order, "updates
# built-in", which Debian keeps: it ships no depmod.d search line), so
# `modprobe sch_plug`, and `tc qdisc add ... plug` through it, load ours
# instead of the kernel's C module while the package is installed; its
# postinst and postrm run depmod, so removing it brings the C module back.
# Debian strips its modules' debug information; so does this.
. "$(dirname "$0")/lib.sh"
flavour=${1:-debug}
ko=$("$TOP/scripts/build-module.sh" "$flavour")
kdir=$("$TOP/scripts/kernel.sh" --dir "$flavour")
release=$(cat "$kdir/include/config/kernel.release")
# Debian's version rules: a snapshot of this checkout, by date and commit.
if stamp=$(git -C "$TOP" log -1 --format='%cd.%h' --date=format:%Y%m%d 2>/dev/null); then
	git -C "$TOP" diff --quiet HEAD 2>/dev/null || stamp=$stamp.dirty
else
	stamp=$(date +%Y%m%d)
fi
version=0~git$stamp
pkg=sch-plug-modules-$release
deb=$TOP/${pkg}_${version}_amd64.deb

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
install -d "$stage/DEBIAN" "$stage/usr/lib/modules/$release/updates" "$stage/usr/share/doc/$pkg"
objcopy --strip-debug "$ko" "$stage/usr/lib/modules/$release/updates/sch_plug.ko"
chmod 0644 "$stage/usr/lib/modules/$release/updates/sch_plug.ko"
gzip -9n <"$TOP/README.md" >"$stage/usr/share/doc/$pkg/README.md.gz"
cat >"$stage/DEBIAN/control" <<EOF
Package: $pkg
Version: $version
Architecture: amd64
Maintainer: sch_plug-rs developers <sch-plug-rs@localhost>
Section: kernel
Priority: optional
Depends: kmod
Enhances: linux-image-$release
Installed-Size: $(du -sk "$stage/usr" | cut -f1)
Description: plug qdisc in Rust (sch_plug) for Linux $release
 The plug queueing discipline, which holds packets until told to release
 them (Xen Remus output commit, live migration, zero-downtime reloads),
 written in Rust on the kernel's Rust support. It keeps the netlink ABI of
 the kernel's C sch_plug, so tc, libnl and pyroute2 drive it unchanged,
 and holds output commit where the C module leaks packets.
 .
 Installed in updates/, it takes precedence over the kernel's C sch_plug:
 "tc qdisc add ... plug" loads this one. Removing the package brings the C
 module back. The module is out of tree and unsigned: loading it taints
 the kernel with O and E.
EOF
for script in postinst postrm; do
	cat >"$stage/DEBIAN/$script" <<EOF
#!/bin/sh
set -e
# The module index of $release, without ours or with it.
if [ -d /usr/lib/modules/$release ] || [ -d /lib/modules/$release ]; then
	depmod -a $release
fi
EOF
	chmod 0755 "$stage/DEBIAN/$script"
done
dpkg-deb --root-owner-group -Zxz --build "$stage" "$deb" >&2
echo "$deb"
