// SPDX-License-Identifier: GPL-2.0
/*
 * sch_plug's module parameter: the module! macro of 6.12 cannot declare
 * parameters, so it is declared here and read from Rust through
 * sch_plug_c_quirks() (qdisc::params).
 */
#include <linux/moduleparam.h>

#include "helpers.h"

static bool c_quirks;
module_param(c_quirks, bool, 0644);
MODULE_PARM_DESC(c_quirks,
		 "Follow the Linux 6.12 C sch_plug exactly, defects included, in plugs created from now on (default: off, output commit holds)");

bool sch_plug_c_quirks(void)
{
	return READ_ONCE(c_quirks);
}
