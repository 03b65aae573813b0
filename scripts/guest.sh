#!/usr/bin/env bash
# Boot a kernel of ours in QEMU and run one script inside it.
#
#   scripts/guest.sh [--timeout S] [--memory M] <flavour> <script> [args...]
#
# The guest runs the host's userspace (virtme-ng: the host root over 9p,
# writable overlays on /etc, /tmp, /usr), so the host's tc, ip, nl-*,
# python3 and pyroute2 are what the tests drive. QEMU runs under TCG:
# KVM hangs on these machines.
#
# Exit status: the script's, unless the guest kernel log shows a report
# (BUG, WARNING, Oops, KASAN, kmemleak, lockdep, RCU stall, hung task), then
# 1; or the guest did not
# finish within the timeout, then 124.
. "$(dirname "$0")/lib.sh"

timeout_s=1500
memory=2G
cpus=2
# TCG's "max" CPU (vng's choice) has LA57, so the kernel runs with 5-level
# paging. On 6.12, pgtable_l5_enabled() reads the boot CPU's capability
# words, which identify_cpu() clears and refills at boot; an interrupt in
# that window makes KASAN compute its shadow range for 4 levels and report
# a wild-memory-access in the IRQ path (seen once in a CI boot, at 0.0067 s,
# RIP in get_cpu_cap). Few machines have LA57; the guest does without it.
qemu_cpu="-cpu max,la57=off"
qemu_extra=
ko=$TOP/sch_plug.ko
while [ $# -gt 0 ]; do
	case $1 in
	--timeout) timeout_s=$2; shift 2 ;;
	--memory) memory=$2; shift 2 ;;
	--cpus) cpus=$2; shift 2 ;;
	--qemu-opts) qemu_extra=$2; shift 2 ;;
	--ko) ko=$2; shift 2 ;;
	*) break ;;
	esac
done
flavour=$1 script=$2
shift 2
kdir=${KDIR:-$("$TOP/scripts/kernel.sh" --dir "$flavour")}
tree_built "$kdir" || die "no $flavour kernel: run scripts/kernel.sh $flavour"
[ -f "$ko" ] || die "no $ko: run make"
image=$kdir/arch/x86/boot/bzImage
c_ko=$kdir/net/sched/sch_plug.ko
vng_opts=()
modules_setup=
if [ "$KERNEL" = debian ]; then
	# Debian's own vmlinuz and modules, as its packages install them
	# (deps.sh): virtme-ng finds the modules beside the image and builds
	# its initramfs (9p and virtio are modules there) with busybox-static.
	# The module tree and /var (dpkg's database) are writable overlays,
	# for t-package's dpkg -i; nothing reaches the host.
	image=$(debian_moddir)/vmlinuz
	c_ko=$(debian_dir)/c/sch_plug.ko
	vng_opts=(--busybox "$(debian_dir)/busybox" --overlay-rwdir "$(debian_moddir)" --overlay-rwdir /var)
	# virtme-ng links /lib/modules/<release> to the unpacked tree; make it
	# a directory (the tree, bound there), as on a machine with the kernel
	# installed: dpkg -r removes the directories of a package that it
	# finds without files, and would remove the link.
	modules_setup='m=/lib/modules/$(uname -r)
if [ -L "$m" ]; then src=$(readlink -f "$m"); rm "$m"; mkdir "$m"; mount --bind "$src" "$m"; fi'
fi

# Shared read-write with the guest; outside /tmp, which the guest overlays.
mkdir -p "$CACHE/guest"
out=$(mktemp -d "$CACHE/guest/run.XXXXXX")
# The progress log of the last run stays (last-progress.log): a guest killed
# by the timeout prints nothing else.
# What the script leaves in $GUEST_OUT/artifacts is handed back in
# $CACHE/guest/artifacts.
keep() {
	if [ -f "$out/progress.log" ]; then cp "$out/progress.log" "$CACHE/guest/last-progress.log"; fi
	if [ -d "$out/artifacts" ]; then
		rm -rf "$CACHE/guest/artifacts"
		mv "$out/artifacts" "$CACHE/guest/artifacts"
	fi
	rm -rf "$out"
}
trap keep EXIT

# Inside: run the script, then leave the kernel log and a leak scan where
# the host can read them (the only writable shared directory).
inner="$out/inner.sh"
cat >"$inner" <<EOS
#!/bin/bash
$(env | grep -E '^(RANDOM|BENCH|FUZZ|STRESS|LIFECYCLE|TEST|DEMO|KMEMLEAK|SCAN)_[A-Z_]+=' | sed -E "s/^([A-Z_]+)=(.*)/export \1='\2'/")
export TOP='$TOP' SCH_PLUG_KO='$ko' C_PLUG_KO='$c_ko' SCH_PLUG_DEB='${SCH_PLUG_DEB:-}'
export KDIR='$kdir' GUEST_OUT='$out' PLUG_TOOLS='$(tools_dir)' PLUG_TC='${PLUG_TC:-}'
export KSFT_DIR='$(readlink -f "$kdir/source")/tools/testing/selftests'
# kmemleak scans once at the end (below): its periodic scan would compete
# with the tests for the vCPUs every 10 minutes.
[ -w /sys/kernel/debug/kmemleak ] && echo scan=off >/sys/kernel/debug/kmemleak
# The boot's log apart: each test scans and clears the log at its exit
# (tests/lib.sh at_exit, appending it to dmesg-tests.txt), so that a report
# is tied to the test that caused it.
dmesg >'$out/dmesg-boot.txt'
dmesg -C
$modules_setup
cd '$TOP'
$(printf '%q ' "$script" "$@")
rc=\$?
if [ -w /sys/kernel/debug/kmemleak ]; then
	echo scan >/sys/kernel/debug/kmemleak
	echo scan >/sys/kernel/debug/kmemleak
	cat /sys/kernel/debug/kmemleak >'$out/kmemleak.txt'
fi
dmesg >'$out/dmesg.txt'
echo \$rc >'$out/rc'
EOS
chmod +x "$inner"

PATH=$VENV/bin:$PATH
# The host root is mounted read-only over 9p; virtme-ng mounts it uncached
# (cache=none), so every exec re-reads its binary and libraries from the
# host. Nothing on it changes while the guest runs (the shared run
# directory is a separate mount), so let the guest cache it: a later
# rootflags= wins over vng's. Measured in the debug guest: 2.0 s
# -> 1.0 s for `date; /bin/true; date`, tc 3.6 -> 1.3 s, python3 -c pass
# 3.3 -> 2.2 s (warm; scripts/guest.sh
# with GUEST_APPEND, one boot each).
rootflags=rootflags=version=9p2000.L,trans=virtio,access=any,msize=524288,cache=loose
set +e
# QEMU opens the guest's stdout and stderr as files on /proc/self/fd/{1,2},
# truncating a log file they are redirected to: hand it pipes.
timeout --kill-after=15 "$timeout_s" \
	vng --run "$image" --disable-kvm --force-9p --disable-microvm "${vng_opts[@]}" \
	--memory "$memory" --cpus "$cpus" --append "root=/dev/root $rootflags ${GUEST_APPEND:-}" --rwdir "$out" \
	--exec "$inner" --qemu-opts="$qemu_cpu $qemu_extra" </dev/null > >(cat) 2> >(cat >&2)
vng_rc=$?
set -e

if [ "$vng_rc" = 124 ] || [ "$vng_rc" = 137 ]; then
	echo "guest.sh: the guest did not finish within ${timeout_s}s and was killed" >&2
	exit 124
fi
if ! [ -f "$out/rc" ]; then
	echo "guest.sh: the guest stopped before the script finished (vng exit $vng_rc)" >&2
	exit 1
fi
rc=$(cat "$out/rc")

# Real reports only, with the pattern of the tests' own scan at exit
# (KERNEL_REPORTS in tests/lib.sh): the whole guest's log, boot, each test's
# part and what came after the last, and the final kmemleak scan.
pattern=$(sed -n "s/^KERNEL_REPORTS='\(.*\)'\$/\1/p" "$TOP/tests/lib.sh")
[ -n "$pattern" ] || die "no KERNEL_REPORTS in tests/lib.sh"
# (A script that is not a test, such as tests/bench.sh, leaves no
# dmesg-tests.txt: cat's status does not matter.)
cat "$out/dmesg-boot.txt" "$out/dmesg-tests.txt" "$out/dmesg.txt" 2>/dev/null >"$out/dmesg-all.txt" || true
reports=$(cat "$out/dmesg-all.txt" "$out/kmemleak.txt" 2>/dev/null | grep -E "$pattern" || true)
if [ -n "$reports" ]; then
	echo "guest.sh: the guest kernel log has reports:" >&2
	printf '%s\n' "$reports" | head -n 20 >&2
	cp "$out/dmesg-all.txt" "$CACHE/guest/last-dmesg.txt"
	echo "guest.sh: full log saved in $CACHE/guest/last-dmesg.txt" >&2
	exit 1
fi
exit "$rc"
