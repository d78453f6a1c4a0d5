/* SPDX-License-Identifier: Apache-2.0 */
/*
 * nft_table.c - the shared table "toolgate": created once by whichever
 * broker needs it first, in one transaction with its base chains, deleted
 * by the last one; and the removal of objects a crashed broker left in it.
 */
#include <arpa/inet.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <string.h>

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

#define COMMENT       "managed by toolgate, see docs/egress.md"
#define COMMENT_GUARD "managed by toolgate, see docs/egress.md; toolgate turned ip_forward on"

static const char ifprefix[] = TG_EGRESS_IF_PREFIX;
#define IFPREFIX_LEN (sizeof(ifprefix) - 1)

static void base_chain(struct tg_nft_batch *bt, const char *name, uint32_t hook, int prio,
                       const char *type)
{
	_cleanup_nftnl_chain_ struct nftnl_chain *c = nftnl_chain_alloc();
	if (!c) {
		bt->oom = true;
		return;
	}
	nftnl_chain_set_u32(c, NFTNL_CHAIN_FAMILY, NFPROTO_INET);
	nftnl_chain_set_u32(c, NFTNL_CHAIN_HOOKNUM, hook);
	nftnl_chain_set_s32(c, NFTNL_CHAIN_PRIO, prio);
	nftnl_chain_set_u32(c, NFTNL_CHAIN_POLICY, NF_ACCEPT);
	if (nftnl_chain_set_str(c, NFTNL_CHAIN_TABLE, TG_NFT_TABLE) < 0 ||
	    nftnl_chain_set_str(c, NFTNL_CHAIN_NAME, name) < 0 ||
	    nftnl_chain_set_str(c, NFTNL_CHAIN_TYPE, type) < 0) {
		bt->oom = true;
		return;
	}
	nftnl_chain_nlmsg_build_payload(tg_nft_batch_msg(bt, NFT_MSG_NEWCHAIN, NLM_F_CREATE, name),
	                                c);
	tg_nft_batch_next(bt);
}

/* meta iifname|oifname "tge*" */
static void match_ours(struct tg_nft_rule *rb, uint32_t key)
{
	tg_nft_rule_add(rb, tg_nft_meta(key, NFT_REG_1));
	tg_nft_rule_add(rb, tg_nft_cmp(NFT_REG_1, NFT_CMP_EQ, ifprefix, IFPREFIX_LEN));
}

/* The first rules of input and forward: a running call's interface jumps
 * to its chain; any other interface of ours (prepared, or a call that is
 * ending) has no business sending anything. */
static void rules_from_calls(struct tg_nft_batch *bt, const char *chain)
{
	struct tg_nft_rule rb;
	tg_nft_rule_start(&rb, chain);
	tg_nft_rule_add(&rb, tg_nft_meta(NFT_META_IIFNAME, NFT_REG_1));
	tg_nft_rule_add(&rb, tg_nft_lookup(NFT_REG_1, "calls", true));
	tg_nft_rule_emit(bt, &rb, "base rule: iifname vmap @calls");

	tg_nft_rule_start(&rb, chain);
	match_ours(&rb, NFT_META_IIFNAME);
	tg_nft_rule_add(&rb, tg_nft_verdict(NF_DROP));
	tg_nft_rule_emit(bt, &rb, "base rule: iifname tge* drop");
}

static void build_table(struct tg_nft_batch *bt, bool guard)
{
	_cleanup_nftnl_table_ struct nftnl_table *t = nftnl_table_alloc();
	_cleanup_nftnl_udata_ struct nftnl_udata_buf *ud = nftnl_udata_buf_alloc(256);
	_cleanup_nftnl_set_ struct nftnl_set *calls = nftnl_set_alloc();
	_cleanup_nftnl_udata_ struct nftnl_udata_buf *cud = nftnl_udata_buf_alloc(64);
	if (!t || !ud || !calls || !cud) {
		bt->oom = true;
		return;
	}
	/* The comment is what `nft list ruleset` shows an administrator, and
	 * the record of whether the last broker must turn forwarding off. */
	nftnl_table_set_u32(t, NFTNL_TABLE_FAMILY, NFPROTO_INET);
	if (nftnl_table_set_str(t, NFTNL_TABLE_NAME, TG_NFT_TABLE) < 0 ||
	    !nftnl_udata_put_strz(ud, NFTNL_UDATA_TABLE_COMMENT, guard ? COMMENT_GUARD : COMMENT) ||
	    nftnl_table_set_data(t, NFTNL_TABLE_USERDATA, nftnl_udata_buf_data(ud),
	                         nftnl_udata_buf_len(ud)) < 0) {
		bt->oom = true;
		return;
	}
	/* EXCL: if another broker made it first, the whole transaction is
	 * refused and theirs stands. */
	nftnl_table_nlmsg_build_payload(
	        tg_nft_batch_msg(bt, NFT_MSG_NEWTABLE, NLM_F_CREATE | NLM_F_EXCL, "table"), t);
	tg_nft_batch_next(bt);

	nftnl_set_set_u32(calls, NFTNL_SET_FAMILY, NFPROTO_INET);
	nftnl_set_set_u32(calls, NFTNL_SET_FLAGS, NFT_SET_MAP);
	nftnl_set_set_u32(calls, NFTNL_SET_KEY_TYPE, 41 /* ifname */);
	nftnl_set_set_u32(calls, NFTNL_SET_KEY_LEN, IFNAMSIZ);
	nftnl_set_set_u32(calls, NFTNL_SET_DATA_TYPE, NFT_DATA_VERDICT);
	nftnl_set_set_u32(calls, NFTNL_SET_DATA_LEN, 0);
	nftnl_set_set_u32(calls, NFTNL_SET_ID, 1);
	/* For `nft list`: the keys are strings (host byte order, 1). */
	if (nftnl_set_set_str(calls, NFTNL_SET_TABLE, TG_NFT_TABLE) < 0 ||
	    nftnl_set_set_str(calls, NFTNL_SET_NAME, "calls") < 0 ||
	    !nftnl_udata_put_u32(cud, NFTNL_UDATA_SET_KEYBYTEORDER, 1) ||
	    nftnl_set_set_data(calls, NFTNL_SET_USERDATA, nftnl_udata_buf_data(cud),
	                       nftnl_udata_buf_len(cud)) < 0) {
		bt->oom = true;
		return;
	}
	nftnl_set_nlmsg_build_payload(tg_nft_batch_msg(bt, NFT_MSG_NEWSET, NLM_F_CREATE, "calls"),
	                              calls);
	tg_nft_batch_next(bt);

	/* Packets from a call to the host itself (its services, the
	 * gateway): the call's own rules decide, like for anything else. */
	base_chain(bt, "input", NF_INET_LOCAL_IN, 0, "filter");
	rules_from_calls(bt, "input");

	base_chain(bt, "forward", NF_INET_FORWARD, 0, "filter");
	rules_from_calls(bt, "forward");
	struct tg_nft_rule rb;
	/* Towards a call: answers only. Nothing on the outside may open a
	 * connection into a tool's namespace. */
	uint32_t est_rel = (1u << (0 + 1)) | (1u << (1 + 1)); /* IP_CT_ESTABLISHED, _RELATED */
	tg_nft_rule_start(&rb, "forward");
	match_ours(&rb, NFT_META_OIFNAME);
	tg_nft_ct_state_in(&rb, est_rel);
	tg_nft_rule_add(&rb, tg_nft_verdict(NF_ACCEPT));
	tg_nft_rule_emit(bt, &rb, "base rule: oifname tge* ct state established,related accept");
	tg_nft_rule_start(&rb, "forward");
	match_ours(&rb, NFT_META_OIFNAME);
	tg_nft_rule_add(&rb, tg_nft_verdict(NF_DROP));
	tg_nft_rule_emit(bt, &rb, "base rule: oifname tge* drop");
	if (guard) {
		/* We turned forwarding on for our calls only: the host must
		 * not start routing between its other interfaces. */
		tg_nft_rule_start(&rb, "forward");
		tg_nft_rule_add(&rb, tg_nft_verdict(NF_DROP));
		tg_nft_rule_emit(bt, &rb, "base rule: forwarding guard");
	}

	base_chain(bt, "postrouting", NF_INET_POST_ROUTING, 100, "nat");
	tg_nft_rule_start(&rb, "postrouting");
	match_ours(&rb, NFT_META_IIFNAME);
	tg_nft_rule_add(&rb, nftnl_expr_alloc("masq"));
	tg_nft_rule_emit(bt, &rb, "base rule: masquerade");
}

int tg_nft_table_ensure(struct mnl_socket *nl, bool guard, bool *ret_created, struct tg_error **err)
{
	struct tg_nft_batch bt;
	int r = tg_nft_batch_init(&bt, 32 * 1024);
	if (r < 0)
		return tg_error_set(err, r, "out of memory");
	build_table(&bt, guard);
	_cleanup_error_ struct tg_error *e = NULL;
	r = tg_nft_batch_send(nl, &bt, &e);
	tg_nft_batch_free(&bt);
	if (r == -EEXIST) {
		*ret_created = false;
		return 0;
	}
	if (r < 0) {
		if (err && !*err)
			*err = steal_pointer(&e);
		return r;
	}
	*ret_created = true;
	return 0;
}

struct table_ctx {
	bool found, guard;
};

static int comment_cb(const struct nftnl_udata *attr, void *data)
{
	const char **comment = data;
	if (nftnl_udata_type(attr) == NFTNL_UDATA_TABLE_COMMENT && nftnl_udata_len(attr) > 0) {
		const char *s = nftnl_udata_get(attr);
		if (s[nftnl_udata_len(attr) - 1] == '\0')
			*comment = s;
	}
	return 0;
}

static int table_cb(const struct nlmsghdr *nlh, void *data)
{
	struct table_ctx *tc = data;
	_cleanup_nftnl_table_ struct nftnl_table *t = nftnl_table_alloc();
	if (!t || nftnl_table_nlmsg_parse(nlh, t) < 0)
		return MNL_CB_ERROR;
	tc->found = true;
	uint32_t len = 0;
	const void *ud = nftnl_table_get_data(t, NFTNL_TABLE_USERDATA, &len);
	const char *comment = NULL;
	if (ud && nftnl_udata_parse(ud, len, comment_cb, &comment) >= 0 && comment)
		tc->guard = strcmp(comment, COMMENT_GUARD) == 0;
	return MNL_CB_OK;
}

int tg_nft_table_get(struct mnl_socket *nl, bool *ret_guard)
{
	char buf[TG_NL_BUF];
	struct nlmsghdr *nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETTABLE, NFPROTO_INET, NLM_F_ACK,
	                                             tg_nl_next_seq());
	mnl_attr_put_strz(nlh, NFTA_TABLE_NAME, TG_NFT_TABLE);
	struct table_ctx tc = {0};
	int r = tg_nl_talk(nl, nlh, table_cb, &tc);
	if (r < 0)
		return r;
	if (!tc.found)
		return -ENOENT;
	*ret_guard = tc.guard;
	return 0;
}

int tg_nft_table_delete(struct mnl_socket *nl)
{
	struct tg_nft_batch bt;
	int r = tg_nft_batch_init(&bt, 4096);
	if (r < 0)
		return r;
	struct nlmsghdr *nlh = tg_nft_batch_msg(&bt, NFT_MSG_DELTABLE, 0, "table");
	mnl_attr_put_strz(nlh, NFTA_TABLE_NAME, TG_NFT_TABLE);
	tg_nft_batch_next(&bt);
	_cleanup_error_ struct tg_error *e = NULL;
	r = tg_nft_batch_send(nl, &bt, &e);
	tg_nft_batch_free(&bt);
	return r;
}

/* ---------------------------------------------------------------------------
 * Stale objects: per-call chains, sets, objects and map elements whose
 * block's broker is gone.
 */

struct stale_ctx {
	bool (*stale)(unsigned block, unsigned slot, void *data);
	void *data;
	char **chains, **sets, **ifnames;
	char **objs; /* "name" */
	uint32_t *obj_types;
	size_t n_objs;
	int r;
};

static bool stale_name(struct stale_ctx *sc, const char *name, const char *const *prefixes)
{
	for (size_t i = 0; prefixes[i]; i++) {
		unsigned b, s;
		if (tg_egress_parse_id(name, prefixes[i], &b, &s) == 0)
			return sc->stale(b, s, sc->data);
	}
	return false;
}

static int chain_cb(const struct nlmsghdr *nlh, void *data)
{
	struct stale_ctx *sc = data;
	_cleanup_nftnl_chain_ struct nftnl_chain *c = nftnl_chain_alloc();
	if (!c || nftnl_chain_nlmsg_parse(nlh, c) < 0)
		return MNL_CB_ERROR;
	const char *table = nftnl_chain_get_str(c, NFTNL_CHAIN_TABLE);
	const char *name = nftnl_chain_get_str(c, NFTNL_CHAIN_NAME);
	static const char *const pfx[] = {"c-", NULL};
	if (table && name && strcmp(table, TG_NFT_TABLE) == 0 && stale_name(sc, name, pfx) &&
	    sc->r == 0)
		sc->r = tg_strv_push(&sc->chains, name);
	return MNL_CB_OK;
}

static int sets_cb(const struct nlmsghdr *nlh, void *data)
{
	struct stale_ctx *sc = data;
	_cleanup_nftnl_set_ struct nftnl_set *s = nftnl_set_alloc();
	if (!s || nftnl_set_nlmsg_parse(nlh, s) < 0)
		return MNL_CB_ERROR;
	const char *table = nftnl_set_get_str(s, NFTNL_SET_TABLE);
	const char *name = nftnl_set_get_str(s, NFTNL_SET_NAME);
	static const char *const pfx[] = {"a4-", "a6-", NULL};
	if (table && name && strcmp(table, TG_NFT_TABLE) == 0 && stale_name(sc, name, pfx) &&
	    sc->r == 0)
		sc->r = tg_strv_push(&sc->sets, name);
	return MNL_CB_OK;
}

static int obj_cb(const struct nlmsghdr *nlh, void *data)
{
	struct stale_ctx *sc = data;
	_cleanup_nftnl_obj_ struct nftnl_obj *o = nftnl_obj_alloc();
	if (!o || nftnl_obj_nlmsg_parse(nlh, o) < 0)
		return MNL_CB_ERROR;
	const char *table = nftnl_obj_get_str(o, NFTNL_OBJ_TABLE);
	const char *name = nftnl_obj_get_str(o, NFTNL_OBJ_NAME);
	static const char *const pfx[] = {"d-", "s-", "q-", "l-", NULL};
	if (table && name && strcmp(table, TG_NFT_TABLE) == 0 && stale_name(sc, name, pfx) &&
	    sc->r == 0) {
		uint32_t *t = realloc(sc->obj_types, (sc->n_objs + 1) * sizeof(*t));
		if (!t) {
			sc->r = -ENOMEM;
		} else {
			sc->obj_types = t;
			t[sc->n_objs] = nftnl_obj_get_u32(o, NFTNL_OBJ_TYPE);
			sc->r = tg_strv_push(&sc->objs, name);
			if (sc->r == 0)
				sc->n_objs++;
		}
	}
	return MNL_CB_OK;
}

static int elem_cb(struct nftnl_set_elem *e, void *data)
{
	struct stale_ctx *sc = data;
	uint32_t len = 0;
	const char *key = nftnl_set_elem_get(e, NFTNL_SET_ELEM_KEY, &len);
	char name[IFNAMSIZ + 1] = {0};
	if (!key || len == 0 || len > IFNAMSIZ)
		return 0;
	memcpy(name, key, len);
	static const char *const pfx[] = {TG_EGRESS_IF_PREFIX, NULL};
	if (stale_name(sc, name, pfx) && sc->r == 0)
		sc->r = tg_strv_push(&sc->ifnames, name);
	return 0;
}

static int elems_cb(const struct nlmsghdr *nlh, void *data)
{
	_cleanup_nftnl_set_ struct nftnl_set *s = nftnl_set_alloc();
	if (!s || nftnl_set_elems_nlmsg_parse(nlh, s) < 0)
		return MNL_CB_ERROR;
	nftnl_set_elem_foreach(s, elem_cb, data);
	return MNL_CB_OK;
}

static int dump(struct mnl_socket *nl, uint16_t type, int (*cb)(const struct nlmsghdr *, void *),
                struct stale_ctx *sc)
{
	char buf[TG_NL_BUF];
	struct nlmsghdr *nlh = nftnl_nlmsg_build_hdr(buf, type, NFPROTO_INET,
	                                             NLM_F_DUMP | NLM_F_ACK, tg_nl_next_seq());
	switch (type) {
	case NFT_MSG_GETSET:
		mnl_attr_put_strz(nlh, NFTA_SET_TABLE, TG_NFT_TABLE);
		break;
	case NFT_MSG_GETOBJ:
		mnl_attr_put_strz(nlh, NFTA_OBJ_TABLE, TG_NFT_TABLE);
		break;
	case NFT_MSG_GETSETELEM:
		mnl_attr_put_strz(nlh, NFTA_SET_ELEM_LIST_TABLE, TG_NFT_TABLE);
		mnl_attr_put_strz(nlh, NFTA_SET_ELEM_LIST_SET, "calls");
		break;
	default:
		break;
	}
	int r = tg_nl_talk(nl, nlh, cb, sc);
	return r < 0 ? r : sc->r;
}

int tg_nft_cleanup_stale(struct mnl_socket *nl,
                         bool (*stale)(unsigned block, unsigned slot, void *data), void *data,
                         unsigned *ret_removed)
{
	struct stale_ctx sc = {.stale = stale, .data = data};
	int r = dump(nl, NFT_MSG_GETSETELEM, elems_cb, &sc);
	if (r == 0)
		r = dump(nl, NFT_MSG_GETCHAIN, chain_cb, &sc);
	if (r == 0)
		r = dump(nl, NFT_MSG_GETSET, sets_cb, &sc);
	if (r == 0)
		r = dump(nl, NFT_MSG_GETOBJ, obj_cb, &sc);
	unsigned n = (unsigned)(tg_strv_len(sc.ifnames) + tg_strv_len(sc.chains) +
	                        tg_strv_len(sc.sets) + sc.n_objs);
	if (r == 0 && n > 0) {
		struct tg_nft_batch bt;
		r = tg_nft_batch_init(&bt, 8192 + (size_t)n * 512);
		if (r == 0) {
			/* The same order as a call's own teardown. */
			for (size_t i = 0; sc.ifnames && sc.ifnames[i]; i++)
				tg_nft_calls_elem(&bt, NFT_MSG_DELSETELEM, sc.ifnames[i], NULL);
			for (size_t i = 0; sc.chains && sc.chains[i]; i++)
				tg_nft_del_chain(&bt, sc.chains[i]);
			for (size_t i = 0; sc.sets && sc.sets[i]; i++)
				tg_nft_del_set(&bt, sc.sets[i]);
			for (size_t i = 0; i < sc.n_objs; i++)
				tg_nft_del_obj(&bt, sc.objs[i], sc.obj_types[i]);
			_cleanup_error_ struct tg_error *e = NULL;
			r = tg_nft_batch_send(nl, &bt, &e);
			if (r < 0)
				tg_log(TG_LOG_WARN, "egress: removing stale rules: %s",
				       tg_error_msg(e));
			tg_nft_batch_free(&bt);
		}
	}
	tg_strv_free(sc.chains);
	tg_strv_free(sc.sets);
	tg_strv_free(sc.ifnames);
	tg_strv_free(sc.objs);
	free(sc.obj_types);
	if (r == -ENOENT) /* no table: nothing stale */
		r = 0;
	if (r == 0 && ret_removed)
		*ret_removed = n;
	return r;
}
