/* SPDX-License-Identifier: Apache-2.0 */
/*
 * nft.c - talking to nftables through libnftnl + libmnl: transactions
 * (batches whose every message is answered), the expressions our rules are
 * made of, and plain requests. What the rules are: nft_table.c (the shared
 * table and its base chains) and nft_call.c (each call's objects).
 */
#include <netinet/in.h>

#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
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
#include <libnftnl/table.h>
#include <libnftnl/udata.h>

#include "egress.h"

void tg_nftnl_table_freep(struct nftnl_table **t)
{
	if (*t)
		nftnl_table_free(*t);
}

void tg_nftnl_chain_freep(struct nftnl_chain **c)
{
	if (*c)
		nftnl_chain_free(*c);
}

void tg_nftnl_set_freep(struct nftnl_set **s)
{
	if (*s)
		nftnl_set_free(*s);
}

void tg_nftnl_obj_freep(struct nftnl_obj **o)
{
	if (*o)
		nftnl_obj_free(*o);
}

void tg_nftnl_rule_freep(struct nftnl_rule **r)
{
	if (*r)
		nftnl_rule_free(*r);
}

void tg_nftnl_udata_freep(struct nftnl_udata_buf **u)
{
	if (*u)
		nftnl_udata_buf_free(*u);
}

/* ---------------------------------------------------------------------------
 * Batches.
 */

int tg_nft_batch_init(struct tg_nft_batch *bt, size_t limit)
{
	memset(bt, 0, sizeof(*bt));
	/* libmnl's contract: the buffer is twice the limit, so the message
	 * that crosses the limit still fits. */
	bt->buf = malloc(2 * limit);
	if (!bt->buf)
		return -ENOMEM;
	bt->b = mnl_nlmsg_batch_start(bt->buf, limit);
	if (!bt->b) {
		free(bt->buf);
		return -ENOMEM;
	}
	bt->seq = bt->first_seq = tg_nl_next_seq();
	nftnl_batch_begin(mnl_nlmsg_batch_current(bt->b), bt->seq++);
	mnl_nlmsg_batch_next(bt->b);
	return 0;
}

void tg_nft_batch_free(struct tg_nft_batch *bt)
{
	if (bt->b)
		mnl_nlmsg_batch_stop(bt->b);
	free(bt->buf);
	free(bt->labels);
	memset(bt, 0, sizeof(*bt));
}

struct nlmsghdr *tg_nft_batch_msg(struct tg_nft_batch *bt, uint16_t type, uint16_t flags,
                                  const char *label)
{
	uint32_t idx = bt->seq - bt->first_seq;
	if (idx >= bt->n_labels) {
		size_t n = bt->n_labels ? bt->n_labels * 2 : 32;
		const char **l = realloc(bt->labels, n * sizeof(*l));
		if (!l) {
			bt->oom = true;
			n = bt->n_labels;
		} else {
			bt->labels = l;
		}
		for (size_t i = bt->n_labels; l && i < n; i++)
			bt->labels[i] = NULL;
		bt->n_labels = n;
	}
	if (idx < bt->n_labels)
		bt->labels[idx] = label;
	bt->n_acks++;
	return nftnl_nlmsg_build_hdr(mnl_nlmsg_batch_current(bt->b), type, NFPROTO_INET,
	                             flags | NLM_F_ACK, bt->seq++);
}

void tg_nft_batch_next(struct tg_nft_batch *bt)
{
	/* Our size estimate is an upper bound; crossing it is a bug here,
	 * reported instead of sending half a transaction. */
	if (!mnl_nlmsg_batch_next(bt->b))
		bt->full = true;
}

static const char *label_of(const struct tg_nft_batch *bt, uint32_t seq)
{
	uint32_t idx = seq - bt->first_seq;
	return idx < bt->n_labels && bt->labels[idx] ? bt->labels[idx] : "batch";
}

int tg_nft_batch_send(struct mnl_socket *nl, struct tg_nft_batch *bt, struct tg_error **err)
{
	if (bt->oom)
		return tg_error_set(err, -ENOMEM, "out of memory");
	if (bt->full)
		return tg_error_set(err, -E2BIG, "nftables batch larger than planned");
	nftnl_batch_end(mnl_nlmsg_batch_current(bt->b), bt->seq++);
	mnl_nlmsg_batch_next(bt->b);
	size_t len = mnl_nlmsg_batch_size(bt->b);
	int fd = mnl_socket_get_fd(nl);
	if (len > 128 * 1024) {
		int sz = (int)len * 2;
		/* Root may exceed the default socket buffer; a big set must
		 * still go in one transaction. */
		(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sz, sizeof(sz));
	}
	if (mnl_socket_sendto(nl, mnl_nlmsg_batch_head(bt->b), len) < 0)
		return tg_error_set(err, -errno, "nftables: send: %m");
	/* The kernel runs the whole transaction inside sendmsg, so every
	 * answer is queued by now; the receive timeout only bounds a kernel
	 * that drops some. */
	char buf[TG_NL_BUF];
	unsigned got = 0;
	int first = 0;
	uint32_t bad_seq = 0;
	/* A refusal of the batch as a whole (e.g. -EPERM) answers its
	 * BATCH_BEGIN only, and then nothing else comes. */
	bool whole = false;
	for (int i = 0; got < bt->n_acks && !whole && i < 100000; i++) {
		ssize_t n = mnl_socket_recvfrom(nl, buf, sizeof(buf));
		if (n < 0 && first)
			break;
		if (n < 0) {
			int e = errno == EAGAIN || errno == EWOULDBLOCK ? -ETIMEDOUT : -errno;
			return tg_error_set(err, e,
			                    "nftables: waiting for the kernel's answer: %m");
		}
		int left = (int)n;
		for (const struct nlmsghdr *h = (const struct nlmsghdr *)buf; mnl_nlmsg_ok(h, left);
		     h = mnl_nlmsg_next(h, &left)) {
			if (h->nlmsg_type != NLMSG_ERROR)
				continue;
			const struct nlmsgerr *e = mnl_nlmsg_get_payload(h);
			uint32_t seq = e->msg.nlmsg_seq;
			if (seq - bt->first_seq >= bt->seq - bt->first_seq)
				continue; /* not this batch's */
			got += seq != bt->first_seq;
			whole |= seq == bt->first_seq;
			if (e->error && !first) {
				first = e->error;
				bad_seq = seq;
			}
		}
	}
	if (first)
		return tg_error_set(err, first, "nftables: %s: %m", label_of(bt, bad_seq));
	return 0;
}

/* ---------------------------------------------------------------------------
 * Expressions. Each returns NULL when out of memory.
 */

struct nftnl_expr *tg_nft_meta(uint32_t key, uint32_t dreg)
{
	struct nftnl_expr *e = nftnl_expr_alloc("meta");
	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_META_KEY, key);
		nftnl_expr_set_u32(e, NFTNL_EXPR_META_DREG, dreg);
	}
	return e;
}

struct nftnl_expr *tg_nft_cmp(uint32_t sreg, uint32_t op, const void *data, uint32_t len)
{
	struct nftnl_expr *e = nftnl_expr_alloc("cmp");
	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_SREG, sreg);
		nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_OP, op);
		nftnl_expr_set(e, NFTNL_EXPR_CMP_DATA, data, len);
	}
	return e;
}

struct nftnl_expr *tg_nft_payload(uint32_t base, uint32_t off, uint32_t len, uint32_t dreg)
{
	struct nftnl_expr *e = nftnl_expr_alloc("payload");
	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_BASE, base);
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET, off);
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_LEN, len);
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_DREG, dreg);
	}
	return e;
}

/* Look reg up in set; verdict: use the map's verdict. */
struct nftnl_expr *tg_nft_lookup(uint32_t sreg, const char *set, bool verdict)
{
	struct nftnl_expr *e = nftnl_expr_alloc("lookup");
	if (!e)
		return NULL;
	nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SREG, sreg);
	if (verdict)
		nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_DREG, NFT_REG_VERDICT);
	if (nftnl_expr_set_str(e, NFTNL_EXPR_LOOKUP_SET, set) < 0) {
		nftnl_expr_free(e);
		return NULL;
	}
	return e;
}

/* (ct state & mask) != 0 takes three expressions. */
void tg_nft_ct_state_in(struct tg_nft_rule *rb, uint32_t mask)
{
	struct nftnl_expr *ct = nftnl_expr_alloc("ct");
	if (ct) {
		nftnl_expr_set_u32(ct, NFTNL_EXPR_CT_KEY, NFT_CT_STATE);
		nftnl_expr_set_u32(ct, NFTNL_EXPR_CT_DREG, NFT_REG_1);
	}
	tg_nft_rule_add(rb, ct);
	struct nftnl_expr *bw = nftnl_expr_alloc("bitwise");
	uint32_t zero = 0;
	if (bw) {
		nftnl_expr_set_u32(bw, NFTNL_EXPR_BITWISE_SREG, NFT_REG_1);
		nftnl_expr_set_u32(bw, NFTNL_EXPR_BITWISE_DREG, NFT_REG_1);
		nftnl_expr_set_u32(bw, NFTNL_EXPR_BITWISE_LEN, sizeof(uint32_t));
		nftnl_expr_set(bw, NFTNL_EXPR_BITWISE_MASK, &mask, sizeof(mask));
		nftnl_expr_set(bw, NFTNL_EXPR_BITWISE_XOR, &zero, sizeof(zero));
	}
	tg_nft_rule_add(rb, bw);
	tg_nft_rule_add(rb, tg_nft_cmp(NFT_REG_1, NFT_CMP_NEQ, &zero, sizeof(zero)));
}

struct nftnl_expr *tg_nft_objref(uint32_t type, const char *name)
{
	struct nftnl_expr *e = nftnl_expr_alloc("objref");
	if (!e)
		return NULL;
	nftnl_expr_set_u32(e, NFTNL_EXPR_OBJREF_IMM_TYPE, type);
	if (nftnl_expr_set_str(e, NFTNL_EXPR_OBJREF_IMM_NAME, name) < 0) {
		nftnl_expr_free(e);
		return NULL;
	}
	return e;
}

struct nftnl_expr *tg_nft_verdict(int verdict)
{
	struct nftnl_expr *e = nftnl_expr_alloc("immediate");
	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, NFT_REG_VERDICT);
		nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_VERDICT, (uint32_t)verdict);
	}
	return e;
}

int tg_nft_rule_start(struct tg_nft_rule *rb, const char *chain)
{
	memset(rb, 0, sizeof(*rb));
	rb->r = nftnl_rule_alloc();
	if (!rb->r) {
		rb->oom = true;
		return -ENOMEM;
	}
	nftnl_rule_set_u32(rb->r, NFTNL_RULE_FAMILY, NFPROTO_INET);
	if (nftnl_rule_set_str(rb->r, NFTNL_RULE_TABLE, TG_NFT_TABLE) < 0 ||
	    nftnl_rule_set_str(rb->r, NFTNL_RULE_CHAIN, chain) < 0)
		rb->oom = true;
	return 0;
}

void tg_nft_rule_add(struct tg_nft_rule *rb, struct nftnl_expr *e)
{
	if (!e || !rb->r) {
		rb->oom = true;
		if (e)
			nftnl_expr_free(e);
		return;
	}
	nftnl_rule_add_expr(rb->r, e);
}

/* Append the rule to the batch and free it. */
void tg_nft_rule_emit(struct tg_nft_batch *bt, struct tg_nft_rule *rb, const char *label)
{
	if (rb->oom || !rb->r) {
		bt->oom = true;
	} else {
		struct nlmsghdr *nlh =
		        tg_nft_batch_msg(bt, NFT_MSG_NEWRULE, NLM_F_CREATE | NLM_F_APPEND, label);
		nftnl_rule_nlmsg_build_payload(nlh, rb->r);
		tg_nft_batch_next(bt);
	}
	if (rb->r)
		nftnl_rule_free(rb->r);
	rb->r = NULL;
}

