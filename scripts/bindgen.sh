#!/bin/sh
# Generate the module's bindings with the kernel's own bindgen command line.
#
#   scripts/bindgen.sh <kernel objtree> <header> <output.rs>
#
# The kernel records how it ran bindgen for its `bindings` crate in
# rust/bindings/.bindings_generated.rs.cmd. We reuse that bindgen binary, its
# options (blocklists, opaque types, --ctypes-prefix ffi, the Rust target) and
# its C flags, and change only the input header, the allowlist and the output.
# Works against any Rust-enabled kernel build, not only ours.
set -eu
objtree=$1 header=$2 out=$3
cmdfile=$objtree/rust/bindings/.bindings_generated.rs.cmd
[ -f "$cmdfile" ] || { echo "bindgen.sh: $cmdfile missing: is $objtree a built kernel with CONFIG_RUST=y?" >&2; exit 1; }

# The saved command is as make wrote it: 7.x escapes `#` as `$(pound)` in
# `--with-attribute-custom-enum=<enum>='$(pound)[cfi_encoding="…"]'`
# (rust/bindgen_parameters). Those options add `#[cfi_encoding]`, which needs
# a feature modules may not enable (scripts/Makefile.build lists the allowed
# ones), and no type of ours needs them: drop them (6.12 has none).
cmd=$(sed -n -e '/^savedcmd_/!d' -e 's/^savedcmd_[^ ]* := //' -e "s/ --with-attribute-custom-enum=[^ ']*'[^']*'//g" \
	-e 's/\$(pound)/#/g' -e p "$cmdfile")
# <bindgen> <helper.h> <options> -o <out> -- -Wp,-MMD,<dep> <cflags> -DKBUILD_MODFILE=... ; sed ...
bindgen=${cmd%% *}
options=$(printf '%s' "$cmd" | sed -e 's/^[^ ]* [^ ]* //' -e 's/ -o rust\/bindings\/bindings_generated.rs -- .*//')
cflags=$(printf '%s' "$cmd" | sed -e 's/.* -- -Wp,-MMD,[^ ]* //' -e 's/ -DKBUILD_MODFILE=.*//')
header=$(realpath "$header")
out=$(realpath -m "$out")

cd "$objtree"
eval "\"\$bindgen\" \"\$header\" $options" \
	"--allowlist-type 'Qdisc_ops|tc_plug_qopt|notifier_block|netdev_cmd'" \
	"--allowlist-function 'register_qdisc|unregister_qdisc|timer_shutdown_sync|register_netdevice_notifier|unregister_netdevice_notifier|netif_schedule_queue|sch_plug_.*'" \
	"--allowlist-var 'TCQ_PLUG_.*|TCQ_F_CAN_BYPASS|NET_XMIT_(SUCCESS|DROP|CN)|NOTIFY_DONE'" \
	"-o \"\$out\" -- $cflags -DKBUILD_MODNAME='\"sch_plug\"' -fno-builtin -D__BINDGEN__ -DMODULE"
