/* SPDX-License-Identifier: Apache-2.0 */
/*
 * netns.c - a call's network namespace, built through rtnetlink (libmnl):
 *
 *   host:   tgeBBSS  100.72.B.2s/31   fd54:6f6f:6c67:B::1:2s/127    (up)
 *              |  veth pair
 *   child:  eth0     100.72.B.2s+1/31 fd54:6f6f:6c67:B::1:2s+1/127  (up)
 *           lo up; default routes via the host side's addresses
 *
 * Nothing here is torn down by hand: the namespace is held by one file
 * descriptor (and, later, by the tool's processes); when both are gone the
 * kernel deletes it, and deleting a namespace deletes its veth end, which
 * takes the pair, the host side's addresses and routes with it. That work
 * happens in the kernel's cleanup worker, not in the call's path (a
 * synchronous veth delete costs ~30 ms of RCU grace periods).
 *
 * Also the netlink socket helpers shared with nft.c.
 */
#include <fcntl.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <libmnl/libmnl.h>

#include "egress.h"

/* Every netlink exchange is bounded in time: a kernel that never answers
 * must not hang a call. */
#define NL_TIMEOUT_MS 2000
/* IF_OPER_UP of <linux/if.h>, which cannot be included with <net/if.h>. */
#define OPER_UP 6

static atomic_uint nl_seq;

uint32_t tg_nl_next_seq(void)
{
	unsigned s = atomic_fetch_add(&nl_seq, 1);
	if (s == 0) /* first use: start somewhere unlikely to match stale replies */
		s = atomic_fetch_add(&nl_seq, (unsigned)time(NULL)) + (unsigned)time(NULL);
	return s;
}

void tg_mnl_socket_closep(struct mnl_socket **s)
{
	if (*s) {
		mnl_socket_close(*s);
		*s = NULL;
	}
}

static int nl_open(int bus, struct mnl_socket **ret)
{
	struct mnl_socket *nl = mnl_socket_open2(bus, SOCK_CLOEXEC);
	if (!nl)
		return -errno;
	if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		int e = -errno;
		mnl_socket_close(nl);
		return e;
	}
	int fd = mnl_socket_get_fd(nl);
	struct timeval tv = {.tv_sec = NL_TIMEOUT_MS / 1000,
	                     .tv_usec = (NL_TIMEOUT_MS % 1000) * 1000};
	int one = 1;
	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ||
	    /* Errors without a copy of the (possibly large) request. */
	    setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof(one)) < 0) {
		int e = -errno;
		mnl_socket_close(nl);
		return e;
	}
	*ret = nl;
	return 0;
}

int tg_rtnl_open(struct mnl_socket **ret)
{
	return nl_open(NETLINK_ROUTE, ret);
}

int tg_nft_open(struct mnl_socket **ret)
{
	return nl_open(NETLINK_NETFILTER, ret);
}

int tg_nl_talk(struct mnl_socket *nl, struct nlmsghdr *nlh,
               int (*cb)(const struct nlmsghdr *nlh, void *data), void *data)
{
	uint32_t portid = mnl_socket_get_portid(nl);
	uint32_t seq = nlh->nlmsg_seq;
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	_cleanup_free_ char *buf = malloc(TG_NL_DUMP_BUF);
	if (!buf)
		return -ENOMEM;
	/* Bounded: a dump of a host with thousands of links is a few hundred
	 * reads at most. */
	for (int i = 0; i < 100000; i++) {
		ssize_t n = mnl_socket_recvfrom(nl, buf, TG_NL_DUMP_BUF);
		if (n < 0)
			return errno == EAGAIN || errno == EWOULDBLOCK ? -ETIMEDOUT : -errno;
		int r = mnl_cb_run(buf, (size_t)n, seq, portid, cb, data);
		if (r < 0)
			return errno ? -errno : -EIO;
		if (r == MNL_CB_STOP)
			return 0;
	}
	return -EIO;
}

/* A route request with its ACK asked for. */
static int rtnl_talk(struct mnl_socket *nl, struct nlmsghdr *nlh, mnl_cb_t cb, void *data)
{
	nlh->nlmsg_flags |= NLM_F_ACK;
	return tg_nl_talk(nl, nlh, cb, data);
}

static struct nlmsghdr *new_req(char *buf, uint16_t type, uint16_t flags)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST | flags;
	nlh->nlmsg_seq = tg_nl_next_seq();
	return nlh;
}

/* The link named name: its index and (for a veth) its peer's index; its
 * operational state and queueing discipline. */
struct link_info {
	int ifindex;
	int peer;
	int operstate;
	bool active; /* a real qdisc: the kernel has activated the device */
};

static int link_cb(const struct nlmsghdr *nlh, void *data)
{
	struct link_info *li = data;
	const struct ifinfomsg *ifm = mnl_nlmsg_get_payload(nlh);
	li->ifindex = ifm->ifi_index;
	const struct nlattr *attr;
	mnl_attr_for_each(attr, nlh, sizeof(*ifm))
	{
		if (mnl_attr_get_type(attr) == IFLA_LINK &&
		    mnl_attr_validate(attr, MNL_TYPE_U32) == 0)
			li->peer = (int)mnl_attr_get_u32(attr);
		if (mnl_attr_get_type(attr) == IFLA_OPERSTATE &&
		    mnl_attr_validate(attr, MNL_TYPE_U8) == 0)
			li->operstate = mnl_attr_get_u8(attr);
		if (mnl_attr_get_type(attr) == IFLA_QDISC &&
		    mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) == 0)
			li->active = strcmp(mnl_attr_get_str(attr), "noop") != 0;
	}
	return MNL_CB_OK;
}

/* By name, or by index when name is NULL. */
static int get_link(struct mnl_socket *nl, const char *name, int ifindex, struct link_info *ret)
{
	char buf[TG_NL_BUF];
	struct nlmsghdr *nlh = new_req(buf, RTM_GETLINK, 0);
	struct ifinfomsg *ifm = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifm));
	ifm->ifi_family = AF_UNSPEC;
	if (name)
		mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
	else
		ifm->ifi_index = ifindex;
	struct link_info li = {0};
	int r = rtnl_talk(nl, nlh, link_cb, &li);
	if (r < 0)
		return r;
	if (li.ifindex <= 0)
		return -ENODEV;
	*ret = li;
	return 0;
}

/* Until the kernel's link watcher has activated the device (operstate up,
 * a qdisc instead of noop), what it sends is dropped: a tool's first SYN
 * would be lost and its connect wait for the retransmission. Bounded. */
static int wait_active(struct mnl_socket *nl, int ifindex)
{
	for (int i = 0; i < 1000; i++) {
		struct link_info li = {0};
		int r = get_link(nl, NULL, ifindex, &li);
		if (r < 0)
			return r;
		if (li.active && li.operstate == OPER_UP)
			return 0;
		nanosleep(&(struct timespec){.tv_nsec = 200 * 1000}, NULL);
	}
	return -ETIMEDOUT;
}

/* RTM_NEWLINK for an existing link: set it up. */
static int link_up(struct mnl_socket *nl, int ifindex)
{
	char buf[TG_NL_BUF];
	struct nlmsghdr *nlh = new_req(buf, RTM_NEWLINK, 0);
	struct ifinfomsg *ifm = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifm));
	ifm->ifi_family = AF_UNSPEC;
	ifm->ifi_index = ifindex;
	ifm->ifi_flags = IFF_UP;
	ifm->ifi_change = IFF_UP;
	return rtnl_talk(nl, nlh, NULL, NULL);
}

/* The veth pair: `name` here (up), "eth0" in the namespace peer_ns (down:
 * a veth end cannot come up before its pair is complete, -ENOTCONN). */
static int add_veth(struct mnl_socket *nl, const char *name, int peer_ns)
{
	char buf[TG_NL_BUF];
	struct nlmsghdr *nlh = new_req(buf, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
	struct ifinfomsg *ifm = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifm));
	ifm->ifi_family = AF_UNSPEC;
	ifm->ifi_flags = IFF_UP;
	ifm->ifi_change = IFF_UP;
	mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
	struct nlattr *linkinfo = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
	mnl_attr_put_strz(nlh, IFLA_INFO_KIND, "veth");
	struct nlattr *infodata = mnl_attr_nest_start(nlh, IFLA_INFO_DATA);
	struct nlattr *peer = mnl_attr_nest_start(nlh, VETH_INFO_PEER);
	/* The peer's attributes follow its own ifinfomsg inside the nest. */
	struct ifinfomsg *pifm = mnl_nlmsg_put_extra_header(nlh, sizeof(*pifm));
	pifm->ifi_family = AF_UNSPEC;
	mnl_attr_put_strz(nlh, IFLA_IFNAME, "eth0");
	mnl_attr_put_u32(nlh, IFLA_NET_NS_FD, (uint32_t)peer_ns);
	mnl_attr_nest_end(nlh, peer);
	mnl_attr_nest_end(nlh, infodata);
	mnl_attr_nest_end(nlh, linkinfo);
	return rtnl_talk(nl, nlh, NULL, NULL);
}

static int add_addr(struct mnl_socket *nl, int ifindex, int family, const void *addr,
                    unsigned prefix)
{
	char buf[TG_NL_BUF];
	struct nlmsghdr *nlh = new_req(buf, RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL);
	struct ifaddrmsg *ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));
	ifa->ifa_family = (uint8_t)family;
	ifa->ifa_prefixlen = (uint8_t)prefix;
	ifa->ifa_scope = RT_SCOPE_UNIVERSE;
	ifa->ifa_index = (uint32_t)ifindex;
	size_t len = family == AF_INET ? 4 : 16;
	if (family == AF_INET6)
		/* Usable at once: no duplicate detection on a two-host link
		 * whose both ends we made. */
		ifa->ifa_flags = IFA_F_NODAD;
	mnl_attr_put(nlh, IFA_LOCAL, len, addr);
	mnl_attr_put(nlh, IFA_ADDRESS, len, addr);
	return rtnl_talk(nl, nlh, NULL, NULL);
}

static int add_default_route(struct mnl_socket *nl, int ifindex, int family, const void *gw)
{
	char buf[TG_NL_BUF];
	struct nlmsghdr *nlh = new_req(buf, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL);
	struct rtmsg *rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
	rtm->rtm_family = (uint8_t)family;
	rtm->rtm_dst_len = 0;
	rtm->rtm_table = RT_TABLE_MAIN;
	rtm->rtm_protocol = RTPROT_STATIC;
	rtm->rtm_scope = RT_SCOPE_UNIVERSE;
	rtm->rtm_type = RTN_UNICAST;
	mnl_attr_put(nlh, RTA_GATEWAY, family == AF_INET ? 4 : 16, gw);
	mnl_attr_put_u32(nlh, RTA_OIF, (uint32_t)ifindex);
	return rtnl_talk(nl, nlh, NULL, NULL);
}

/* Inside the new namespace, before its eth0 exists: no IPv6 link-local
 * addresses (nothing to announce, so no router solicitations or MLD
 * reports that would show up as dropped packets of the call). */
static void tune_new_ns(void)
{
	(void)tg_write_file("/proc/sys/net/ipv6/conf/default/addr_gen_mode", "1");
	(void)tg_write_file("/proc/sys/net/ipv6/conf/default/accept_dad", "0");
}

/* Make the namespace and a rtnetlink socket inside it, then come back. */
static int enter_new_ns(int host_ns, int *ret_ns, struct mnl_socket **ret_nl)
{
	if (unshare(CLONE_NEWNET) < 0)
		return -errno;
	int r = 0;
	int ns = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	struct mnl_socket *nl = NULL;
	if (ns < 0)
		r = -errno;
	if (r == 0) {
		tune_new_ns();
		r = tg_rtnl_open(&nl);
	}
	/* Staying in the wrong namespace is not an option: every later
	 * socket of this thread would be made in there. */
	if (setns(host_ns, CLONE_NEWNET) < 0)
		abort();
	if (r < 0) {
		if (ns >= 0)
			close(ns);
		return r;
	}
	*ret_ns = ns;
	*ret_nl = nl;
	return 0;
}

int tg_netns_create(struct mnl_socket *host_nl, const struct tg_egress_pool *pool, unsigned block,
                    unsigned slot, struct tg_netns *ret, struct tg_error **err)
{
	struct tg_slot_addrs ad;
	int r = tg_egress_pool_slot(pool, block, slot, &ad);
	if (r < 0)
		return tg_error_set(err, r, "slot %u of block %u: out of the pool", slot, block);
	char ifname[IFNAMSIZ];
	tg_egress_ifname(block, slot, ifname);

	_cleanup_close_ int host_ns = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (host_ns < 0)
		return tg_error_set(err, -errno, "open own network namespace: %m");
	_cleanup_close_ int ns = -1;
	_cleanup_mnl_ struct mnl_socket *child_nl = NULL;
	if ((r = enter_new_ns(host_ns, &ns, &child_nl)) < 0)
		return tg_error_set(err, r, "new network namespace: %m");

	if ((r = add_veth(host_nl, ifname, ns)) < 0)
		return r == -EEXIST ? r : tg_error_set(err, r, "create veth %s: %m", ifname);
	/* From here on the pair exists; on failure, closing ns takes it. */
	struct link_info li;
	if ((r = get_link(host_nl, ifname, 0, &li)) < 0)
		return tg_error_set(err, r, "find veth %s: %m", ifname);
	if (li.peer <= 0)
		return tg_error_set(err, -ENODEV, "veth %s: no peer index", ifname);
	/* The host side forwards whatever the rules let through, whatever
	 * the host's default for new interfaces says. */
	char knob[96];
	snprintf(knob, sizeof(knob), "/proc/sys/net/ipv4/conf/%s/forwarding", ifname);
	(void)tg_write_file(knob, "1");

	const char *step = NULL;
	if ((r = add_addr(host_nl, li.ifindex, AF_INET, &ad.host4, 31)) < 0)
		step = "host IPv4 address";
	else if (pool->has6 && (r = add_addr(host_nl, li.ifindex, AF_INET6, &ad.host6, 127)) < 0)
		step = "host IPv6 address";
	else if ((r = link_up(child_nl, 1)) < 0)
		step = "lo up";
	else if ((r = link_up(child_nl, li.peer)) < 0)
		step = "eth0 up";
	else if ((r = add_addr(child_nl, li.peer, AF_INET, &ad.child4, 31)) < 0)
		step = "child IPv4 address";
	else if (pool->has6 && (r = add_addr(child_nl, li.peer, AF_INET6, &ad.child6, 127)) < 0)
		step = "child IPv6 address";
	else if ((r = add_default_route(child_nl, li.peer, AF_INET, &ad.host4)) < 0)
		step = "child IPv4 default route";
	else if (pool->has6 && (r = add_default_route(child_nl, li.peer, AF_INET6, &ad.host6)) < 0)
		step = "child IPv6 default route";
	else if ((r = wait_active(child_nl, li.peer)) < 0)
		step = "eth0 activation";
	else if ((r = wait_active(host_nl, li.ifindex)) < 0)
		step = "activation";
	if (r < 0)
		return tg_error_set(err, r, "veth %s: %s: %m", ifname, step);

	*ret = (struct tg_netns){
	        .fd = steal_fd(&ns), .block = block, .slot = slot, .v6 = pool->has6};
	memcpy(ret->ifname, ifname, IFNAMSIZ);
	return 0;
}

void tg_netns_release(struct tg_netns *n)
{
	if (n->fd >= 0)
		close(n->fd);
	n->fd = -1;
}

struct list_ctx {
	const char *prefix;
	char **names;
	int r;
};

static int list_cb(const struct nlmsghdr *nlh, void *data)
{
	struct list_ctx *lc = data;
	const struct ifinfomsg *ifm = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *attr;
	mnl_attr_for_each(attr, nlh, sizeof(*ifm))
	{
		if (mnl_attr_get_type(attr) != IFLA_IFNAME ||
		    mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) < 0)
			continue;
		const char *name = mnl_attr_get_str(attr);
		if (strncmp(name, lc->prefix, strlen(lc->prefix)) == 0 && lc->r == 0)
			lc->r = tg_strv_push(&lc->names, name);
	}
	return MNL_CB_OK;
}

int tg_netns_list_links(struct mnl_socket *nl, const char *prefix, char ***ret)
{
	char buf[TG_NL_BUF];
	struct nlmsghdr *nlh = new_req(buf, RTM_GETLINK, NLM_F_DUMP);
	struct ifinfomsg *ifm = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifm));
	ifm->ifi_family = AF_UNSPEC;
	struct list_ctx lc = {.prefix = prefix};
	int r = rtnl_talk(nl, nlh, list_cb, &lc);
	if (r == 0)
		r = lc.r;
	if (r < 0) {
		tg_strv_free(lc.names);
		return r;
	}
	*ret = lc.names;
	return 0;
}

int tg_netns_delete_link(struct mnl_socket *nl, const char *ifname)
{
	char buf[TG_NL_BUF];
	struct nlmsghdr *nlh = new_req(buf, RTM_DELLINK, 0);
	struct ifinfomsg *ifm = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifm));
	ifm->ifi_family = AF_UNSPEC;
	mnl_attr_put_strz(nlh, IFLA_IFNAME, ifname);
	return rtnl_talk(nl, nlh, NULL, NULL);
}
