#!/bin/bash
# The module as users meet it: modinfo metadata, loading beside the C module,
# module references held by live qdiscs, auto-loading by `tc qdisc add`.
. "$(dirname "$0")/lib.sh"
need_c_plug
ktap_plan 12
mi() { modinfo -F "$1" "$SCH_PLUG_KO"; }
check_eq "modinfo: name" "sch_plug" "$(mi name)"
check_eq "modinfo: license" "GPL" "$(mi license)"
check_eq "modinfo: alias for auto-loading" "net-sch-plug" "$(mi alias)"
case $(mi description) in *plug*Rust*) ok "modinfo: description" ;; *) not_ok "modinfo: description"; diag "$(mi description)" ;; esac
# No parameter: netdev takes none that changes a qdisc's behaviour (the
# module once had c_quirks, the C rules with their defects).
check_eq "modinfo: no module parameter" "" "$(mi parm)$(mi parmtype)"

# Only one `plug` can be registered: with the C module in, ours must refuse.
load_c
out=$(insmod "$SCH_PLUG_KO" 2>&1)
case $out in *"File exists"*) ok "insmod beside the C plug fails with EEXIST" ;;
*) not_ok "insmod beside the C plug fails with EEXIST"; diag "$out" ;; esac
unload_plug

# A live qdisc holds a reference on the module.
load_ours
$IP link add d0 type dummy
$TC qdisc add dev d0 root plug
check_eq "refcount 1 while a plug qdisc exists" 1 "$(cat /sys/module/sch_plug/refcnt)"
if rmmod sch_plug 2>/dev/null; then not_ok "rmmod refused while in use"; else ok "rmmod refused while in use"; fi
$TC qdisc del dev d0 root
check "rmmod succeeds once the qdisc is gone" rmmod sch_plug

# Auto-loading: `tc qdisc add … plug` makes the kernel ask modprobe for
# net-sch-plug. Give modprobe a module tree holding ours and nothing else
# (a tmpfs over the guest's read-only one, which has the C module).
mdir=/lib/modules/$(uname -r)
mount -t tmpfs sch-plug-modules "$mdir"
mkdir -p "$mdir/extra"
cp "$SCH_PLUG_KO" "$mdir/extra/"
depmod -a 2>/dev/null
out=$($TC qdisc add dev d0 root plug 2>&1)
check_eq "tc qdisc add auto-loads the module" "" "$out"
if plug_is ours; then ok "the auto-loaded plug is ours (taint O, build ID of SCH_PLUG_KO)"
else not_ok "the auto-loaded plug is ours (taint O, build ID of SCH_PLUG_KO)"; diag "$PLUG_IS_WHY"; fi
check_eq "qdisc created" plug "$($TC -j qdisc show dev d0 root | grep -o '"kind":"plug"' | cut -d'"' -f4)"
$TC qdisc del dev d0 root
$IP link del d0
umount "$mdir"
unload_plug
ktap_done
