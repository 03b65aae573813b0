#!/usr/bin/env bash
# Build sch_plug.ko (and the sample sch_rbfifo.ko beside it) against one of
# our cached kernels.
#
#   [KERNEL=6.12|7.3|debian] scripts/build-module.sh <flavour>   prints the path of sch_plug.ko
#
# The 6.12 debug kernel builds in the repository (what `make` does). Other
# flavours and the 7.3 and debian lines build from a copy of the sources under the cache
# ($CACHE/module/<checkout>-<flavour>, .../<checkout>-7.3-<flavour>), so
# that their objects never mix with the repository's build, nor with
# another checkout's. The copy takes only the files whose content changed,
# stamped with the time of the copy: make rebuilds what they feed, even
# when the source is older than the objects (a file edited before the last
# build of another tree; tar kept its time, and make kept stale objects).
. "$(dirname "$0")/lib.sh"
flavour=${1:-debug}
kdir=$("$TOP/scripts/kernel.sh" "$flavour")
if [ "$flavour" = debug ] && [ "$KERNEL" = 6.12 ]; then
	make -s -C "$TOP" module >&2
	echo "$TOP/sch_plug.ko"
	exit 0
fi
dst=$CACHE/module/$CHECKOUT-$KDIR_PREFIX$flavour
# Debian's kernel has one flavour, Debian's.
[ "$KERNEL" != debian ] || dst=$CACHE/module/$CHECKOUT-debian
mkdir -p "$dst"
(cd "$TOP" && rsync -rc --relative --exclude=doctests_generated.rs Kbuild module.rs sch_plug.rs epoch.rs qdisc \
	bindings/*.c bindings/*.h samples/*.rs samples/*.c scripts/bindgen.sh scripts/doctests.py "$dst/")
if [ "$KERNEL" = debian ]; then
	# With Debian's compilers, in the trixie root (debian.sh).
	(cd "$dst" && debian_make -s -C "$kdir" M="$dst" modules) >&2
else
	make -s -C "$kdir" M="$dst" LLVM="$KLLVM" RUSTC="$RUSTC" RUSTDOC="$RUSTDOC" BINDGEN="$BINDGEN" modules >&2
fi
echo "$dst/sch_plug.ko"
