#!/bin/bash
# The Debian package of the module (make deb), as a user installs it on a
# distribution kernel: dpkg -i, then `tc qdisc add ... plug` auto-loads ours
# from updates/; dpkg -r, and it loads the kernel's C module again. Needs
# the package in SCH_PLUG_DEB and a writable dpkg database and module tree
# (scripts/guest.sh gives both with overlays); skipped otherwise. Not in
# the collection's default list: `make check` runs it on KERNEL=debian.
. "$(dirname "$0")/lib.sh"
need_c_plug
deb=${SCH_PLUG_DEB:-}
[ -f "$deb" ] || skip_all "no package in SCH_PLUG_DEB (make deb)"
rel=$(uname -r)
pkg=$(dpkg-deb -f "$deb" Package)
[ "$pkg" = "sch-plug-modules-$rel" ] || skip_all "$deb is for another kernel ($pkg; this is $rel)"
mdir=/lib/modules/$rel
[ -w "$mdir" ] && [ -w /var/lib/dpkg ] || skip_all "$mdir or /var/lib/dpkg is read-only"
ktap_plan 12
# The module file modprobe resolves sch_plug to (Debian compresses its own,
# sch_plug.ko.xz: compared without the compression suffix).
modpath() {
	local p
	p=$(modinfo -n sch_plug 2>&1)
	p=${p%.xz} p=${p%.zst} p=${p%.gz}
	echo "$p"
}

# autoload <ours|c>: `tc qdisc add ... plug` with no plug loaded; true if
# the module the kernel loaded is that one (plug_is: taint, build ID of
# SCH_PLUG_KO or C_PLUG_KO), its taint flags in AUTO_TAINT.
autoload() {
	local out rc=0
	unload_plug
	$IP link add d0 type dummy
	out=$($TC qdisc add dev d0 root plug 2>&1) || diag "tc qdisc add: $out"
	AUTO_TAINT=$(cat /sys/module/sch_plug/taint 2>/dev/null)
	plug_is "$1" || { rc=1; diag "$PLUG_IS_WHY"; }
	$TC qdisc del dev d0 root 2>/dev/null
	$IP link del d0
	unload_plug
	return $rc
}

check_eq "before: modprobe finds the kernel's module" "$mdir/kernel/net/sched/sch_plug.ko" "$(modpath)"

out=$(dpkg -i "$deb" 2>&1)
if [ $? = 0 ]; then ok "dpkg -i $(basename "$deb")"; else not_ok "dpkg -i $(basename "$deb")"; diag "$out"; fi
check_eq "dpkg: package installed" "install ok installed" "$(dpkg-query -W -f '${Status}' "$pkg" 2>&1)"
check_eq "modprobe finds ours in updates/" "$mdir/updates/sch_plug.ko" "$(modpath)"
check_eq "modinfo: the installed module is ours" "Qdisc to plug and unplug traffic via netlink control (Rust)" \
	"$(modinfo -F description sch_plug)"
check_eq "modinfo: vermagic of this kernel" "$rel" "$(modinfo -F vermagic sch_plug | cut -d' ' -f1)"
if autoload ours; then ok "tc qdisc add auto-loads ours"; else not_ok "tc qdisc add auto-loads ours"; fi
# Out of tree (O); unsigned (E) where the kernel has CONFIG_MODULE_SIG
# (Debian's does, without MODULE_SIG_FORCE: it loads, and says so).
want=O
grep -qs '^CONFIG_MODULE_SIG=y' "$mdir/config" "/boot/config-$rel" "${KDIR:-/nonexistent}/.config" && want=OE
check_eq "ours taints the kernel $want" "$want" "$AUTO_TAINT"

out=$(dpkg -r "$pkg" 2>&1)
if [ $? = 0 ]; then ok "dpkg -r $pkg"; else not_ok "dpkg -r $pkg"; diag "$out"; fi
check_eq "after removal: modprobe finds the kernel's module" "$mdir/kernel/net/sched/sch_plug.ko" "$(modpath)"
if autoload c; then ok "tc qdisc add auto-loads the kernel's C module again"
else not_ok "tc qdisc add auto-loads the kernel's C module again"; fi
check_eq "the C module taints nothing" "" "$AUTO_TAINT"
ktap_done
