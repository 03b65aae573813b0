/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Wrappers for the static inline kernel functions and macros that the Rust
 * side calls. Each one only forwards to the kernel function of the same
 * name (helpers.c): out of line on 6.12, inlined into the Rust objects on
 * 7.x (CONFIG_RUST_INLINE_HELPERS, Kbuild).
 */
#ifndef SCH_PLUG_HELPERS_H
#define SCH_PLUG_HELPERS_H

#include <linux/types.h>
#include <linux/spinlock_types.h>

struct Qdisc;
struct sk_buff;
struct netlink_ext_ack;
struct gnet_dump;
struct net_device;
struct timer_list;

int sch_plug_qdisc_enqueue_tail(struct sk_buff *skb, struct Qdisc *sch);
struct sk_buff *sch_plug_qdisc_dequeue_head(struct Qdisc *sch);
int sch_plug_qdisc_drop_overlimit(struct sk_buff *skb, struct Qdisc *sch,
				  struct sk_buff **to_free);
unsigned int sch_plug_qdisc_pkt_len(const struct sk_buff *skb);
struct sk_buff *sch_plug_skb_next(const struct sk_buff *skb);
void *sch_plug_qdisc_priv(struct Qdisc *sch);
struct sk_buff *sch_plug_qdisc_peek_head(struct Qdisc *sch);
struct sk_buff *sch_plug_qdisc_peek_dequeued(struct Qdisc *sch);
void sch_plug_qdisc_reset_queue(struct Qdisc *sch);
void sch_plug_sch_tree_lock(struct Qdisc *sch);
void sch_plug_sch_tree_unlock(struct Qdisc *sch);
unsigned int sch_plug_dev_tx_queue_len(struct Qdisc *sch);
unsigned int sch_plug_psched_mtu(struct Qdisc *sch);
unsigned int sch_plug_max_packet_len(struct Qdisc *sch);
void sch_plug_kfree_skb(struct sk_buff *skb);
void sch_plug_skb_orphan(struct sk_buff *skb);
bool sch_plug_skb_owner_gone(const struct sk_buff *skb);
void sch_plug_timer_setup(struct timer_list *timer, void (*fn)(struct timer_list *));
void sch_plug_timer_arm(struct timer_list *timer, unsigned int ms);
spinlock_t *sch_plug_timer_lock(struct Qdisc *sch);
void sch_plug_timer_unlock(spinlock_t *lock);
unsigned int sch_plug_qdisc_refcount(const struct Qdisc *sch);
struct net_device *sch_plug_notifier_dev(void *info);
struct Qdisc *sch_plug_txq_qdisc(struct net_device *dev, unsigned int i);
void sch_plug_set_err_msg(struct netlink_ext_ack *extack, const char *msg);
int sch_plug_nla_put_options(struct sk_buff *skb, int len, const void *data);
int sch_plug_copy_xstats(struct gnet_dump *d, void *st, int len);
#endif
