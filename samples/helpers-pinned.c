// SPDX-License-Identifier: GPL-2.0
/* The qdisc layer's C helpers, as an object of sch_rpinned.ko. */
#include "../bindings/helpers.c"
