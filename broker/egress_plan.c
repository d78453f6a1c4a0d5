/* SPDX-License-Identifier: Apache-2.0 */
/*
 * egress_plan.c - a tool's egress rules (plus the addresses its host names
 * resolved to) -> the elements of the call's nftables set: boxes of
 * addresses x protocol x ports that never overlap.
 *
 * Why disjoint: the kernel's concatenated interval sets (pipapo) refuse an
 * element whose start or end falls inside another one, and two rules often
 * overlap ("10.0.0.0/8 port 443" and "10.1.2.3 ports 80, 443"). So per
 * (family, protocol) the address axis is cut at every rule boundary, each
 * elementary address range gets the union of the port ranges of the rules
 * that cover it, and neighbours with equal ports are merged again.
 *
 * Pure: no system calls, unit-tested in tests/unit/test_egress_plan.c.
 */
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "egress.h"
#include "policy.h"

/* Bound on the work one policy can ask for, before disjoining. */
#define MAX_BOXES 16384

struct prange {
	uint16_t lo, hi;
};

struct box {
	struct tg_addr lo, hi;
	struct prange p;
};

struct boxes {
	struct box *v;
	size_t n, cap;
};

static size_t alen(int family)
{
	return family == AF_INET ? 4 : 16;
}

static int acmp(const struct tg_addr *a, const struct tg_addr *b)
{
	return memcmp(a->a, b->a, alen(a->family));
}

/* a + 1; false when a was the last address. */
static bool ainc(struct tg_addr *a)
{
	for (size_t i = alen(a->family); i-- > 0;)
		if (++a->a[i] != 0)
			return true;
	return false;
}

static bool adec(struct tg_addr *a)
{
	for (size_t i = alen(a->family); i-- > 0;)
		if (a->a[i]-- != 0)
			return true;
	return false;
}

static int push_box(struct boxes *b, const struct box *x)
{
	if (b->n == b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 16;
		if (cap > MAX_BOXES)
			cap = MAX_BOXES;
		if (b->n >= cap)
			return -E2BIG;
		struct box *v = realloc(b->v, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		b->v = v;
		b->cap = cap;
	}
	b->v[b->n++] = *x;
	return 0;
}

/* The port ranges of one rule: the listed ports, else every port but DNS. */
static size_t rule_ports(const struct tg_egress_rule *r, struct prange *out, size_t max)
{
	size_t n = 0;
	if (r->n_ports == 0) {
		static const struct prange all[] = {
		        {1, TG_EGRESS_DNS_PORT - 1},
		        {TG_EGRESS_DNS_PORT + 1, TG_EGRESS_DOT_PORT - 1},
		        {TG_EGRESS_DOT_PORT + 1, 65535}};
		for (size_t i = 0; i < TG_ARRAY_SIZE(all) && n < max; i++)
			out[n++] = all[i];
		return n;
	}
	for (size_t i = 0; i < r->n_ports && n < max; i++)
		out[n++] = (struct prange){r->ports[i], r->ports[i]};
	return n;
}

static int cmp_prange(const void *a, const void *b)
{
	const struct prange *x = a, *y = b;
	return x->lo != y->lo ? (x->lo < y->lo ? -1 : 1) : (x->hi < y->hi ? -1 : x->hi > y->hi);
}

/* Sort and merge overlapping or adjacent ranges in place; returns the count. */
static size_t merge_ports(struct prange *v, size_t n)
{
	if (n == 0)
		return 0;
	qsort(v, n, sizeof(*v), cmp_prange);
	size_t k = 0;
	for (size_t i = 1; i < n; i++) {
		if ((uint32_t)v[i].lo <= (uint32_t)v[k].hi + 1) {
			if (v[i].hi > v[k].hi)
				v[k].hi = v[i].hi;
		} else {
			v[++k] = v[i];
		}
	}
	return k + 1;
}

static int cmp_addr(const void *a, const void *b)
{
	return acmp(a, b);
}

struct out {
	struct tg_egress_elem *v;
	size_t n, cap;
};

static int emit(struct out *o, const struct tg_addr *lo, const struct tg_addr *hi, uint8_t proto,
                const struct prange *p)
{
	if (o->n >= TG_EGRESS_MAX_ELEMS)
		return -E2BIG;
	if (o->n == o->cap) {
		size_t cap = o->cap ? o->cap * 2 : 16;
		struct tg_egress_elem *v = realloc(o->v, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		o->v = v;
		o->cap = cap;
	}
	o->v[o->n++] = (struct tg_egress_elem){.family = lo->family,
	                                       .lo = *lo,
	                                       .hi = *hi,
	                                       .l4proto = proto,
	                                       .port_lo = p->lo,
	                                       .port_hi = p->hi};
	return 0;
}

static bool same_ports(const struct prange *a, size_t na, const struct prange *b, size_t nb)
{
	return na == nb && (na == 0 || memcmp(a, b, na * sizeof(*a)) == 0);
}

/* Disjoin the boxes of one (family, protocol) and append them to o. */
static int disjoin(const struct boxes *in, int family, uint8_t proto, struct out *o)
{
	size_t nb = 0;
	for (size_t i = 0; i < in->n; i++)
		nb += in->v[i].lo.family == family;
	if (nb == 0)
		return 0;
	/* Cut points: every start, and every end + 1. */
	_cleanup_free_ struct tg_addr *pts = calloc(2 * nb, sizeof(*pts));
	_cleanup_free_ struct prange *cur = calloc(nb, sizeof(*cur));
	_cleanup_free_ struct prange *prev = calloc(nb, sizeof(*prev));
	if (!pts || !cur || !prev)
		return -ENOMEM;
	size_t np = 0;
	for (size_t i = 0; i < in->n; i++) {
		const struct box *b = &in->v[i];
		if (b->lo.family != family)
			continue;
		pts[np++] = b->lo;
		struct tg_addr end = b->hi;
		if (ainc(&end))
			pts[np++] = end;
	}
	qsort(pts, np, sizeof(*pts), cmp_addr);
	size_t u = 0;
	for (size_t i = 0; i < np; i++)
		if (u == 0 || acmp(&pts[i], &pts[u - 1]) != 0)
			pts[u++] = pts[i];

	/* A pending run of elementary ranges with the same ports. */
	struct tg_addr run_lo = {0}, run_hi = {0};
	size_t n_prev = 0;
	bool have_run = false;
	for (size_t j = 0; j < u; j++) {
		struct tg_addr lo = pts[j], hi;
		if (j + 1 < u) {
			hi = pts[j + 1];
			adec(&hi);
		} else {
			hi = lo;
			memset(hi.a, 0xff, alen(family)); /* up to the last address */
		}
		size_t n_cur = 0;
		for (size_t i = 0; i < in->n; i++) {
			const struct box *b = &in->v[i];
			if (b->lo.family == family && acmp(&b->lo, &lo) <= 0 &&
			    acmp(&lo, &b->hi) <= 0)
				cur[n_cur++] = b->p;
		}
		n_cur = merge_ports(cur, n_cur);
		struct tg_addr next = run_hi;
		bool contiguous = have_run && ainc(&next) && acmp(&next, &lo) == 0;
		if (have_run && contiguous && same_ports(prev, n_prev, cur, n_cur)) {
			run_hi = hi;
			continue;
		}
		for (size_t k = 0; have_run && k < n_prev; k++) {
			int r = emit(o, &run_lo, &run_hi, proto, &prev[k]);
			if (r < 0)
				return r;
		}
		have_run = n_cur > 0;
		run_lo = lo;
		run_hi = hi;
		memcpy(prev, cur, n_cur * sizeof(*cur));
		n_prev = n_cur;
	}
	for (size_t k = 0; have_run && k < n_prev; k++) {
		int r = emit(o, &run_lo, &run_hi, proto, &prev[k]);
		if (r < 0)
			return r;
	}
	return 0;
}

static int add_hosts_lines(FILE *f, const struct tg_egress_rule *rules, size_t i,
                           const struct tg_egress_resolved *res)
{
	/* One block per distinct name: a name listed twice is pinned once. */
	for (size_t k = 0; k < i; k++)
		if (rules[k].host && strcmp(rules[k].host, rules[i].host) == 0)
			return 0;
	for (size_t k = 0; k < res->n; k++) {
		char s[INET6_ADDRSTRLEN];
		if (fprintf(f, "%s\t%s\n", tg_addr_str(&res->addrs[k], s, sizeof(s)),
		            rules[i].host) < 0)
			return -ENOMEM;
	}
	return 0;
}

static uint64_t gcd64(uint64_t a, uint64_t b)
{
	while (b) {
		uint64_t t = a % b;
		a = b;
		b = t;
	}
	return a;
}

void tg_egress_plan_clear(struct tg_egress_plan *p)
{
	free(p->elems);
	free(p->hosts);
	memset(p, 0, sizeof(*p));
}

int tg_egress_plan_build(const struct tg_network *net, const struct tg_egress_resolved *resolved,
                         struct tg_egress_plan *ret, struct tg_error **err)
{
	struct boxes tcp = {0}, udp = {0};
	struct out o = {0};
	char *hosts = NULL;
	size_t hosts_len = 0;
	FILE *hf = open_memstream(&hosts, &hosts_len);
	int r = hf ? 0 : -ENOMEM;

	for (size_t i = 0; r == 0 && i < net->n_egress; i++) {
		const struct tg_egress_rule *rule = &net->egress[i];
		size_t max_ports = rule->n_ports + 3;
		_cleanup_free_ struct prange *ports = calloc(max_ports, sizeof(*ports));
		if (!ports) {
			r = -ENOMEM;
			break;
		}
		size_t n_ports = rule_ports(rule, ports, max_ports);
		/* The rule's address ranges: its cidr, or each resolved address. */
		size_t n_addr = 0;
		struct tg_addr one_lo, one_hi;
		const struct tg_addr *list = NULL;
		if (rule->cidr) {
			struct tg_addr a;
			unsigned len;
			if (tg_addr_parse_cidr(rule->cidr, &a, &len) < 0) {
				r = tg_error_set(err, -EINVAL, "egress[%zu]: invalid cidr '%s'", i,
				                 rule->cidr);
				break;
			}
			tg_addr_range(&a, len, &one_lo, &one_hi);
			n_addr = 1;
		} else if (rule->host && resolved) {
			list = resolved[i].addrs;
			n_addr = resolved[i].n;
			r = add_hosts_lines(hf, net->egress, i, &resolved[i]);
		}
		for (size_t a = 0; r == 0 && a < n_addr; a++) {
			struct box b = {.lo = list ? list[a] : one_lo,
			                .hi = list ? list[a] : one_hi};
			for (size_t p = 0; r == 0 && p < n_ports; p++) {
				b.p = ports[p];
				if (rule->proto & TG_NET_TCP)
					r = push_box(&tcp, &b);
				if (r == 0 && (rule->proto & TG_NET_UDP))
					r = push_box(&udp, &b);
			}
		}
	}
	if (hf && fclose(hf) != 0 && r == 0)
		r = -ENOMEM;
	if (r == 0)
		r = disjoin(&tcp, AF_INET, IPPROTO_TCP, &o);
	if (r == 0)
		r = disjoin(&udp, AF_INET, IPPROTO_UDP, &o);
	size_t n4 = o.n;
	if (r == 0)
		r = disjoin(&tcp, AF_INET6, IPPROTO_TCP, &o);
	if (r == 0)
		r = disjoin(&udp, AF_INET6, IPPROTO_UDP, &o);
	free(tcp.v);
	free(udp.v);
	if (r == -E2BIG)
		tg_error_set(err, r, "egress rules expand to more than %d set elements",
		             TG_EGRESS_MAX_ELEMS);
	else if (r == -ENOMEM)
		tg_error_set(err, r, "out of memory");
	if (r < 0) {
		free(o.v);
		free(hosts);
		return r;
	}
	struct tg_egress_plan p = {
	        .elems = o.v,
	        .n_elems = o.n,
	        .n4 = n4,
	        .n6 = o.n - n4,
	        .hosts = hosts_len ? hosts : NULL,
	        .quota_bytes = net->quota_bytes,
	};
	if (!p.hosts)
		free(hosts);
	if (net->conn_rate && net->conn_per_ms) {
		/* nft's limit counts tokens per whole seconds: n per m ms is
		 * 1000n per m seconds, reduced. */
		uint64_t rate = (uint64_t)net->conn_rate * 1000, unit = net->conn_per_ms;
		uint64_t g = gcd64(rate, unit);
		p.conn_rate = rate / g;
		p.conn_unit_s = unit / g;
		p.conn_burst = net->conn_burst ? net->conn_burst : net->conn_rate;
	}
	*ret = p;
	return 0;
}
