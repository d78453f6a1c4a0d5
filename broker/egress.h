/* SPDX-License-Identifier: Apache-2.0 */
/*
 * egress.h (private to the broker) - per-endpoint network egress for tool
 * calls, enforced in the kernel. See docs/egress.md.
 *
 * A tool whose policy lists network.egress runs in a network namespace of
 * its own, joined to the host by a veth pair. The host side carries the
 * call's address pair (a /31 and a /127 from the broker's pool), routes and
 * masquerade; the nftables table "toolgate" decides, keyed by the host-side
 * interface, which packets leave. The child has no CAP_NET_ADMIN and the
 * rules are not in its namespace, so it cannot change them.
 *
 * Pipeline, one file each:
 *   egress_plan.c  rules + resolved names -> disjoint set elements (pure)
 *   egress_addr.c  the address pool: blocks claimed per broker, slots per call
 *   resolve.c      host names -> addresses, cached (getaddrinfo)
 *   netns.c        rtnetlink (libmnl): namespace, veth, addresses, routes
 *   nft.c          nftables (libnftnl): transactions, expressions
 *   nft_table.c    the shared table and its base chains; stale objects
 *   nft_call.c     one call's chain, sets and counters
 *   egress.c       the orchestrator: init, the prepared-namespace pool,
 *                  call begin / end, stale cleanup
 */
#ifndef TG_BROKER_EGRESS_H
#define TG_BROKER_EGRESS_H

#include <net/if.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tg.h"

struct tg_policy;
struct tg_network;
struct mnl_socket;

/* ---------------------------------------------------------------------------
 * The orchestrator (egress.c): what the executor uses.
 */
struct tg_egress;
struct tg_egress_call;

struct tg_egress_stats {
	uint64_t dropped_packets; /* from the call's interface, refused by the rules */
	uint64_t sent_packets;    /* let through */
	uint64_t sent_bytes;      /* let through (IP bytes) */
};

/* A new egress context. No kernel work happens until a policy with egress
 * rules is loaded or a call needs it. Returns 0 or -ENOMEM. */
int tg_egress_new(struct tg_egress **ret);
/* Stop the background thread, remove every kernel object this broker made
 * (and the shared table when no other broker uses it). Accepts NULL. */
void tg_egress_free(struct tg_egress *eg);

/* A policy was loaded (or reloaded): when one of its tools has egress rules,
 * set the kernel side up now and resolve its host names in the background,
 * so the first call does not pay for it. Failure is logged, not fatal: the
 * calls that need egress are then refused with the reason. */
void tg_egress_policy_loaded(struct tg_egress *eg, const struct tg_policy *p);

/* Build the network of one call for `net` (egress_enabled): a prepared
 * namespace plus the call's nftables objects. Returns 0 and *ret, or a
 * negative errno with *err saying why (no root, no nftables, name does not
 * resolve, pool exhausted): the call must then not run. */
int tg_egress_call_begin(struct tg_egress *eg, const struct tg_network *net,
                         struct tg_egress_call **ret, struct tg_error **err);
/* The namespace for tg_spawn_spec.netns_fd (owned by the call). */
int tg_egress_call_netns(const struct tg_egress_call *c);
/* Lines for tg_spawn_spec.etc_hosts (resolved names), or NULL. */
const char *tg_egress_call_hosts(const struct tg_egress_call *c);
/* Host-side interface name, e.g. "tge0a07" (for protections / logs). */
const char *tg_egress_call_ifname(const struct tg_egress_call *c);
/* After the child has ended: read its counters into *ret (zeroes when they
 * cannot be read), remove its nftables objects and drop the namespace (the
 * kernel then removes the veth pair, addresses and routes on its own). Frees
 * c; accepts NULL. */
void tg_egress_call_end(struct tg_egress *eg, struct tg_egress_call *c,
                        struct tg_egress_stats *ret);

/* ---------------------------------------------------------------------------
 * Addresses (egress_addr.c).
 */
struct tg_addr {
	int family;    /* AF_INET or AF_INET6 */
	uint8_t a[16]; /* network byte order; the first 4 bytes for AF_INET */
};

/* Parse "192.0.2.0/24", "2001:db8::/32" or a bare address (full length).
 * Host bits must be zero. 0 or -EINVAL. */
int tg_addr_parse_cidr(const char *s, struct tg_addr *ret, unsigned *ret_prefix);
/* First and last address of prefix/len. */
void tg_addr_range(const struct tg_addr *prefix, unsigned len, struct tg_addr *ret_lo,
                   struct tg_addr *ret_hi);
/* "192.0.2.7" / "2001:db8::1"; out must hold INET6_ADDRSTRLEN. */
const char *tg_addr_str(const struct tg_addr *a, char *out, size_t size);

/* The broker's private pool: an IPv4 prefix (/8../22) cut into /24 blocks, one
 * block per broker instance, each block into /31 slots (one per call); and
 * an IPv6 ULA prefix (/8../48), block b = prefix:b::/64, slot s =
 * prefix:b::1:2s/127 (host side) and ::1:2s+1 (child side). */
#define TG_EGRESS_SLOTS 128 /* /31 pairs in a /24 */

struct tg_egress_pool {
	struct tg_addr net4; /* AF_INET */
	unsigned len4;
	bool has6;
	struct tg_addr net6; /* AF_INET6 */
	unsigned len6;
	unsigned n_blocks; /* /24 blocks in net4 (<= 256) */
};

/* Defaults: 100.72.0.0/16 (shared address space, RFC 6598) and
 * fd54:6f6f:6c67::/48 (ULA); TOOLGATE_EGRESS_POOL4 / _POOL6 override them
 * ("off" for _POOL6 disables IPv6). 0 or -EINVAL with *err. */
int tg_egress_pool_init(struct tg_egress_pool *ret, const char *pool4, const char *pool6,
                        struct tg_error **err);
/* The addresses of (block, slot): host side and child side. */
struct tg_slot_addrs {
	struct in_addr host4, child4;
	struct in6_addr host6, child6;
};
int tg_egress_pool_slot(const struct tg_egress_pool *p, unsigned block, unsigned slot,
                        struct tg_slot_addrs *ret);

/* Host-side interface names: "tge" + 2 hex digits of block + 2 of slot. */
#define TG_EGRESS_IF_PREFIX "tge"
void tg_egress_ifname(unsigned block, unsigned slot, char out[IFNAMSIZ]);
/* Parse "<prefix>BBSS" (e.g. "tge0a07", "c-0a07"): 0 and block/slot, or
 * -EINVAL. */
int tg_egress_parse_id(const char *name, const char *prefix, unsigned *ret_block,
                       unsigned *ret_slot);

/* Cross-process locks that the kernel drops when their holder dies: a bound
 * abstract unix socket ("@toolgate/egress/NAME") in the host's network
 * namespace. 0 and *ret_fd; -EADDRINUSE when a root process holds it;
 * -EPERM when someone else squats on the name (refuse: not ours). */
int tg_egress_lock_try(const char *name, int *ret_fd);
/* Keep trying for up to timeout_ms. */
int tg_egress_lock_wait(const char *name, unsigned timeout_ms, int *ret_fd);

/* Slot bookkeeping for one block: free, in use, or recently used. Round
 * robin, so a slot is reused as late as possible (its old veth may still be
 * going away in the kernel). Not thread-safe: the caller locks. */
struct tg_slot_map {
	uint8_t used[TG_EGRESS_SLOTS];
	unsigned next;
};
/* Take a free slot: 0 and *ret, or -EBUSY. */
int tg_slot_take(struct tg_slot_map *m, unsigned *ret);
void tg_slot_put(struct tg_slot_map *m, unsigned slot);

/* ---------------------------------------------------------------------------
 * The plan (egress_plan.c): what the per-call set must hold. Pure.
 */

/* Ports never covered by a rule without `ports`: DNS (53) and DNS over TLS
 * (853) must be asked for by number, so a resolver is only reachable when
 * the policy says so. */
#define TG_EGRESS_DNS_PORT 53
#define TG_EGRESS_DOT_PORT 853

/* One box of the set: addresses [lo, hi] x protocol x ports [port_lo,
 * port_hi]. Boxes of a plan never overlap (the kernel's interval sets
 * require it). */
struct tg_egress_elem {
	int family; /* AF_INET / AF_INET6 */
	struct tg_addr lo, hi;
	uint8_t l4proto; /* IPPROTO_TCP / IPPROTO_UDP */
	uint16_t port_lo, port_hi;
};

struct tg_egress_plan {
	struct tg_egress_elem *elems; /* IPv4 first, then IPv6; each sorted */
	size_t n_elems;
	size_t n4, n6;
	char *hosts; /* "addr\tname\n" lines for /etc/hosts, or NULL */
	uint64_t quota_bytes;
	uint64_t conn_rate, conn_unit_s; /* new connections per unit; 0: no limit */
	uint32_t conn_burst;
};

/* Resolved addresses of one rule's host name (rules[i].host). */
struct tg_egress_resolved {
	const struct tg_addr *addrs;
	size_t n;
};

#define TG_EGRESS_MAX_ELEMS 4096

/* Build the plan for `net`; resolved[i] holds the addresses of rule i when
 * it names a host (ignored otherwise). Returns 0 and *ret (clear with
 * tg_egress_plan_clear), -E2BIG with *err past TG_EGRESS_MAX_ELEMS, -EINVAL
 * for a bad cidr, -ENOMEM. */
int tg_egress_plan_build(const struct tg_network *net, const struct tg_egress_resolved *resolved,
                         struct tg_egress_plan *ret, struct tg_error **err);
void tg_egress_plan_clear(struct tg_egress_plan *p);

/* ---------------------------------------------------------------------------
 * Names (resolve.c). getaddrinfo gives no TTL: answers are kept for a fixed
 * refresh interval, then resolved again on next use; a failed refresh keeps
 * the previous answer for up to TG_RESOLVE_STALE_MS. docs/egress.md.
 */
#define TG_RESOLVE_REFRESH_MS (60u * 1000u)
#define TG_RESOLVE_STALE_MS   (10u * 60u * 1000u)
#define TG_RESOLVE_MAX_ADDRS  64

struct tg_resolver;
int tg_resolver_new(uint64_t refresh_ms, struct tg_resolver **ret);
void tg_resolver_free(struct tg_resolver *r);
/* The addresses of name (A and AAAA), deduplicated: a copy, owned by the
 * caller. 0, or -ENOENT / -EAGAIN with *err. Thread-safe. */
int tg_resolver_lookup(struct tg_resolver *r, const char *name, struct tg_addr **ret, size_t *ret_n,
                       struct tg_error **err);

/* ---------------------------------------------------------------------------
 * rtnetlink (netns.c).
 */

/* One prepared call network: a namespace holding "eth0" (up, addressed,
 * default routes) whose veth peer is the host's `ifname`. */
struct tg_netns {
	int fd; /* the namespace (O_CLOEXEC) */
	unsigned block, slot;
	char ifname[IFNAMSIZ];
	bool v6;
};

/* Make one in the calling thread (which unshares and comes back). -EEXIST
 * when the slot's interface still exists (its last namespace is still
 * going away). Thread-safe. */
int tg_netns_create(struct mnl_socket *host_nl, const struct tg_egress_pool *pool, unsigned block,
                    unsigned slot, struct tg_netns *ret, struct tg_error **err);
/* Drop our reference: once the child is gone too, the kernel deletes the
 * namespace and with it the veth pair, addresses and routes. */
void tg_netns_release(struct tg_netns *n);
/* Host interfaces whose name starts with prefix (stale cleanup). Caller
 * frees with tg_strv_free. */
int tg_netns_list_links(struct mnl_socket *nl, const char *prefix, char ***ret);
/* Delete a host interface by name now (synchronous: startup cleanup only). */
int tg_netns_delete_link(struct mnl_socket *nl, const char *ifname);
/* A NETLINK_ROUTE socket in the calling thread's namespace. */
int tg_rtnl_open(struct mnl_socket **ret);
struct nlmsghdr;
/* Send one request on a netlink socket (route or netfilter) and run cb on
 * every reply (cb may be NULL) until the ACK or the end of a dump; bounded.
 * 0 or -errno (the kernel's error for the request). */
int tg_nl_talk(struct mnl_socket *nl, struct nlmsghdr *nlh,
               int (*cb)(const struct nlmsghdr *nlh, void *data), void *data);

void tg_mnl_socket_closep(struct mnl_socket **s);
#define _cleanup_mnl_ _cleanup_(tg_mnl_socket_closep)

/* ---------------------------------------------------------------------------
 * nftables (nft*.c). Everything lives in table inet "toolgate":
 *
 *   map calls        ifname -> jump c-BBSS (one element per running call)
 *   chain input      hook input:   iifname vmap @calls; iifname "tge*" drop
 *   chain forward    hook forward: iifname vmap @calls; iifname "tge*" drop;
 *                    oifname "tge*" ct state established,related accept;
 *                    oifname "tge*" drop; [guard]
 *   chain postrouting hook nat:    iifname "tge*" masquerade
 *
 * and per call BBSS: chain c-BBSS, sets a4-BBSS / a6-BBSS, counters
 * d-BBSS (dropped) and s-BBSS (sent), quota q-BBSS, limit l-BBSS.
 */
#define TG_NFT_TABLE "toolgate"

/* A NETLINK_NETFILTER socket. */
int tg_nft_open(struct mnl_socket **ret);
/* Create the table and its base chains unless it exists. `guard`: also drop
 * forwarded traffic that is none of ours (we turned forwarding on, so the
 * host must not start routing for anyone else); recorded in the table so
 * the last broker knows to turn forwarding off again. *ret_created tells
 * whether this call made it. */
int tg_nft_table_ensure(struct mnl_socket *nl, bool guard, bool *ret_created,
                        struct tg_error **err);
/* 0 and *ret_guard (whether the table carries the guard), or -ENOENT. */
int tg_nft_table_get(struct mnl_socket *nl, bool *ret_guard);
int tg_nft_table_delete(struct mnl_socket *nl);

/* Install the per-call objects for interface ifname in one transaction. */
int tg_nft_call_add(struct mnl_socket *nl, unsigned block, unsigned slot, const char *ifname,
                    const struct tg_egress_plan *plan, bool v6, struct tg_error **err);
/* Read the call's counters. */
int tg_nft_call_stats(struct mnl_socket *nl, unsigned block, unsigned slot,
                      struct tg_egress_stats *ret);
/* Remove the per-call objects that plan made, in one transaction. */
int tg_nft_call_del(struct mnl_socket *nl, unsigned block, unsigned slot, const char *ifname,
                    const struct tg_egress_plan *plan);
/* Remove the per-call objects of every (block, slot) for which stale()
 * says so, in one transaction. */
int tg_nft_cleanup_stale(struct mnl_socket *nl,
                         bool (*stale)(unsigned block, unsigned slot, void *data), void *data,
                         unsigned *ret_removed);

/* Build (not send) the per-call batch into buf, for tests: returns its
 * length, or a negative errno. */
int tg_nft_call_build(void *buf, size_t size, uint32_t seq, unsigned block, unsigned slot,
                      const char *ifname, const struct tg_egress_plan *plan, bool v6,
                      unsigned *ret_msgs);

/* ---------------------------------------------------------------------------
 * nftables internals shared by nft.c, nft_table.c and nft_call.c.
 */
struct nlmsghdr;
struct nftnl_expr;
struct nftnl_rule;
struct nftnl_table;
struct nftnl_chain;
struct nftnl_set;
struct nftnl_obj;
struct nftnl_udata_buf;
struct mnl_nlmsg_batch;

/* Scoped cleanup of libnftnl objects (nft.c); each accepts NULL. */
void tg_nftnl_table_freep(struct nftnl_table **t);
void tg_nftnl_chain_freep(struct nftnl_chain **c);
void tg_nftnl_set_freep(struct nftnl_set **s);
void tg_nftnl_obj_freep(struct nftnl_obj **o);
void tg_nftnl_rule_freep(struct nftnl_rule **r);
void tg_nftnl_udata_freep(struct nftnl_udata_buf **u);
#define _cleanup_nftnl_table_ _cleanup_(tg_nftnl_table_freep)
#define _cleanup_nftnl_chain_ _cleanup_(tg_nftnl_chain_freep)
#define _cleanup_nftnl_set_   _cleanup_(tg_nftnl_set_freep)
#define _cleanup_nftnl_obj_   _cleanup_(tg_nftnl_obj_freep)
#define _cleanup_nftnl_rule_  _cleanup_(tg_nftnl_rule_freep)
#define _cleanup_nftnl_udata_ _cleanup_(tg_nftnl_udata_freep)

/* A netlink sequence number, unique in this process. */
uint32_t tg_nl_next_seq(void);
/* Buffers: one request; one read of replies (a dump's batch of messages). */
#define TG_NL_BUF      8192
#define TG_NL_DUMP_BUF 32768

/* One transaction being built: BATCH_BEGIN, messages (each asks for an
 * ACK), BATCH_END. */
struct tg_nft_batch {
	struct mnl_nlmsg_batch *b;
	char *buf;
	uint32_t seq, first_seq;
	unsigned n_acks;
	const char **labels; /* per message, for error messages */
	size_t n_labels;
	bool oom, full;
};
/* limit: an upper bound of the batch's size. */
int tg_nft_batch_init(struct tg_nft_batch *bt, size_t limit);
void tg_nft_batch_free(struct tg_nft_batch *bt);
/* Start a message of type (NFT_MSG_*) in the batch; fill it, then call
 * tg_nft_batch_next. label names it in errors (borrowed). */
struct nlmsghdr *tg_nft_batch_msg(struct tg_nft_batch *bt, uint16_t type, uint16_t flags,
                                  const char *label);
void tg_nft_batch_next(struct tg_nft_batch *bt);
/* Send and collect every answer; 0, or the first error with *err. */
int tg_nft_batch_send(struct mnl_socket *nl, struct tg_nft_batch *bt, struct tg_error **err);

/* A rule being built; any allocation failure makes it oom. */
struct tg_nft_rule {
	struct nftnl_rule *r;
	bool oom;
};
int tg_nft_rule_start(struct tg_nft_rule *rb, const char *chain);
void tg_nft_rule_add(struct tg_nft_rule *rb, struct nftnl_expr *e); /* takes e */
void tg_nft_rule_emit(struct tg_nft_batch *bt, struct tg_nft_rule *rb, const char *label);
struct nftnl_expr *tg_nft_meta(uint32_t key, uint32_t dreg);
struct nftnl_expr *tg_nft_cmp(uint32_t sreg, uint32_t op, const void *data, uint32_t len);
struct nftnl_expr *tg_nft_lookup(uint32_t sreg, const char *set, bool verdict);
struct nftnl_expr *tg_nft_verdict(int verdict);
struct nftnl_expr *tg_nft_payload(uint32_t base, uint32_t off, uint32_t len, uint32_t dreg);
struct nftnl_expr *tg_nft_objref(uint32_t type, const char *name);
/* ct state & mask != 0 (three expressions). */
void tg_nft_ct_state_in(struct tg_nft_rule *rb, uint32_t mask);

/* Names of one call's objects. */
struct tg_nft_names {
	char chain[8], set4[8], set6[8], dropped[8], sent[8], quota[8], limit[8];
};
void tg_nft_call_names(unsigned block, unsigned slot, struct tg_nft_names *ret);
void tg_nft_calls_elem(struct tg_nft_batch *bt, uint16_t type, const char *ifname,
                       const char *chain);
void tg_nft_del_chain(struct tg_nft_batch *bt, const char *name);
void tg_nft_del_set(struct tg_nft_batch *bt, const char *name);
void tg_nft_del_obj(struct tg_nft_batch *bt, const char *name, uint32_t type);

#endif /* TG_BROKER_EGRESS_H */
