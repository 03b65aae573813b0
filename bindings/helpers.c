// SPDX-License-Identifier: GPL-2.0
/*
 * C side of the Rust qdisc layer (qdisc/): out-of-line copies of static
 * inline functions from <net/sch_generic.h> and friends, declared in
 * helpers.h and called through the generated bindings. No logic lives here.
 * Linked into every module built on the layer.
 */
#include <linux/netdevice.h>
#include <linux/skbuff.h>
#include <net/netlink.h>
#include <net/pkt_sched.h>
#include <net/sch_generic.h>
#include <net/sock.h>
#include <linux/timer.h>

#include "helpers.h"

/*
 * Built as LLVM bitcode and linked into the Rust objects (Kbuild, 7.x with
 * CONFIG_RUST_INLINE_HELPERS), each helper is __always_inline, as the
 * kernel's rust/helpers are: LLVM refuses to inline a function compiled
 * with other attributes (-fno-delete-null-pointer-checks, builtins, target
 * features) into Rust code otherwise. Elsewhere they are plain functions.
 */
#ifdef SCH_PLUG_INLINE_HELPERS
#define SCH_PLUG_HELPER __always_inline
#else
#define SCH_PLUG_HELPER
#endif

/*
 * The per-packet operations: the kernel's own, so that the counters and
 * the list stay exactly as C keeps them on every kernel line (on 7.x
 * inlined into the Rust code, see above).
 */
SCH_PLUG_HELPER int sch_plug_qdisc_enqueue_tail(struct sk_buff *skb, struct Qdisc *sch)
{
	return qdisc_enqueue_tail(skb, sch);
}

SCH_PLUG_HELPER struct sk_buff *sch_plug_qdisc_dequeue_head(struct Qdisc *sch)
{
	return qdisc_dequeue_head(sch);
}

/*
 * A packet dropped because the queue is over its limit: the reason that
 * drop monitors (perf's skb:kfree_skb, dropwatch) report for it, the qdisc
 * subsystem's QDISC_DROP_OVERLIMIT where the kernel has it (7.x), else the
 * generic SKB_DROP_REASON_QDISC_DROP (6.12).
 */
#ifdef _LINUX_DROPREASON_QDISC_H
#define SCH_PLUG_DROP_OVERLIMIT QDISC_DROP_OVERLIMIT
#else
#define SCH_PLUG_DROP_OVERLIMIT SKB_DROP_REASON_QDISC_DROP
#endif

SCH_PLUG_HELPER int sch_plug_qdisc_drop_overlimit(struct sk_buff *skb, struct Qdisc *sch,
						  struct sk_buff **to_free)
{
	return qdisc_drop_reason(skb, sch, to_free, SCH_PLUG_DROP_OVERLIMIT);
}

SCH_PLUG_HELPER unsigned int sch_plug_qdisc_pkt_len(const struct sk_buff *skb)
{
	return qdisc_pkt_len(skb);
}

/* The buffer after @skb on the list it is on (a qdisc's queue). */
SCH_PLUG_HELPER struct sk_buff *sch_plug_skb_next(const struct sk_buff *skb)
{
	return skb->next;
}

SCH_PLUG_HELPER void *sch_plug_qdisc_priv(struct Qdisc *sch)
{
	return qdisc_priv(sch);
}

SCH_PLUG_HELPER struct sk_buff *sch_plug_qdisc_peek_head(struct Qdisc *sch)
{
	return qdisc_peek_head(sch);
}

SCH_PLUG_HELPER struct sk_buff *sch_plug_qdisc_peek_dequeued(struct Qdisc *sch)
{
	return qdisc_peek_dequeued(sch);
}

SCH_PLUG_HELPER void sch_plug_qdisc_reset_queue(struct Qdisc *sch)
{
	qdisc_reset_queue(sch);
}

SCH_PLUG_HELPER void sch_plug_sch_tree_lock(struct Qdisc *sch)
{
	sch_tree_lock(sch);
}

SCH_PLUG_HELPER void sch_plug_sch_tree_unlock(struct Qdisc *sch)
{
	sch_tree_unlock(sch);
}

SCH_PLUG_HELPER unsigned int sch_plug_dev_tx_queue_len(struct Qdisc *sch)
{
	return qdisc_dev(sch)->tx_queue_len;
}

SCH_PLUG_HELPER unsigned int sch_plug_psched_mtu(struct Qdisc *sch)
{
	return psched_mtu(qdisc_dev(sch));
}

SCH_PLUG_HELPER unsigned int sch_plug_max_packet_len(struct Qdisc *sch)
{
	return max3(GSO_MAX_SIZE, GRO_MAX_SIZE, psched_mtu(qdisc_dev(sch)));
}

/* A buffer a qdisc let go of without sending it. */
SCH_PLUG_HELPER void sch_plug_kfree_skb(struct sk_buff *skb)
{
	kfree_skb_reason(skb, SKB_DROP_REASON_QDISC_DROP);
}

SCH_PLUG_HELPER void sch_plug_skb_orphan(struct sk_buff *skb)
{
	skb_orphan(skb);
}

/*
 * Whether @skb holds a socket that nothing but in-flight packets will ever
 * use again: a full socket its owner closed (sock_orphan() set SOCK_DEAD),
 * or a request or timewait socket, which has no send buffer to bound and
 * which TCP does not look for in host queues. The packet keeps it (and,
 * through it, its network namespace) alive until the packet is freed or
 * orphaned. The packet's reference keeps @skb->sk valid to read here.
 */
SCH_PLUG_HELPER bool sch_plug_skb_owner_gone(const struct sk_buff *skb)
{
	const struct sock *sk = skb->sk;

	return sk && (!sk_fullsock(sk) || sock_flag(sk, SOCK_DEAD));
}

SCH_PLUG_HELPER void sch_plug_timer_setup(struct timer_list *timer, void (*fn)(struct timer_list *))
{
	timer_setup(timer, fn, 0);
}

/* Fires in @ms, or earlier if it is armed to (timer_reduce()). */
SCH_PLUG_HELPER void sch_plug_timer_arm(struct timer_list *timer, unsigned int ms)
{
	timer_reduce(timer, jiffies + msecs_to_jiffies(ms));
}

/*
 * The lock a qdisc timer takes to reach @sch as the data path does: the
 * root lock of its tree, found as sch_tree_lock() finds it, without RTNL,
 * under RCU (what sfq_perturbation() does). Timers run in softirq
 * context, with BHs off already.
 */
SCH_PLUG_HELPER spinlock_t *sch_plug_timer_lock(struct Qdisc *sch)
{
	spinlock_t *lock;

	rcu_read_lock();
	lock = qdisc_lock(qdisc_root_sleeping(sch));
	spin_lock(lock);
	return lock;
}

SCH_PLUG_HELPER void sch_plug_timer_unlock(spinlock_t *lock)
{
	spin_unlock(lock);
	rcu_read_unlock();
}

SCH_PLUG_HELPER unsigned int sch_plug_qdisc_refcount(const struct Qdisc *sch)
{
	return refcount_read(&sch->refcnt);
}

SCH_PLUG_HELPER struct net_device *sch_plug_notifier_dev(void *info)
{
	return netdev_notifier_info_to_dev(info);
}

/* The qdisc attached to transmit queue @i of @dev, NULL past the last. */
SCH_PLUG_HELPER struct Qdisc *sch_plug_txq_qdisc(struct net_device *dev, unsigned int i)
{
	ASSERT_RTNL();
	if (i >= dev->num_tx_queues)
		return NULL;
	return rtnl_dereference(netdev_get_tx_queue(dev, i)->qdisc_sleeping);
}

SCH_PLUG_HELPER int sch_plug_nla_put_options(struct sk_buff *skb, int len, const void *data)
{
	return nla_put(skb, TCA_OPTIONS, len, data);
}

SCH_PLUG_HELPER int sch_plug_copy_xstats(struct gnet_dump *d, void *st, int len)
{
	return gnet_stats_copy_app(d, st, len);
}

/*
 * NL_SET_ERR_MSG() wants a string literal; the Rust caller passes a pointer
 * to a static string, so this spells out what the macro does with it.
 */
SCH_PLUG_HELPER void sch_plug_set_err_msg(struct netlink_ext_ack *extack, const char *msg)
{
	do_trace_netlink_extack(msg);
	if (extack)
		extack->_msg = msg;
}
