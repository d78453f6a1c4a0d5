/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Egress rule building: policy rules (+ resolved names) -> disjoint set
 * elements, and the nftables transaction built from them.
 *
 * Plan cases are one line each: rules, then the expected elements in order
 * ("tcp|udp LO[-HI] PORT[-PORT]"), separated by " ; ". A rule is
 * "cidr=X|host=NAME [ports=P,P] [proto=tcp|udp|both]"; host names resolve
 * through the fixed table `names` below.
 */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>
#include <libmnl/libmnl.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>

#include "egress.h"
#include "policy.h"
#include "tg.h"

struct plan_case {
	const char *rules;
	const char *elems;
};

static const struct plan_case cases[] = {
        {"cidr=198.51.100.7 ports=80", "tcp 198.51.100.7 80"},
        {"cidr=198.51.100.7 ports=80 proto=both", "tcp 198.51.100.7 80 ; udp 198.51.100.7 80"},
        {"cidr=198.51.100.7 ports=53 proto=udp", "udp 198.51.100.7 53"},
        /* no ports: every port but DNS (53) and DNS over TLS (853) */
        {"cidr=192.0.2.0/24", "tcp 192.0.2.0-192.0.2.255 1-52 ; tcp 192.0.2.0-192.0.2.255 54-852 ; "
                              "tcp 192.0.2.0-192.0.2.255 854-65535"},
        {"cidr=192.0.2.0/24 ; cidr=192.0.2.9 ports=53",
         "tcp 192.0.2.0-192.0.2.8 1-52 ; tcp 192.0.2.0-192.0.2.8 54-852 ; "
         "tcp 192.0.2.0-192.0.2.8 854-65535 ; tcp 192.0.2.9 1-852 ; tcp 192.0.2.9 854-65535 ; "
         "tcp 192.0.2.10-192.0.2.255 1-52 ; tcp 192.0.2.10-192.0.2.255 54-852 ; "
         "tcp 192.0.2.10-192.0.2.255 854-65535"},
        /* adjacent ports and networks merge; overlaps split */
        {"cidr=10.0.0.1 ports=80,81,82,443", "tcp 10.0.0.1 80-82 ; tcp 10.0.0.1 443"},
        {"cidr=10.0.0.0/25 ports=22 ; cidr=10.0.0.128/25 ports=22", "tcp 10.0.0.0-10.0.0.255 22"},
        {"cidr=10.0.0.0/8 ports=443 ; cidr=10.1.2.3 ports=80,443",
         "tcp 10.0.0.0-10.1.2.2 443 ; tcp 10.1.2.3 80 ; tcp 10.1.2.3 443 ; "
         "tcp 10.1.2.4-10.255.255.255 443"},
        {"cidr=10.1.2.3 ports=443 ; cidr=10.0.0.0/8 ports=443", "tcp 10.0.0.0-10.255.255.255 443"},
        {"cidr=0.0.0.0/0 ports=80", "tcp 0.0.0.0-255.255.255.255 80"},
        /* IPv6 after IPv4, whatever the rule order */
        {"cidr=2001:db8::/32 ports=443 ; cidr=192.0.2.1 ports=443",
         "tcp 192.0.2.1 443 ; tcp 2001:db8::-2001:db8:ffff:ffff:ffff:ffff:ffff:ffff 443"},
        {"cidr=::/0 ports=1 proto=udp", "udp ::-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 1"},
        /* names: every address they resolved to */
        {"host=a.example ports=443", "tcp 192.0.2.7 443 ; tcp 2001:db8::7 443"},
        {"host=a.example ports=443 ; host=b.example ports=443 ; cidr=192.0.2.8 ports=443",
         "tcp 192.0.2.7-192.0.2.8 443 ; tcp 2001:db8::7 443"},
};

/* Fixed resolution for the cases. */
static const struct {
	const char *name;
	const char *addrs[3];
} names[] = {
        {"a.example", {"192.0.2.7", "2001:db8::7", NULL}},
        {"b.example", {"192.0.2.7", NULL}},
};

struct built {
	struct tg_network net;
	struct tg_egress_rule rules[8];
	uint16_t ports[8][8];
	struct tg_egress_resolved res[8];
	struct tg_addr addrs[8][3];
	char text[512];
};

static void parse_rules(const char *spec, struct built *b)
{
	memset(b, 0, sizeof(*b));
	snprintf(b->text, sizeof(b->text), "%s", spec);
	b->net.egress_enabled = true;
	b->net.egress = b->rules;
	char *save = NULL;
	for (char *r = strtok_r(b->text, ";", &save); r; r = strtok_r(NULL, ";", &save)) {
		size_t i = b->net.n_egress++;
		struct tg_egress_rule *rule = &b->rules[i];
		rule->proto = TG_NET_TCP;
		char *save2 = NULL;
		for (char *kv = strtok_r(r, " ", &save2); kv; kv = strtok_r(NULL, " ", &save2)) {
			if (strncmp(kv, "cidr=", 5) == 0) {
				rule->cidr = kv + 5;
			} else if (strncmp(kv, "host=", 5) == 0) {
				rule->host = kv + 5;
				for (size_t n = 0; n < TG_ARRAY_SIZE(names); n++) {
					if (strcmp(names[n].name, rule->host) != 0)
						continue;
					size_t k = 0;
					for (; names[n].addrs[k]; k++) {
						unsigned len;
						assert_int_equal(
						        tg_addr_parse_cidr(names[n].addrs[k],
						                           &b->addrs[i][k], &len),
						        0);
					}
					b->res[i] = (struct tg_egress_resolved){b->addrs[i], k};
				}
			} else if (strncmp(kv, "ports=", 6) == 0) {
				rule->ports = b->ports[i];
				for (char *p = kv + 6; *p;
				     p = strchr(p, ',') ? strchr(p, ',') + 1 : "")
					rule->ports[rule->n_ports++] = (uint16_t)atoi(p);
			} else if (strcmp(kv, "proto=udp") == 0) {
				rule->proto = TG_NET_UDP;
			} else if (strcmp(kv, "proto=both") == 0) {
				rule->proto = TG_NET_BOTH;
			} else {
				fail_msg("bad rule word '%s'", kv);
			}
		}
	}
}

static void render(const struct tg_egress_plan *p, char *out, size_t size)
{
	size_t off = 0;
	out[0] = '\0';
	for (size_t i = 0; i < p->n_elems; i++) {
		const struct tg_egress_elem *e = &p->elems[i];
		char lo[INET6_ADDRSTRLEN], hi[INET6_ADDRSTRLEN], ports[16], addrs[100];
		tg_addr_str(&e->lo, lo, sizeof(lo));
		tg_addr_str(&e->hi, hi, sizeof(hi));
		if (strcmp(lo, hi) == 0)
			snprintf(addrs, sizeof(addrs), "%s", lo);
		else
			snprintf(addrs, sizeof(addrs), "%s-%s", lo, hi);
		if (e->port_lo == e->port_hi)
			snprintf(ports, sizeof(ports), "%u", e->port_lo);
		else
			snprintf(ports, sizeof(ports), "%u-%u", e->port_lo, e->port_hi);
		off += (size_t)snprintf(out + off, size - off, "%s%s %s %s", i ? " ; " : "",
		                        e->l4proto == IPPROTO_TCP ? "tcp" : "udp", addrs, ports);
	}
}

static void test_plan_cases(void **state)
{
	(void)state;
	for (size_t i = 0; i < TG_ARRAY_SIZE(cases); i++) {
		struct built b;
		parse_rules(cases[i].rules, &b);
		struct tg_egress_plan p;
		struct tg_error *err = NULL;
		int r = tg_egress_plan_build(&b.net, b.res, &p, &err);
		if (r < 0)
			fail_msg("case %zu (%s): %s", i, cases[i].rules, tg_error_msg(err));
		char got[2048];
		render(&p, got, sizeof(got));
		if (strcmp(got, cases[i].elems) != 0)
			fail_msg("case %zu: %s\n  want: %s\n  got:  %s", i, cases[i].rules,
			         cases[i].elems, got);
		assert_int_equal(p.n4 + p.n6, p.n_elems);
		for (size_t k = 0; k < p.n_elems; k++)
			assert_int_equal(p.elems[k].family, k < p.n4 ? AF_INET : AF_INET6);
		tg_egress_plan_clear(&p);
	}
}

static void test_plan_hosts_lines(void **state)
{
	(void)state;
	struct built b;
	parse_rules("host=a.example ports=443 ; host=a.example ports=80 ; cidr=192.0.2.1", &b);
	struct tg_egress_plan p;
	assert_int_equal(tg_egress_plan_build(&b.net, b.res, &p, NULL), 0);
	/* A name listed twice is pinned once; a cidr is not pinned. */
	assert_string_equal(p.hosts, "192.0.2.7\ta.example\n2001:db8::7\ta.example\n");
	tg_egress_plan_clear(&p);

	parse_rules("cidr=192.0.2.1 ports=1", &b);
	assert_int_equal(tg_egress_plan_build(&b.net, b.res, &p, NULL), 0);
	assert_null(p.hosts);
	tg_egress_plan_clear(&p);
}

static void test_plan_limits(void **state)
{
	(void)state;
	struct built b;
	parse_rules("cidr=192.0.2.1 ports=443", &b);
	b.net.quota_bytes = 65536;
	b.net.conn_rate = 3;
	b.net.conn_per_ms = 1500;
	struct tg_egress_plan p;
	assert_int_equal(tg_egress_plan_build(&b.net, b.res, &p, NULL), 0);
	assert_int_equal(p.quota_bytes, 65536);
	/* 3 per 1.5 s = 2 per second, in nft's whole-second units */
	assert_int_equal(p.conn_rate, 2);
	assert_int_equal(p.conn_unit_s, 1);
	assert_int_equal(p.conn_burst, 3);
	tg_egress_plan_clear(&p);

	b.net.conn_rate = 1;
	b.net.conn_per_ms = 10000;
	b.net.conn_burst = 2;
	assert_int_equal(tg_egress_plan_build(&b.net, b.res, &p, NULL), 0);
	assert_int_equal(p.conn_rate, 1);
	assert_int_equal(p.conn_unit_s, 10);
	assert_int_equal(p.conn_burst, 2);
	tg_egress_plan_clear(&p);
}

static void test_plan_errors(void **state)
{
	(void)state;
	struct built b;
	parse_rules("cidr=192.0.2.1/24 ports=1", &b);
	struct tg_egress_plan p;
	struct tg_error *err = NULL;
	assert_int_equal(tg_egress_plan_build(&b.net, b.res, &p, &err), -EINVAL);
	assert_non_null(strstr(tg_error_msg(err), "invalid cidr"));
	tg_error_free(err);
	err = NULL;

	/* Every other port of 8400: more elements than one set may hold. */
	static uint16_t many[4200];
	for (size_t i = 0; i < TG_ARRAY_SIZE(many); i++)
		many[i] = (uint16_t)(1 + 2 * i);
	parse_rules("cidr=192.0.2.1", &b);
	b.rules[0].ports = many;
	b.rules[0].n_ports = TG_ARRAY_SIZE(many);
	assert_int_equal(tg_egress_plan_build(&b.net, b.res, &p, &err), -E2BIG);
	assert_non_null(strstr(tg_error_msg(err), "more than"));
	tg_error_free(err);
}

/* ---------------------------------------------------------------------------
 * The transaction: message order and contents, parsed back with libnftnl.
 */

struct msgs {
	uint16_t type[64];
	size_t n;
	char rules[16][1024];
	size_t n_rules;
	size_t set_elems;
	char calls_chain[32];
};

static int collect_elem(struct nftnl_set_elem *e, void *data)
{
	struct msgs *m = data;
	const char *chain = nftnl_set_elem_get_str(e, NFTNL_SET_ELEM_CHAIN);
	if (chain)
		snprintf(m->calls_chain, sizeof(m->calls_chain), "%s", chain);
	else
		m->set_elems++;
	return 0;
}

static void parse_batch(const char *buf, int len, struct msgs *m)
{
	memset(m, 0, sizeof(*m));
	for (const struct nlmsghdr *h = (const struct nlmsghdr *)buf; mnl_nlmsg_ok(h, len);
	     h = mnl_nlmsg_next(h, &len)) {
		uint16_t type =
		        h->nlmsg_type == NFNL_MSG_BATCH_BEGIN || h->nlmsg_type == NFNL_MSG_BATCH_END
		                ? h->nlmsg_type
		                : (uint16_t)(h->nlmsg_type & 0xff);
		assert_true(m->n < TG_ARRAY_SIZE(m->type));
		m->type[m->n++] = type;
		if (type == NFT_MSG_NEWRULE) {
			struct nftnl_rule *r = nftnl_rule_alloc();
			assert_int_equal(nftnl_rule_nlmsg_parse(h, r), 0);
			assert_true(m->n_rules < TG_ARRAY_SIZE(m->rules));
			nftnl_rule_snprintf(m->rules[m->n_rules++], sizeof(m->rules[0]), r, 0, 0);
			nftnl_rule_free(r);
		} else if (type == NFT_MSG_NEWSETELEM) {
			/* Count the elements by hand (libnftnl 1.2's parser does
			 * not take 24-byte concatenated keys); decode the map
			 * element with libnftnl. */
			const char *set = NULL;
			const struct nlattr *a, *list = NULL;
			mnl_attr_for_each(a, h, sizeof(struct nfgenmsg))
			{
				if (mnl_attr_get_type(a) == NFTA_SET_ELEM_LIST_SET)
					set = mnl_attr_get_str(a);
				if (mnl_attr_get_type(a) == NFTA_SET_ELEM_LIST_ELEMENTS)
					list = a;
			}
			assert_non_null(set);
			assert_non_null(list);
			if (strcmp(set, "calls") == 0) {
				struct nftnl_set *s = nftnl_set_alloc();
				assert_int_equal(nftnl_set_elems_nlmsg_parse(h, s), 0);
				nftnl_set_elem_foreach(s, collect_elem, m);
				nftnl_set_free(s);
			} else {
				const struct nlattr *e;
				mnl_attr_for_each_nested(e, list) m->set_elems++;
			}
		}
	}
}

static void test_call_batch(void **state)
{
	(void)state;
	struct built b;
	parse_rules("cidr=192.0.2.0/24 ports=443 ; cidr=2001:db8::1 ports=80 proto=both", &b);
	b.net.quota_bytes = 1 << 20;
	b.net.conn_rate = 5;
	b.net.conn_per_ms = 1000;
	struct tg_egress_plan p;
	assert_int_equal(tg_egress_plan_build(&b.net, b.res, &p, NULL), 0);
	assert_int_equal(p.n4, 1);
	assert_int_equal(p.n6, 2);

	static char buf[256 * 1024];
	unsigned acks = 0;
	int len = tg_nft_call_build(buf, sizeof(buf), 100, 0x0a, 0x07, "tge0a07", &p, true, &acks);
	assert_true(len > 0);
	struct msgs m;
	parse_batch(buf, len, &m);
	static const uint16_t want[] = {
	        NFNL_MSG_BATCH_BEGIN, NFT_MSG_NEWSET,     NFT_MSG_NEWSETELEM, /* a4-0a07 */
	        NFT_MSG_NEWSET,       NFT_MSG_NEWSETELEM,                     /* a6-0a07 */
	        NFT_MSG_NEWOBJ,       NFT_MSG_NEWOBJ,                         /* dropped, sent */
	        NFT_MSG_NEWOBJ,       NFT_MSG_NEWOBJ,                         /* quota, limit */
	        NFT_MSG_NEWCHAIN,     NFT_MSG_NEWRULE,    NFT_MSG_NEWRULE,
	        NFT_MSG_NEWRULE, /* v4: rate, quota, allow */
	        NFT_MSG_NEWRULE,      NFT_MSG_NEWRULE,    NFT_MSG_NEWRULE, /* v6 */
	        NFT_MSG_NEWRULE,                                           /* neighbour discovery */
	        NFT_MSG_NEWRULE,                                           /* counted drop */
	        NFT_MSG_NEWSETELEM, /* calls: ifname -> chain */
	        NFNL_MSG_BATCH_END,
	};
	assert_int_equal(m.n, TG_ARRAY_SIZE(want));
	for (size_t i = 0; i < m.n; i++)
		if (m.type[i] != want[i])
			fail_msg("message %zu: type %u, want %u", i, m.type[i], want[i]);
	/* Every message but the batch markers asks for an answer. */
	assert_int_equal(acks, m.n - 2);
	assert_int_equal(m.set_elems, 3);
	assert_string_equal(m.calls_chain, "c-0a07");

	/* The allow rule: the address . protocol . port lookup, counted. */
	assert_non_null(strstr(m.rules[2], "lookup reg 8 set a4-0a07"));
	assert_non_null(strstr(m.rules[2], "objref type 1 name s-0a07"));
	assert_non_null(strstr(m.rules[2], "accept"));
	assert_non_null(strstr(m.rules[0], "objref type 4 name l-0a07"));
	assert_non_null(strstr(m.rules[1], "objref type 2 name q-0a07"));
	assert_non_null(strstr(m.rules[5], "set a6-0a07"));
	assert_non_null(strstr(m.rules[7], "objref type 1 name d-0a07"));
	assert_non_null(strstr(m.rules[7], "drop"));
	tg_egress_plan_clear(&p);

	/* No quota, no rate, no IPv6 pool: only what is needed. */
	parse_rules("cidr=192.0.2.1 ports=1", &b);
	assert_int_equal(tg_egress_plan_build(&b.net, b.res, &p, NULL), 0);
	len = tg_nft_call_build(buf, sizeof(buf), 1, 0, 0, "tge0000", &p, false, &acks);
	assert_true(len > 0);
	parse_batch(buf, len, &m);
	assert_int_equal(m.n, 10); /* begin, set, elems, 2 counters, chain, 2 rules, calls, end */
	assert_int_equal(m.n_rules, 2);
	tg_egress_plan_clear(&p);

	/* Too small a buffer is refused, not overrun. */
	assert_int_equal(tg_nft_call_build(buf, 64, 1, 0, 0, "tge0000", &p, false, &acks), -E2BIG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_plan_cases),  cmocka_unit_test(test_plan_hosts_lines),
	        cmocka_unit_test(test_plan_limits), cmocka_unit_test(test_plan_errors),
	        cmocka_unit_test(test_call_batch),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
