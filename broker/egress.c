/* SPDX-License-Identifier: Apache-2.0 */
/*
 * egress.c - the orchestrator of per-call egress (see egress.h and
 * docs/egress.md). It reads as the list of what a call's network gets:
 *
 *   begin: resolve names -> plan the set -> take a prepared namespace
 *          -> install the call's nftables chain, sets, counters (one
 *          transaction) -> the tool runs
 *   end:   read the counters -> remove the call's nftables objects (one
 *          transaction) -> drop the namespace (the kernel removes the veth
 *          pair, its addresses and routes on its own, off our path)
 *
 * A background thread keeps a few namespaces prepared (veth, addresses,
 * routes), so a call pays for neither a namespace nor a veth, and resolves
 * the policy's host names ahead of the first call.
 *
 * Kernel state shared with other brokers on the host: the table
 * "toolgate" (created by the first, deleted by the last) and
 * net.ipv4.ip_forward. Locks and ownership: egress_addr.c.
 */
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <libmnl/libmnl.h>

#include "egress.h"
#include "policy.h"

#define DEFAULT_PREPARED 4
#define MAX_PREPARED     32
#define MAX_SOCKS        16
/* A failed setup is retried at most this often, so a host without
 * nftables does not pay for the attempt on every call. */
#define RETRY_MS      5000
#define TABLE_LOCK_MS 3000
#define IP_FORWARD    "/proc/sys/net/ipv4/ip_forward"

enum state { EG_NONE = 0, EG_READY, EG_FAILED };

struct tg_egress {
	pthread_mutex_t lock;
	pthread_cond_t cond; /* wakes the pool thread */
	enum state state;
	char *fail_reason;
	uint64_t failed_ms;

	struct tg_egress_pool pool;
	unsigned block;
	int block_fd; /* our block's lock */
	struct tg_slot_map slots;

	/* prepared namespaces */
	struct tg_netns ready[MAX_PREPARED];
	size_t n_ready;
	unsigned target;
	pthread_t thread;
	bool thread_started, stop;
	char **prefetch; /* names to resolve in the background */

	struct tg_resolver *resolver;
	struct mnl_socket *socks[MAX_SOCKS]; /* idle nftables sockets */
	size_t n_socks;
};

struct tg_egress_call {
	struct tg_netns ns;
	struct tg_egress_plan plan;
	bool rules; /* the nftables objects exist */
};

/* ---------------------------------------------------------------------------
 * Small helpers.
 */

static int sock_get(struct tg_egress *eg, struct mnl_socket **ret)
{
	pthread_mutex_lock(&eg->lock);
	struct mnl_socket *s = eg->n_socks ? eg->socks[--eg->n_socks] : NULL;
	pthread_mutex_unlock(&eg->lock);
	if (s) {
		*ret = s;
		return 0;
	}
	return tg_nft_open(ret);
}

/* Back to the idle list; a socket that saw an error is closed instead, so
 * a stray late answer can never be read as the next call's. */
static void sock_put(struct tg_egress *eg, struct mnl_socket *s, bool ok)
{
	if (!s)
		return;
	pthread_mutex_lock(&eg->lock);
	if (ok && eg->n_socks < MAX_SOCKS) {
		eg->socks[eg->n_socks++] = s;
		s = NULL;
	}
	pthread_mutex_unlock(&eg->lock);
	if (s)
		mnl_socket_close(s);
}

static unsigned env_uint(const char *name, unsigned def, unsigned max)
{
	const char *v = getenv(name);
	if (!v || !*v)
		return def;
	char *end;
	unsigned long n = strtoul(v, &end, 10);
	return *end || n > max ? def : (unsigned)n;
}

/* ---------------------------------------------------------------------------
 * Ownership of blocks and stale objects.
 */

struct liveness {
	const struct tg_egress *eg;
	int8_t state[256]; /* 0 unknown, 1 live, 2 stale */
};

/* A block is stale when no broker holds its lock (ours is held by us but
 * just claimed, so whatever carries its number is left from before). */
static bool block_stale(struct liveness *lv, unsigned block)
{
	if (block >= 256)
		return false;
	if (block == lv->eg->block)
		return true;
	if (lv->state[block] == 0) {
		char name[32];
		snprintf(name, sizeof(name), "block-%u", block);
		int fd = -1;
		int r = tg_egress_lock_try(name, &fd);
		if (r == 0)
			close(fd);
		/* Only "nobody holds it" counts as stale; an error (e.g.
		 * -EPERM) is treated as live: never remove what may be used. */
		lv->state[block] = r == 0 ? 2 : 1;
	}
	return lv->state[block] == 2;
}

static bool stale_cb(unsigned block, unsigned slot, void *data)
{
	(void)slot;
	return block_stale(data, block);
}

static void cleanup_stale(struct tg_egress *eg, struct mnl_socket *nft)
{
	struct liveness lv = {.eg = eg};
	unsigned removed = 0;
	if (tg_nft_cleanup_stale(nft, stale_cb, &lv, &removed) == 0 && removed)
		tg_log(TG_LOG_INFO, "egress: removed %u stale nftables objects", removed);

	_cleanup_mnl_ struct mnl_socket *rtnl = NULL;
	_cleanup_strv_free_ char **links = NULL;
	if (tg_rtnl_open(&rtnl) < 0 || tg_netns_list_links(rtnl, TG_EGRESS_IF_PREFIX, &links) < 0)
		return;
	for (size_t i = 0; links && links[i]; i++) {
		unsigned b, s;
		if (tg_egress_parse_id(links[i], TG_EGRESS_IF_PREFIX, &b, &s) < 0 ||
		    !block_stale(&lv, b))
			continue;
		/* Synchronous and slow (RCU), but only at startup and only
		 * for what a crashed broker's surviving tools kept alive. */
		if (tg_netns_delete_link(rtnl, links[i]) == 0)
			tg_log(TG_LOG_INFO, "egress: removed stale interface %s", links[i]);
	}
}

/* ---------------------------------------------------------------------------
 * Setting up the kernel side, once.
 */

static int read_ip_forward(bool *ret_on)
{
	char *s = NULL;
	size_t len = 0;
	int r = tg_read_file(IP_FORWARD, 64, &s, &len);
	if (r < 0)
		return r;
	*ret_on = s[0] != '0';
	free(s);
	return 0;
}

static int claim_block(struct tg_egress *eg, struct tg_error **err)
{
	for (unsigned b = 0; b < eg->pool.n_blocks; b++) {
		char name[32];
		snprintf(name, sizeof(name), "block-%u", b);
		int fd;
		int r = tg_egress_lock_try(name, &fd);
		if (r == 0) {
			eg->block = b;
			eg->block_fd = fd;
			return 0;
		}
		if (r != -EADDRINUSE)
			return tg_error_set(err, r, "address block lock: %m");
	}
	return tg_error_set(err, -EBUSY, "every address block of the egress pool is in use");
}

static int setup_kernel(struct tg_egress *eg, struct tg_error **err)
{
	int r = tg_egress_pool_init(&eg->pool, getenv("TOOLGATE_EGRESS_POOL4"),
	                            getenv("TOOLGATE_EGRESS_POOL6"), err);
	if (r < 0)
		return r;
	_cleanup_free_ char *v6off = NULL;
	size_t len = 0;
	if (eg->pool.has6 &&
	    (tg_read_file("/proc/sys/net/ipv6/conf/all/disable_ipv6", 16, &v6off, &len) < 0 ||
	     v6off[0] != '0')) {
		/* A host without IPv6: the calls get IPv4 only (and IPv6 rules
		 * match nothing), rather than no network at all. */
		tg_log(TG_LOG_INFO, "egress: IPv6 is off on this host; calls get IPv4 only");
		eg->pool.has6 = false;
	}
	_cleanup_mnl_ struct mnl_socket *nft = NULL;
	if ((r = tg_nft_open(&nft)) < 0)
		return tg_error_set(err, r, "nftables netlink socket: %m");

	/* One broker at a time creates, cleans or deletes the shared table. */
	_cleanup_close_ int table_fd = -1;
	if ((r = tg_egress_lock_wait("table", TABLE_LOCK_MS, &table_fd)) < 0)
		return tg_error_set(err, r, "egress table lock: %m");
	if ((r = claim_block(eg, err)) < 0)
		return r;

	bool fwd_on = false, created = false;
	if ((r = read_ip_forward(&fwd_on)) < 0) {
		r = tg_error_set(err, r, "read %s: %m", IP_FORWARD);
		goto fail;
	}
	/* Before forwarding goes on: the guard must be in place first, so
	 * the host never forwards foreign traffic, not even for a moment. */
	if ((r = tg_nft_table_ensure(nft, !fwd_on, &created, err)) < 0) {
		tg_error_wrap(err, "create nftables table " TG_NFT_TABLE);
		goto fail;
	}
	bool guard = false;
	if (!created && !fwd_on && tg_nft_table_get(nft, &guard) == 0 && !guard)
		tg_log(TG_LOG_WARN, "egress: ip_forward is off but table " TG_NFT_TABLE
		                    " has no forwarding guard (made while it was on)");
	cleanup_stale(eg, nft);
	if (!fwd_on && (r = tg_write_file(IP_FORWARD, "1")) < 0) {
		r = tg_error_set(err, r, "turn on %s: %m", IP_FORWARD);
		goto fail;
	}
	tg_log(TG_LOG_INFO, "egress: block %u of the pool, table " TG_NFT_TABLE " %s%s", eg->block,
	       created ? "created" : "shared", !fwd_on ? ", ip_forward turned on" : "");
	return 0;
fail:
	/* Nobody else can have started using a table we made: they would
	 * have needed the table lock we hold. */
	if (created)
		tg_nft_table_delete(nft);
	close(eg->block_fd);
	eg->block_fd = -1;
	return r;
}

static void *pool_main(void *arg);

/* Under eg->lock. */
static int ensure_ready(struct tg_egress *eg, struct tg_error **err)
{
	if (eg->state == EG_READY)
		return 0;
	if (eg->state == EG_FAILED && tg_now_mono_ms() - eg->failed_ms < RETRY_MS)
		return tg_error_set(err, -ENODEV, "%s", eg->fail_reason);
	_cleanup_error_ struct tg_error *e = NULL;
	int r = 0;
	if (!eg->resolver)
		r = tg_resolver_new(env_uint("TOOLGATE_EGRESS_DNS_REFRESH", 0, 86400) * 1000ull,
		                    &eg->resolver);
	if (r < 0)
		tg_error_set(&e, r, "out of memory");
	else
		r = setup_kernel(eg, &e);
	if (r == 0 && !eg->thread_started) {
		eg->stop = false;
		int pr = pthread_create(&eg->thread, NULL, pool_main, eg);
		if (pr == 0)
			eg->thread_started = true;
		else
			tg_log(TG_LOG_WARN, "egress: no namespace pool thread: %s", strerror(pr));
	}
	if (r < 0) {
		free(eg->fail_reason);
		/* The reason a person reads when a tool is refused. */
		eg->fail_reason = tg_strdup_printf(
		        "per-endpoint egress cannot be enforced here (%s%s)", tg_error_msg(e),
		        r == -EPERM || r == -EACCES
		                ? "; it needs root (CAP_NET_ADMIN, CAP_SYS_ADMIN)"
		                : "");
		eg->state = EG_FAILED;
		eg->failed_ms = tg_now_mono_ms();
		return tg_error_set(err, r, "%s",
		                    eg->fail_reason ? eg->fail_reason : "egress setup");
	}
	eg->state = EG_READY;
	return 0;
}

/* ---------------------------------------------------------------------------
 * The pool of prepared namespaces.
 */

/* Make one namespace on a free slot. Slots whose previous veth is still
 * being torn down by the kernel answer -EEXIST; the next one is tried. */
static int make_netns(struct tg_egress *eg, struct mnl_socket *rtnl, struct tg_netns *ret,
                      struct tg_error **err)
{
	for (unsigned tries = 0; tries < TG_EGRESS_SLOTS; tries++) {
		unsigned slot;
		pthread_mutex_lock(&eg->lock);
		int r = tg_slot_take(&eg->slots, &slot);
		pthread_mutex_unlock(&eg->lock);
		if (r < 0)
			return tg_error_set(err, -EBUSY,
			                    "all %d call networks of this broker are in use",
			                    TG_EGRESS_SLOTS);
		r = tg_netns_create(rtnl, &eg->pool, eg->block, slot, ret, err);
		if (r == 0)
			return 0;
		pthread_mutex_lock(&eg->lock);
		tg_slot_put(&eg->slots, slot);
		pthread_mutex_unlock(&eg->lock);
		if (r != -EEXIST)
			return r;
	}
	return tg_error_set(err, -EBUSY, "no call network slot is free yet");
}

static void *pool_main(void *arg)
{
	struct tg_egress *eg = arg;
	sigset_t all;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	_cleanup_mnl_ struct mnl_socket *rtnl = NULL;
	int r = tg_rtnl_open(&rtnl);
	bool failing = false;

	pthread_mutex_lock(&eg->lock);
	while (!eg->stop && r == 0) {
		if (eg->n_ready < eg->target && !failing) {
			pthread_mutex_unlock(&eg->lock);
			struct tg_netns ns;
			_cleanup_error_ struct tg_error *err = NULL;
			int cr = make_netns(eg, rtnl, &ns, &err);
			pthread_mutex_lock(&eg->lock);
			if (cr == 0 && (eg->stop || eg->n_ready >= eg->target)) {
				tg_netns_release(&ns);
				tg_slot_put(&eg->slots, ns.slot);
			} else if (cr == 0) {
				eg->ready[eg->n_ready++] = ns;
			} else {
				/* Calls still make their own, and say why they
				 * cannot when they cannot; retry in a second. */
				tg_log(TG_LOG_WARN, "egress: namespace pool: %s",
				       tg_error_msg(err));
				failing = true;
			}
			continue;
		}
		if (eg->prefetch && eg->prefetch[0]) {
			_cleanup_strv_free_ char **names = steal_pointer(&eg->prefetch);
			pthread_mutex_unlock(&eg->lock);
			for (size_t i = 0; names[i]; i++) {
				struct tg_addr *addrs = NULL;
				size_t n = 0;
				_cleanup_error_ struct tg_error *err = NULL;
				if (tg_resolver_lookup(eg->resolver, names[i], &addrs, &n, &err) <
				    0)
					tg_log(TG_LOG_WARN, "egress: %s", tg_error_msg(err));
				free(addrs);
			}
			pthread_mutex_lock(&eg->lock);
			continue;
		}
		/* A call took one (or the failures may have cleared): look
		 * again at least every second. */
		tg_cond_wait_until(&eg->cond, &eg->lock, tg_now_mono_ns() + 1000000000u);
		failing = false;
	}
	pthread_mutex_unlock(&eg->lock);
	return NULL;
}

/* ---------------------------------------------------------------------------
 * Public surface.
 */

int tg_egress_new(struct tg_egress **ret)
{
	struct tg_egress *eg = calloc(1, sizeof(*eg));
	if (!eg)
		return -ENOMEM;
	pthread_mutex_init(&eg->lock, NULL);
	tg_cond_init_monotonic(&eg->cond);
	eg->block_fd = -1;
	eg->target = env_uint("TOOLGATE_EGRESS_PREPARED", DEFAULT_PREPARED, MAX_PREPARED);
	*ret = eg;
	return 0;
}

static bool other_brokers(const struct tg_egress *eg)
{
	for (unsigned b = 0; b < eg->pool.n_blocks; b++) {
		if (b == eg->block)
			continue;
		char name[32];
		snprintf(name, sizeof(name), "block-%u", b);
		int fd = -1;
		int r = tg_egress_lock_try(name, &fd);
		if (r == 0)
			close(fd);
		else
			return true;
	}
	return false;
}

/* The last broker out removes the table and puts forwarding back. */
static void teardown_kernel(struct tg_egress *eg)
{
	_cleanup_mnl_ struct mnl_socket *nft = NULL;
	_cleanup_close_ int table_fd = -1;
	if (tg_nft_open(&nft) < 0 || tg_egress_lock_wait("table", TABLE_LOCK_MS, &table_fd) < 0) {
		tg_log(TG_LOG_WARN, "egress: cannot clean up the nftables table");
		return;
	}
	if (other_brokers(eg)) {
		struct liveness lv = {.eg = eg};
		/* Only ours: every other block is treated as live here. */
		memset(lv.state, 1, sizeof(lv.state));
		tg_nft_cleanup_stale(nft, stale_cb, &lv, NULL);
	} else {
		bool guard = false;
		int r = tg_nft_table_get(nft, &guard);
		if (r == 0 && tg_nft_table_delete(nft) == 0 && guard &&
		    tg_write_file(IP_FORWARD, "0") == 0)
			tg_log(TG_LOG_INFO, "egress: ip_forward turned off again");
	}
	close(eg->block_fd);
	eg->block_fd = -1;
}

void tg_egress_free(struct tg_egress *eg)
{
	if (!eg)
		return;
	pthread_mutex_lock(&eg->lock);
	eg->stop = true;
	pthread_cond_broadcast(&eg->cond);
	pthread_mutex_unlock(&eg->lock);
	if (eg->thread_started)
		pthread_join(eg->thread, NULL);
	for (size_t i = 0; i < eg->n_ready; i++)
		tg_netns_release(&eg->ready[i]);
	eg->n_ready = 0;
	if (eg->state == EG_READY)
		teardown_kernel(eg);
	for (size_t i = 0; i < eg->n_socks; i++)
		mnl_socket_close(eg->socks[i]);
	if (eg->block_fd >= 0)
		close(eg->block_fd);
	tg_strv_free(eg->prefetch);
	tg_resolver_free(eg->resolver);
	free(eg->fail_reason);
	pthread_mutex_destroy(&eg->lock);
	pthread_cond_destroy(&eg->cond);
	free(eg);
}

void tg_egress_policy_loaded(struct tg_egress *eg, const struct tg_policy *p)
{
	char **names = NULL;
	bool needed = false;
	for (size_t i = 0; i < tg_policy_tool_count(p); i++) {
		const struct tg_network *net = tg_policy_tool_network(p, i);
		if (!net || !net->egress_enabled)
			continue;
		needed = true;
		for (size_t k = 0; k < net->n_egress; k++)
			if (net->egress[k].host && tg_strv_push(&names, net->egress[k].host) < 0)
				break;
	}
	if (!needed)
		return;
	_cleanup_error_ struct tg_error *err = NULL;
	pthread_mutex_lock(&eg->lock);
	int r = ensure_ready(eg, &err);
	if (r == 0) {
		tg_strv_free(eg->prefetch);
		eg->prefetch = steal_pointer(&names);
		pthread_cond_broadcast(&eg->cond);
	}
	pthread_mutex_unlock(&eg->lock);
	tg_strv_free(names);
	if (r < 0)
		tg_log(TG_LOG_WARN, "egress: %s; tools with egress rules will be refused",
		       tg_error_msg(err));
}

static int resolve_rules(struct tg_egress *eg, const struct tg_network *net,
                         struct tg_egress_resolved *res, struct tg_error **err)
{
	for (size_t i = 0; i < net->n_egress; i++) {
		if (!net->egress[i].host)
			continue;
		struct tg_addr *addrs = NULL;
		size_t n = 0;
		int r = tg_resolver_lookup(eg->resolver, net->egress[i].host, &addrs, &n, err);
		if (r < 0)
			return r;
		res[i] = (struct tg_egress_resolved){.addrs = addrs, .n = n};
	}
	return 0;
}

static bool this_slot(unsigned block, unsigned slot, void *data)
{
	const unsigned *want = data;
	return block == want[0] && slot == want[1];
}

int tg_egress_call_begin(struct tg_egress *eg, const struct tg_network *net,
                         struct tg_egress_call **ret, struct tg_error **err)
{
	/* Declared before the first goto: cleanup must never see it unset. */
	_cleanup_error_ struct tg_error *e = NULL;
	pthread_mutex_lock(&eg->lock);
	int r = ensure_ready(eg, err);
	pthread_mutex_unlock(&eg->lock);
	if (r < 0)
		return r;

	struct tg_egress_call *c = calloc(1, sizeof(*c));
	struct tg_egress_resolved *res = calloc(net->n_egress ? net->n_egress : 1, sizeof(*res));
	if (!c || !res) {
		free(c);
		free(res);
		return tg_error_set(err, -ENOMEM, "out of memory");
	}
	c->ns.fd = -1;
	r = resolve_rules(eg, net, res, err);
	if (r == 0)
		r = tg_egress_plan_build(net, res, &c->plan, err);
	for (size_t i = 0; i < net->n_egress; i++)
		free((void *)res[i].addrs);
	free(res);
	if (r == 0 && c->plan.n_elems == 0)
		r = tg_error_set(err, -ENOENT, "the egress rules allow no address at all");
	if (r < 0)
		goto fail;

	/* A prepared namespace, or one made now when the pool is empty. */
	pthread_mutex_lock(&eg->lock);
	bool got = eg->n_ready > 0;
	if (got)
		c->ns = eg->ready[--eg->n_ready];
	pthread_cond_signal(&eg->cond);
	pthread_mutex_unlock(&eg->lock);
	if (!got) {
		_cleanup_mnl_ struct mnl_socket *rtnl = NULL;
		if ((r = tg_rtnl_open(&rtnl)) < 0) {
			r = tg_error_set(err, r, "rtnetlink socket: %m");
			goto fail;
		}
		if ((r = make_netns(eg, rtnl, &c->ns, err)) < 0)
			goto fail;
	}

	struct mnl_socket *nft = NULL;
	if ((r = sock_get(eg, &nft)) < 0) {
		r = tg_error_set(err, r, "nftables netlink socket: %m");
		goto fail;
	}
	r = tg_nft_call_add(nft, c->ns.block, c->ns.slot, c->ns.ifname, &c->plan, c->ns.v6, &e);
	if (r == -EEXIST) {
		/* Left over from an earlier call on this slot whose teardown
		 * failed: remove, then try once more. */
		unsigned want[2] = {c->ns.block, c->ns.slot};
		tg_error_freep(&e);
		tg_nft_cleanup_stale(nft, this_slot, want, NULL);
		r = tg_nft_call_add(nft, c->ns.block, c->ns.slot, c->ns.ifname, &c->plan, c->ns.v6,
		                    &e);
	}
	sock_put(eg, nft, r == 0);
	if (r < 0) {
		r = tg_error_set(err, r, "%s", tg_error_msg(e));
		goto fail;
	}
	c->rules = true;
	*ret = c;
	return 0;
fail:
	tg_egress_call_end(eg, c, NULL);
	return r;
}

int tg_egress_call_netns(const struct tg_egress_call *c)
{
	return c->ns.fd;
}

const char *tg_egress_call_hosts(const struct tg_egress_call *c)
{
	return c->plan.hosts;
}

const char *tg_egress_call_ifname(const struct tg_egress_call *c)
{
	return c->ns.ifname;
}

void tg_egress_call_end(struct tg_egress *eg, struct tg_egress_call *c, struct tg_egress_stats *ret)
{
	struct tg_egress_stats st = {0};
	if (!c) {
		if (ret)
			*ret = st;
		return;
	}
	if (c->rules) {
		struct mnl_socket *nft = NULL;
		bool ok = sock_get(eg, &nft) == 0;
		if (ok && tg_nft_call_stats(nft, c->ns.block, c->ns.slot, &st) < 0) {
			tg_log(TG_LOG_WARN, "egress: cannot read the counters of %s", c->ns.ifname);
			memset(&st, 0, sizeof(st));
		}
		/* A failure here leaves objects that the next call on this slot
		 * (or the next broker) removes; the interface they match is
		 * gone with the namespace anyway. */
		if (ok)
			ok = tg_nft_call_del(nft, c->ns.block, c->ns.slot, c->ns.ifname,
			                     &c->plan) == 0;
		sock_put(eg, nft, ok);
	}
	if (c->ns.fd >= 0) {
		tg_netns_release(&c->ns);
		pthread_mutex_lock(&eg->lock);
		tg_slot_put(&eg->slots, c->ns.slot);
		pthread_mutex_unlock(&eg->lock);
	}
	tg_egress_plan_clear(&c->plan);
	free(c);
	if (ret)
		*ret = st;
}
