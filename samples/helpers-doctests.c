// SPDX-License-Identifier: GPL-2.0
/* The qdisc layer's C helpers, as an object of sch_tinyfifo.ko. */
#include "../bindings/helpers.c"
