// SPDX-License-Identifier: GPL-2.0
/*
 * mqhold: a network device with four transmit queues, any of which a test
 * can hold stopped, as a NIC whose ring is full holds it.
 *
 * t-multiqueue uses it to reach a path of the core that no software device
 * of 6.12 takes for longer than one transmit: a root qdisc on a multiqueue
 * device has no TCQ_F_ONETXQUEUE, so try_bulk_dequeue_skb_slow() parks a
 * dequeued packet bound for another queue in sch->skb_bad_txq, counted in
 * sch->q.qlen, and it stays there for as long as its queue is stopped.
 *
 *   /sys/module/mqhold/parameters/stopped   mask of the queues held stopped
 *
 * A packet goes to queue skb->priority % 4 (SO_PRIORITY), is counted in the
 * device's tx statistics and freed. The device has no ARP, no multicast and
 * no ndo_tx_timeout (a queue held stopped on purpose is not a hang).
 */
#include <linux/module.h>
#include <linux/netdevice.h>
#include <linux/etherdevice.h>
#include <linux/rtnetlink.h>

#define MQHOLD_QUEUES 4

static struct net_device *mqhold_dev;
static unsigned long mqhold_stopped;

static netdev_tx_t mqhold_xmit(struct sk_buff *skb, struct net_device *dev)
{
	dev_sw_netstats_tx_add(dev, 1, skb->len);
	consume_skb(skb);
	return NETDEV_TX_OK;
}

static u16 mqhold_select_queue(struct net_device *dev, struct sk_buff *skb,
			       struct net_device *sb_dev)
{
	return skb->priority % dev->real_num_tx_queues;
}

static const struct net_device_ops mqhold_ops = {
	.ndo_start_xmit = mqhold_xmit,
	.ndo_select_queue = mqhold_select_queue,
	.ndo_get_stats64 = dev_get_tstats64,
	.ndo_set_mac_address = eth_mac_addr,
};

/* Stop or wake each queue as the mask says; the caller holds RTNL. */
static void mqhold_apply(struct net_device *dev, unsigned long mask)
{
	unsigned int i;

	for (i = 0; i < MQHOLD_QUEUES; i++) {
		struct netdev_queue *txq = netdev_get_tx_queue(dev, i);

		if (mask & BIT(i)) {
			/* Under the queue's lock, as a driver's xmit stops it. */
			__netif_tx_lock_bh(txq);
			netif_tx_stop_queue(txq);
			__netif_tx_unlock_bh(txq);
		} else if (netif_tx_queue_stopped(txq)) {
			netif_tx_wake_queue(txq);
		}
	}
}

static int mqhold_set_stopped(const char *val, const struct kernel_param *kp)
{
	unsigned long mask;
	int err;

	err = kstrtoul(val, 0, &mask);
	if (err)
		return err;
	if (mask >> MQHOLD_QUEUES)
		return -EINVAL;
	rtnl_lock();
	mqhold_stopped = mask;
	if (mqhold_dev)
		mqhold_apply(mqhold_dev, mask);
	rtnl_unlock();
	return 0;
}

static const struct kernel_param_ops mqhold_stopped_ops = {
	.set = mqhold_set_stopped,
	.get = param_get_ulong,
};
module_param_cb(stopped, &mqhold_stopped_ops, &mqhold_stopped, 0644);
MODULE_PARM_DESC(stopped, "mask of the transmit queues held stopped");

static void mqhold_setup(struct net_device *dev)
{
	ether_setup(dev);
	dev->netdev_ops = &mqhold_ops;
	dev->needs_free_netdev = true;
	dev->flags |= IFF_NOARP;
	dev->flags &= ~IFF_MULTICAST;
	dev->pcpu_stat_type = NETDEV_PCPU_STAT_TSTATS;
	eth_hw_addr_random(dev);
}

static int __init mqhold_init(void)
{
	struct net_device *dev;
	int err;

	dev = alloc_netdev_mqs(0, "mqhold%d", NET_NAME_ENUM, mqhold_setup,
			       MQHOLD_QUEUES, 1);
	if (!dev)
		return -ENOMEM;
	rtnl_lock();
	err = register_netdevice(dev);
	if (!err) {
		mqhold_dev = dev;
		mqhold_apply(dev, mqhold_stopped);
	}
	rtnl_unlock();
	if (err)
		free_netdev(dev);
	return err;
}

static void __exit mqhold_exit(void)
{
	rtnl_lock();
	unregister_netdevice(mqhold_dev);
	mqhold_dev = NULL;
	rtnl_unlock();
}

module_init(mqhold_init);
module_exit(mqhold_exit);
MODULE_DESCRIPTION("Test device: four transmit queues that can be held stopped");
MODULE_LICENSE("GPL");
