#!/usr/bin/env bash
# Build iproute2's `tc` with our q_plug.c printer patch (iproute2/*.patch)
# from Debian's source of the installed iproute2, into the cache. Prints the
# path of the patched tc. Idempotent: rebuilt only when the patch or the
# installed iproute2 version changes.
#
# Debian source packages need a deb-src entry: if apt has none for this
# release, one is added (/etc/apt/sources.list.d/sch-plug-src.sources).
. "$(dirname "$0")/lib.sh"
ver=$(dpkg-query -W -f '${Version}' iproute2) || die "iproute2 is not installed"
key=$(cat "$TOP"/iproute2/*.patch | sha1sum | cut -c1-12)
dir=$CACHE/iproute2/$ver-$key
if [ -x "$dir/tc" ]; then
	echo "$dir/tc"
	exit 0
fi
sudo_() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
src=$CACHE/iproute2/src-$ver
if ! [ -d "$src" ]; then
	if ! apt-get source --print-uris -q iproute2="$ver" >/dev/null 2>&1; then
		codename=$(. /etc/os-release && echo "$VERSION_CODENAME")
		log "adding a deb-src entry for $codename (Debian source packages)"
		sudo_ tee /etc/apt/sources.list.d/sch-plug-src.sources >/dev/null <<-EOS
			Types: deb-src
			URIs: http://deb.debian.org/debian
			Suites: $codename
			Components: main
			Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
		EOS
		sudo_ apt-get update -q >&2
	fi
	command -v dpkg-source >/dev/null || sudo_ apt-get install -y -q dpkg-dev >&2
	log "fetching Debian's iproute2 $ver source"
	tmp=$(mktemp -d "$CACHE/iproute2.XXXXXX")
	(cd "$tmp" && apt-get source -q iproute2="$ver" >&2)
	mkdir -p "$CACHE/iproute2"
	mv "$tmp"/iproute2-*/ "$src"
	rm -rf "$tmp"
fi
log "building tc from iproute2 $ver with $(ls "$TOP"/iproute2/*.patch | xargs -n1 basename)"
build=$(mktemp -d "$CACHE/iproute2-build.XXXXXX")
cp -a "$src/." "$build/"
for p in "$TOP"/iproute2/*.patch; do patch -s -p1 -d "$build" <"$p"; done
(cd "$build" && ./configure >&2 && make -s -j"$(nproc)" SUBDIRS="lib tc" >&2)
mkdir -p "$dir"
cp "$build/tc/tc" "$dir/tc"
rm -rf "$build"
echo "$dir/tc"
