/* SPDX-License-Identifier: Apache-2.0 */
/*
 * nft_call.c - one call's nftables objects in table "toolgate", added in one
 * transaction and removed in another, and its counters.
 *
 * A call's chain, as `nft list chain inet toolgate c-0a07` prints it:
 *
 *   ip daddr . meta l4proto . th dport @a4-0a07
 *       ct state new limit name "l-0a07" counter name "d-0a07" drop   (rate)
 *   ip daddr . meta l4proto . th dport @a4-0a07
 *       quota name "q-0a07" counter name "d-0a07" drop                (quota)
 *   ip daddr . meta l4proto . th dport @a4-0a07 counter name "s-0a07" accept
 *   (the same three for ip6 daddr / @a6-0a07)
 *   icmpv6 type 135-136 accept                                      (ND)
 *   counter name "d-0a07" drop
 *
 * It is reached only through the element "tge0a07" : jump c-0a07 of map
 * "calls", matched on the interface packets arrive on: a tool that forged
 * its source address would still be judged by its own chain.
 */
#include <arpa/inet.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include <libmnl/libmnl.h>
#include <libnftnl/chain.h>
#include <libnftnl/common.h>
#include <libnftnl/expr.h>
#include <libnftnl/object.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>

#include "egress.h"

/* nft's type ids, so `nft list` prints our sets readably:
 * ipv4_addr (7) . inet_proto (12) . inet_service (13), 6 bits each. */
#define KEY_TYPE_V4 ((7u << 12) | (12u << 6) | 13u)
#define KEY_TYPE_V6 ((8u << 12) | (12u << 6) | 13u)

void tg_nft_call_names(unsigned block, unsigned slot, struct tg_nft_names *n)
{
	unsigned b = block & 0xffu, s = slot & 0xffu;
	snprintf(n->chain, sizeof(n->chain), "c-%02x%02x", b, s);
	snprintf(n->set4, sizeof(n->set4), "a4-%02x%02x", b, s);
	snprintf(n->set6, sizeof(n->set6), "a6-%02x%02x", b, s);
	snprintf(n->dropped, sizeof(n->dropped), "d-%02x%02x", b, s);
	snprintf(n->sent, sizeof(n->sent), "s-%02x%02x", b, s);
	snprintf(n->quota, sizeof(n->quota), "q-%02x%02x", b, s);
	snprintf(n->limit, sizeof(n->limit), "l-%02x%02x", b, s);
}

static void add_obj(struct tg_nft_batch *bt, uint32_t type, const char *name,
                    const struct tg_egress_plan *plan, const char *label)
{
	_cleanup_nftnl_obj_ struct nftnl_obj *o = nftnl_obj_alloc();
	if (!o) {
		bt->oom = true;
		return;
	}
	nftnl_obj_set_u32(o, NFTNL_OBJ_FAMILY, NFPROTO_INET);
	nftnl_obj_set_u32(o, NFTNL_OBJ_TYPE, type);
	/* (These setters report nothing; whether they stuck is checked.) */
	nftnl_obj_set_str(o, NFTNL_OBJ_TABLE, TG_NFT_TABLE);
	nftnl_obj_set_str(o, NFTNL_OBJ_NAME, name);
	if (!nftnl_obj_is_set(o, NFTNL_OBJ_TABLE) || !nftnl_obj_is_set(o, NFTNL_OBJ_NAME))
		bt->oom = true;
	if (type == NFT_OBJECT_QUOTA) {
		/* "over": matches once the call has sent more than its quota. */
		nftnl_obj_set_u64(o, NFTNL_OBJ_QUOTA_BYTES, plan->quota_bytes);
		nftnl_obj_set_u32(o, NFTNL_OBJ_QUOTA_FLAGS, NFT_QUOTA_F_INV);
	} else if (type == NFT_OBJECT_LIMIT) {
		/* "over": matches new connections beyond rate/unit, burst. */
		nftnl_obj_set_u64(o, NFTNL_OBJ_LIMIT_RATE, plan->conn_rate);
		nftnl_obj_set_u64(o, NFTNL_OBJ_LIMIT_UNIT, plan->conn_unit_s);
		nftnl_obj_set_u32(o, NFTNL_OBJ_LIMIT_BURST, plan->conn_burst);
		nftnl_obj_set_u32(o, NFTNL_OBJ_LIMIT_TYPE, NFT_LIMIT_PKTS);
		nftnl_obj_set_u32(o, NFTNL_OBJ_LIMIT_FLAGS, NFT_LIMIT_F_INV);
	}
	if (!bt->oom) {
		struct nlmsghdr *nlh =
		        tg_nft_batch_msg(bt, NFT_MSG_NEWOBJ, NLM_F_CREATE | NLM_F_EXCL, label);
		nftnl_obj_nlmsg_build_payload(nlh, o);
		tg_nft_batch_next(bt);
	}
}

/* Key of one set element: addr . proto . port, each padded to 32 bits. */
static size_t elem_key(const struct tg_egress_elem *e, const struct tg_addr *a, uint16_t port,
                       uint8_t out[24])
{
	size_t alen = e->family == AF_INET ? 4 : 16;
	memset(out, 0, 24);
	memcpy(out, a->a, alen);
	out[alen] = e->l4proto;
	uint16_t be = htons(port);
	memcpy(out + alen + 4, &be, 2);
	return alen + 8;
}

#define ELEMS_PER_MSG 256

static void add_set(struct tg_nft_batch *bt, const char *name, int family,
                    const struct tg_egress_elem *elems, size_t n, uint32_t set_id)
{
	_cleanup_nftnl_set_ struct nftnl_set *s = nftnl_set_alloc();
	if (!s) {
		bt->oom = true;
		return;
	}
	bool v4 = family == AF_INET;
	uint8_t fields[3] = {v4 ? 4 : 16, 1, 2};
	nftnl_set_set_u32(s, NFTNL_SET_FAMILY, NFPROTO_INET);
	nftnl_set_set_u32(s, NFTNL_SET_FLAGS, NFT_SET_INTERVAL | NFT_SET_CONCAT);
	nftnl_set_set_u32(s, NFTNL_SET_KEY_TYPE, v4 ? KEY_TYPE_V4 : KEY_TYPE_V6);
	nftnl_set_set_u32(s, NFTNL_SET_KEY_LEN, v4 ? 12 : 24);
	nftnl_set_set_u32(s, NFTNL_SET_ID, set_id);
	if (nftnl_set_set_str(s, NFTNL_SET_TABLE, TG_NFT_TABLE) < 0 ||
	    nftnl_set_set_str(s, NFTNL_SET_NAME, name) < 0 ||
	    nftnl_set_set_data(s, NFTNL_SET_DESC_CONCAT, fields, sizeof(fields)) < 0)
		bt->oom = true;
	if (!bt->oom) {
		struct nlmsghdr *nlh =
		        tg_nft_batch_msg(bt, NFT_MSG_NEWSET, NLM_F_CREATE | NLM_F_EXCL, name);
		nftnl_set_nlmsg_build_payload(nlh, s);
		tg_nft_batch_next(bt);
	}

	/* Elements, a bounded number per message. */
	for (size_t off = 0; off < n && !bt->oom; off += ELEMS_PER_MSG) {
		_cleanup_nftnl_set_ struct nftnl_set *chunk = nftnl_set_alloc();
		if (!chunk) {
			bt->oom = true;
			break;
		}
		nftnl_set_set_u32(chunk, NFTNL_SET_FAMILY, NFPROTO_INET);
		nftnl_set_set_u32(chunk, NFTNL_SET_ID, set_id);
		if (nftnl_set_set_str(chunk, NFTNL_SET_TABLE, TG_NFT_TABLE) < 0 ||
		    nftnl_set_set_str(chunk, NFTNL_SET_NAME, name) < 0)
			bt->oom = true;
		for (size_t i = off; i < n && i < off + ELEMS_PER_MSG && !bt->oom; i++) {
			struct nftnl_set_elem *e = nftnl_set_elem_alloc();
			if (!e) {
				bt->oom = true;
				break;
			}
			uint8_t k[24], kend[24];
			size_t kl = elem_key(&elems[i], &elems[i].lo, elems[i].port_lo, k);
			elem_key(&elems[i], &elems[i].hi, elems[i].port_hi, kend);
			if (nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY, k, (uint32_t)kl) < 0 ||
			    nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY_END, kend, (uint32_t)kl) < 0)
				bt->oom = true;
			nftnl_set_elem_add(chunk, e);
		}
		if (!bt->oom) {
			struct nlmsghdr *nlh = tg_nft_batch_msg(bt, NFT_MSG_NEWSETELEM,
			                                        NLM_F_CREATE | NLM_F_EXCL, name);
			nftnl_set_elems_nlmsg_build_payload(nlh, chunk);
			tg_nft_batch_next(bt);
		}
	}
}

/* meta nfproto F ip(6) daddr . meta l4proto . th dport @set: the shared
 * head of the per-family rules. */
static void match_allowed(struct tg_nft_rule *rb, int family, const char *set)
{
	bool v4 = family == AF_INET;
	uint8_t nfproto = v4 ? NFPROTO_IPV4 : NFPROTO_IPV6;
	tg_nft_rule_add(rb, tg_nft_meta(NFT_META_NFPROTO, NFT_REG_1));
	tg_nft_rule_add(rb, tg_nft_cmp(NFT_REG_1, NFT_CMP_EQ, &nfproto, 1));
	/* Registers as the set's fields: address, then the next 32-bit
	 * registers for protocol and port. */
	uint32_t r_addr = NFT_REG32_00, r_proto = v4 ? NFT_REG32_01 : NFT_REG32_04,
	         r_port = v4 ? NFT_REG32_02 : NFT_REG32_05;
	tg_nft_rule_add(
	        rb, tg_nft_payload(NFT_PAYLOAD_NETWORK_HEADER, v4 ? 16 : 24, v4 ? 4 : 16, r_addr));
	tg_nft_rule_add(rb, tg_nft_meta(NFT_META_L4PROTO, r_proto));
	/* A non-first fragment has no port: the payload load fails, the rule
	 * does not match, and the packet falls through to the drop. */
	tg_nft_rule_add(rb, tg_nft_payload(NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2, r_port));
	tg_nft_rule_add(rb, tg_nft_lookup(r_addr, set, false));
}

static void add_family_rules(struct tg_nft_batch *bt, const struct tg_nft_names *nm, int family,
                             const struct tg_egress_plan *plan)
{
	const char *set = family == AF_INET ? nm->set4 : nm->set6;
	struct tg_nft_rule rb;
	if (plan->conn_rate) {
		/* Over the new-connection rate: refused and counted (a tool
		 * cannot fan out to scan or flood an allowed network). */
		tg_nft_rule_start(&rb, nm->chain);
		match_allowed(&rb, family, set);
		tg_nft_ct_state_in(&rb, 1u << (2 /* IP_CT_NEW */ + 1));
		tg_nft_rule_add(&rb, tg_nft_objref(NFT_OBJECT_LIMIT, nm->limit));
		tg_nft_rule_add(&rb, tg_nft_objref(NFT_OBJECT_COUNTER, nm->dropped));
		tg_nft_rule_add(&rb, tg_nft_verdict(NF_DROP));
		tg_nft_rule_emit(bt, &rb, "connection rate rule");
	}
	if (plan->quota_bytes) {
		/* Over the byte quota: refused and counted (bounds how much a
		 * compromised tool can exfiltrate to an allowed endpoint). */
		tg_nft_rule_start(&rb, nm->chain);
		match_allowed(&rb, family, set);
		tg_nft_rule_add(&rb, tg_nft_objref(NFT_OBJECT_QUOTA, nm->quota));
		tg_nft_rule_add(&rb, tg_nft_objref(NFT_OBJECT_COUNTER, nm->dropped));
		tg_nft_rule_add(&rb, tg_nft_verdict(NF_DROP));
		tg_nft_rule_emit(bt, &rb, "quota rule");
	}
	tg_nft_rule_start(&rb, nm->chain);
	match_allowed(&rb, family, set);
	tg_nft_rule_add(&rb, tg_nft_objref(NFT_OBJECT_COUNTER, nm->sent));
	tg_nft_rule_add(&rb, tg_nft_verdict(NF_ACCEPT));
	tg_nft_rule_emit(bt, &rb, "allow rule");
}

/* Neighbour discovery to the host side must pass, or no IPv6 packet
 * leaves at all; it is link-local and cannot be forwarded anywhere. */
static void add_nd_rule(struct tg_nft_batch *bt, const char *chain)
{
	struct tg_nft_rule rb;
	uint8_t nfproto = NFPROTO_IPV6, icmp6 = IPPROTO_ICMPV6, lo = 135, hi = 136;
	tg_nft_rule_start(&rb, chain);
	tg_nft_rule_add(&rb, tg_nft_meta(NFT_META_NFPROTO, NFT_REG_1));
	tg_nft_rule_add(&rb, tg_nft_cmp(NFT_REG_1, NFT_CMP_EQ, &nfproto, 1));
	tg_nft_rule_add(&rb, tg_nft_meta(NFT_META_L4PROTO, NFT_REG_1));
	tg_nft_rule_add(&rb, tg_nft_cmp(NFT_REG_1, NFT_CMP_EQ, &icmp6, 1));
	tg_nft_rule_add(&rb, tg_nft_payload(NFT_PAYLOAD_TRANSPORT_HEADER, 0, 1, NFT_REG_1));
	tg_nft_rule_add(&rb, tg_nft_cmp(NFT_REG_1, NFT_CMP_GTE, &lo, 1));
	tg_nft_rule_add(&rb, tg_nft_cmp(NFT_REG_1, NFT_CMP_LTE, &hi, 1));
	tg_nft_rule_add(&rb, tg_nft_verdict(NF_ACCEPT));
	tg_nft_rule_emit(bt, &rb, "neighbour discovery rule");
}

static void add_chain(struct tg_nft_batch *bt, const char *name)
{
	_cleanup_nftnl_chain_ struct nftnl_chain *c = nftnl_chain_alloc();
	if (!c) {
		bt->oom = true;
		return;
	}
	nftnl_chain_set_u32(c, NFTNL_CHAIN_FAMILY, NFPROTO_INET);
	if (nftnl_chain_set_str(c, NFTNL_CHAIN_TABLE, TG_NFT_TABLE) < 0 ||
	    nftnl_chain_set_str(c, NFTNL_CHAIN_NAME, name) < 0)
		bt->oom = true;
	if (!bt->oom) {
		struct nlmsghdr *nlh =
		        tg_nft_batch_msg(bt, NFT_MSG_NEWCHAIN, NLM_F_CREATE | NLM_F_EXCL, name);
		nftnl_chain_nlmsg_build_payload(nlh, c);
		tg_nft_batch_next(bt);
	}
}

/* The element of map "calls": ifname -> jump chain (or just the key, for
 * deletion when chain is NULL). */
void tg_nft_calls_elem(struct tg_nft_batch *bt, uint16_t type, const char *ifname,
                       const char *chain)
{
	_cleanup_nftnl_set_ struct nftnl_set *s = nftnl_set_alloc();
	struct nftnl_set_elem *e = s ? nftnl_set_elem_alloc() : NULL;
	if (!e) {
		bt->oom = true;
		return;
	}
	nftnl_set_elem_add(s, e); /* s owns e from here */
	char key[IFNAMSIZ] = {0};
	snprintf(key, sizeof(key), "%s", ifname);
	nftnl_set_set_u32(s, NFTNL_SET_FAMILY, NFPROTO_INET);
	if (nftnl_set_set_str(s, NFTNL_SET_TABLE, TG_NFT_TABLE) < 0 ||
	    nftnl_set_set_str(s, NFTNL_SET_NAME, "calls") < 0 ||
	    nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY, key, sizeof(key)) < 0)
		bt->oom = true;
	if (chain) {
		nftnl_set_elem_set_u32(e, NFTNL_SET_ELEM_VERDICT, (uint32_t)NFT_JUMP);
		if (nftnl_set_elem_set_str(e, NFTNL_SET_ELEM_CHAIN, chain) < 0)
			bt->oom = true;
	}
	if (!bt->oom) {
		uint16_t flags = type == NFT_MSG_NEWSETELEM ? NLM_F_CREATE | NLM_F_EXCL : 0;
		struct nlmsghdr *nlh = tg_nft_batch_msg(bt, type, flags, "element of map calls");
		nftnl_set_elems_nlmsg_build_payload(nlh, s);
		tg_nft_batch_next(bt);
	}
}

static size_t call_batch_size(const struct tg_egress_plan *plan)
{
	return 64 * 1024 + plan->n_elems * 160;
}

static void build_call(struct tg_nft_batch *bt, unsigned block, unsigned slot, const char *ifname,
                       const struct tg_egress_plan *plan, bool v6)
{
	struct tg_nft_names nm;
	tg_nft_call_names(block, slot, &nm);
	uint32_t id = (block << 8) | slot;
	if (plan->n4)
		add_set(bt, nm.set4, AF_INET, plan->elems, plan->n4, id * 2 + 1);
	if (plan->n6)
		add_set(bt, nm.set6, AF_INET6, plan->elems + plan->n4, plan->n6, id * 2 + 2);
	add_obj(bt, NFT_OBJECT_COUNTER, nm.dropped, plan, nm.dropped);
	add_obj(bt, NFT_OBJECT_COUNTER, nm.sent, plan, nm.sent);
	if (plan->quota_bytes)
		add_obj(bt, NFT_OBJECT_QUOTA, nm.quota, plan, nm.quota);
	if (plan->conn_rate)
		add_obj(bt, NFT_OBJECT_LIMIT, nm.limit, plan, nm.limit);
	add_chain(bt, nm.chain);
	if (plan->n4)
		add_family_rules(bt, &nm, AF_INET, plan);
	if (plan->n6)
		add_family_rules(bt, &nm, AF_INET6, plan);
	if (v6)
		add_nd_rule(bt, nm.chain);
	/* Everything else from this interface, ICMP and DNS included:
	 * counted and dropped (no way out to an endpoint the policy does not
	 * list, no covert channel through a resolver). */
	struct tg_nft_rule rb;
	tg_nft_rule_start(&rb, nm.chain);
	tg_nft_rule_add(&rb, tg_nft_objref(NFT_OBJECT_COUNTER, nm.dropped));
	tg_nft_rule_add(&rb, tg_nft_verdict(NF_DROP));
	tg_nft_rule_emit(bt, &rb, "final drop rule");
	/* Last: the call becomes reachable from the base chains only once
	 * its whole chain exists (and all of it commits at once anyway). */
	tg_nft_calls_elem(bt, NFT_MSG_NEWSETELEM, ifname, nm.chain);
}

int tg_nft_call_build(void *buf, size_t size, uint32_t seq, unsigned block, unsigned slot,
                      const char *ifname, const struct tg_egress_plan *plan, bool v6,
                      unsigned *ret_msgs)
{
	struct tg_nft_batch bt;
	int r = tg_nft_batch_init(&bt, call_batch_size(plan));
	if (r < 0)
		return r;
	bt.seq = bt.first_seq = seq; /* deterministic for tests */
	build_call(&bt, block, slot, ifname, plan, v6);
	if (!bt.oom && !bt.full) {
		nftnl_batch_end(mnl_nlmsg_batch_current(bt.b), bt.seq++);
		mnl_nlmsg_batch_next(bt.b);
	}
	size_t len = mnl_nlmsg_batch_size(bt.b);
	if (bt.oom)
		r = -ENOMEM;
	else if (bt.full || len > size)
		r = -E2BIG;
	else {
		memcpy(buf, mnl_nlmsg_batch_head(bt.b), len);
		*ret_msgs = bt.n_acks;
		r = (int)len;
	}
	tg_nft_batch_free(&bt);
	return r;
}

int tg_nft_call_add(struct mnl_socket *nl, unsigned block, unsigned slot, const char *ifname,
                    const struct tg_egress_plan *plan, bool v6, struct tg_error **err)
{
	struct tg_nft_batch bt;
	int r = tg_nft_batch_init(&bt, call_batch_size(plan));
	if (r < 0)
		return tg_error_set(err, r, "out of memory");
	build_call(&bt, block, slot, ifname, plan, v6);
	r = tg_nft_batch_send(nl, &bt, err);
	tg_nft_batch_free(&bt);
	return r;
}

static void del_named(struct tg_nft_batch *bt, uint16_t type, const char *name, uint32_t obj_type)
{
	struct nlmsghdr *nlh = tg_nft_batch_msg(bt, type, 0, name);
	mnl_attr_put_strz(nlh, type == NFT_MSG_DELOBJ ? NFTA_OBJ_TABLE : NFTA_SET_TABLE,
	                  TG_NFT_TABLE);
	if (type == NFT_MSG_DELOBJ) {
		mnl_attr_put_strz(nlh, NFTA_OBJ_NAME, name);
		mnl_attr_put_u32(nlh, NFTA_OBJ_TYPE, htonl(obj_type));
	} else if (type == NFT_MSG_DELSET) {
		mnl_attr_put_strz(nlh, NFTA_SET_NAME, name);
	}
	tg_nft_batch_next(bt);
}

void tg_nft_del_chain(struct tg_nft_batch *bt, const char *name)
{
	_cleanup_nftnl_rule_ struct nftnl_rule *r = nftnl_rule_alloc();
	_cleanup_nftnl_chain_ struct nftnl_chain *c = nftnl_chain_alloc();
	if (!r || !c) {
		bt->oom = true;
	} else {
		/* All of the chain's rules (no handle), then the chain. */
		nftnl_rule_set_u32(r, NFTNL_RULE_FAMILY, NFPROTO_INET);
		nftnl_chain_set_u32(c, NFTNL_CHAIN_FAMILY, NFPROTO_INET);
		if (nftnl_rule_set_str(r, NFTNL_RULE_TABLE, TG_NFT_TABLE) < 0 ||
		    nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, name) < 0 ||
		    nftnl_chain_set_str(c, NFTNL_CHAIN_TABLE, TG_NFT_TABLE) < 0 ||
		    nftnl_chain_set_str(c, NFTNL_CHAIN_NAME, name) < 0)
			bt->oom = true;
	}
	if (!bt->oom) {
		nftnl_rule_nlmsg_build_payload(tg_nft_batch_msg(bt, NFT_MSG_DELRULE, 0, name), r);
		tg_nft_batch_next(bt);
		nftnl_chain_nlmsg_build_payload(tg_nft_batch_msg(bt, NFT_MSG_DELCHAIN, 0, name), c);
		tg_nft_batch_next(bt);
	}
}

void tg_nft_del_set(struct tg_nft_batch *bt, const char *name)
{
	del_named(bt, NFT_MSG_DELSET, name, 0);
}

void tg_nft_del_obj(struct tg_nft_batch *bt, const char *name, uint32_t type)
{
	del_named(bt, NFT_MSG_DELOBJ, name, type);
}

int tg_nft_call_del(struct mnl_socket *nl, unsigned block, unsigned slot, const char *ifname,
                    const struct tg_egress_plan *plan)
{
	struct tg_nft_names nm;
	tg_nft_call_names(block, slot, &nm);
	struct tg_nft_batch bt;
	int r = tg_nft_batch_init(&bt, 16 * 1024);
	if (r < 0)
		return r;
	/* Order matters within the transaction: the map element refers to
	 * the chain, the rules to the sets and objects. */
	tg_nft_calls_elem(&bt, NFT_MSG_DELSETELEM, ifname, NULL);
	tg_nft_del_chain(&bt, nm.chain);
	if (plan->n4)
		tg_nft_del_set(&bt, nm.set4);
	if (plan->n6)
		tg_nft_del_set(&bt, nm.set6);
	tg_nft_del_obj(&bt, nm.dropped, NFT_OBJECT_COUNTER);
	tg_nft_del_obj(&bt, nm.sent, NFT_OBJECT_COUNTER);
	if (plan->quota_bytes)
		tg_nft_del_obj(&bt, nm.quota, NFT_OBJECT_QUOTA);
	if (plan->conn_rate)
		tg_nft_del_obj(&bt, nm.limit, NFT_OBJECT_LIMIT);
	_cleanup_error_ struct tg_error *err = NULL;
	r = tg_nft_batch_send(nl, &bt, &err);
	if (r < 0)
		tg_log(TG_LOG_WARN, "egress: removing the rules of %s: %s", ifname,
		       tg_error_msg(err));
	tg_nft_batch_free(&bt);
	return r;
}

/* ---------------------------------------------------------------------------
 * Counters.
 */

struct counter_ctx {
	uint64_t pkts, bytes;
	bool found;
};

static int counter_cb(const struct nlmsghdr *nlh, void *data)
{
	struct counter_ctx *cc = data;
	_cleanup_nftnl_obj_ struct nftnl_obj *o = nftnl_obj_alloc();
	if (!o)
		return MNL_CB_ERROR;
	if (nftnl_obj_nlmsg_parse(nlh, o) == 0) {
		cc->pkts = nftnl_obj_get_u64(o, NFTNL_OBJ_CTR_PKTS);
		cc->bytes = nftnl_obj_get_u64(o, NFTNL_OBJ_CTR_BYTES);
		cc->found = true;
	}
	return MNL_CB_OK;
}

static int get_counter(struct mnl_socket *nl, const char *name, uint64_t *ret_pkts,
                       uint64_t *ret_bytes)
{
	char buf[TG_NL_BUF];
	struct nlmsghdr *nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETOBJ, NFPROTO_INET, NLM_F_ACK,
	                                             tg_nl_next_seq());
	mnl_attr_put_strz(nlh, NFTA_OBJ_TABLE, TG_NFT_TABLE);
	mnl_attr_put_strz(nlh, NFTA_OBJ_NAME, name);
	mnl_attr_put_u32(nlh, NFTA_OBJ_TYPE, htonl(NFT_OBJECT_COUNTER));
	struct counter_ctx cc = {0};
	int r = tg_nl_talk(nl, nlh, counter_cb, &cc);
	if (r < 0)
		return r;
	if (!cc.found)
		return -ENOENT;
	*ret_pkts = cc.pkts;
	*ret_bytes = cc.bytes;
	return 0;
}

int tg_nft_call_stats(struct mnl_socket *nl, unsigned block, unsigned slot,
                      struct tg_egress_stats *ret)
{
	struct tg_nft_names nm;
	tg_nft_call_names(block, slot, &nm);
	uint64_t dp, db, sp, sb;
	int r = get_counter(nl, nm.dropped, &dp, &db);
	if (r == 0)
		r = get_counter(nl, nm.sent, &sp, &sb);
	if (r < 0)
		return r;
	*ret = (struct tg_egress_stats){
	        .dropped_packets = dp, .sent_packets = sp, .sent_bytes = sb};
	return 0;
}
