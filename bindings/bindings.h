/* SPDX-License-Identifier: GPL-2.0 */
/*
 * bindgen input for the qdisc layer (qdisc/). scripts/bindgen.sh runs the
 * kernel's own bindgen command line over this header, with an allowlist, into
 * bindings/qdisc_generated.rs (a build output, never committed).
 */
#include <linux/netdevice.h>
#include <linux/pkt_sched.h>
#include <linux/skbuff.h>
#include <net/netlink.h>
#include <net/pkt_sched.h>
#include <net/sch_generic.h>

#include "helpers.h"
