/* SPDX-License-Identifier: Apache-2.0 */
/*
 * egress_addr.c - the address pool of call networks, interface names, and
 * the cross-process locks that keep two brokers on one host apart.
 *
 * Each broker claims one /24 block of the pool for its lifetime (a lock the
 * kernel releases when the broker dies) and hands out its /31 slots, one per
 * call. Names and addresses derive from (block, slot), so a stale object
 * tells which block it belonged to, and whether that block's broker lives.
 */
#include <arpa/inet.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>

#include "egress.h"

#define DEFAULT_POOL4 "100.72.0.0/16"
#define DEFAULT_POOL6 "fd54:6f6f:6c67::/48"

static unsigned addr_bits(int family)
{
	return family == AF_INET ? 32 : 128;
}

int tg_addr_parse_cidr(const char *s, struct tg_addr *ret, unsigned *ret_prefix)
{
	char buf[INET6_ADDRSTRLEN + 8];
	if (!s || strlen(s) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, s);
	char *slash = strchr(buf, '/');
	if (slash)
		*slash = '\0';
	struct tg_addr a = {0};
	if (inet_pton(AF_INET, buf, a.a) == 1)
		a.family = AF_INET;
	else if (inet_pton(AF_INET6, buf, a.a) == 1)
		a.family = AF_INET6;
	else
		return -EINVAL;
	unsigned bits = addr_bits(a.family), prefix = bits;
	if (slash) {
		const char *p = slash + 1;
		if (!*p || strlen(p) > 3)
			return -EINVAL;
		unsigned v = 0;
		for (; *p; p++) {
			if (*p < '0' || *p > '9')
				return -EINVAL;
			v = v * 10 + (unsigned)(*p - '0');
		}
		if (v > bits)
			return -EINVAL;
		prefix = v;
	}
	for (unsigned bit = prefix; bit < bits; bit++)
		if (a.a[bit / 8] & (0x80u >> (bit % 8)))
			return -EINVAL;
	*ret = a;
	*ret_prefix = prefix;
	return 0;
}

void tg_addr_range(const struct tg_addr *prefix, unsigned len, struct tg_addr *ret_lo,
                   struct tg_addr *ret_hi)
{
	struct tg_addr lo = *prefix, hi = *prefix;
	unsigned bits = addr_bits(prefix->family);
	for (unsigned bit = len; bit < bits; bit++) {
		lo.a[bit / 8] &= (uint8_t) ~(0x80u >> (bit % 8));
		hi.a[bit / 8] |= (uint8_t)(0x80u >> (bit % 8));
	}
	*ret_lo = lo;
	*ret_hi = hi;
}

const char *tg_addr_str(const struct tg_addr *a, char *out, size_t size)
{
	if (!inet_ntop(a->family, a->a, out, (socklen_t)size))
		snprintf(out, size, "?");
	return out;
}

int tg_egress_pool_init(struct tg_egress_pool *ret, const char *pool4, const char *pool6,
                        struct tg_error **err)
{
	struct tg_egress_pool p = {0};
	const char *s4 = pool4 && *pool4 ? pool4 : DEFAULT_POOL4;
	if (tg_addr_parse_cidr(s4, &p.net4, &p.len4) < 0 || p.net4.family != AF_INET)
		return tg_error_set(err, -EINVAL, "egress pool '%s': not an IPv4 network", s4);
	/* Blocks are /24s: the pool must hold at least one. */
	if (p.len4 < 8 || p.len4 > 24)
		return tg_error_set(err, -EINVAL,
		                    "egress pool '%s': prefix must be between /8 and /24", s4);
	unsigned shift = 24 - p.len4;
	p.n_blocks = shift >= 8 ? 256 : 1u << shift;

	const char *s6 = pool6 && *pool6 ? pool6 : DEFAULT_POOL6;
	if (strcmp(s6, "off") != 0) {
		if (tg_addr_parse_cidr(s6, &p.net6, &p.len6) < 0 || p.net6.family != AF_INET6)
			return tg_error_set(err, -EINVAL,
			                    "egress pool '%s': not an IPv6 network (or 'off')", s6);
		/* The block number goes into bits 48..63. */
		if (p.len6 > 48)
			return tg_error_set(err, -EINVAL,
			                    "egress pool '%s': prefix must be /48 or shorter", s6);
		p.has6 = true;
	}
	*ret = p;
	return 0;
}

int tg_egress_pool_slot(const struct tg_egress_pool *p, unsigned block, unsigned slot,
                        struct tg_slot_addrs *ret)
{
	if (block >= p->n_blocks || slot >= TG_EGRESS_SLOTS)
		return -ERANGE;
	struct tg_slot_addrs a;
	memset(&a, 0, sizeof(a));
	uint32_t base;
	memcpy(&base, p->net4.a, 4);
	uint32_t host = ntohl(base) + (block << 8) + 2 * slot;
	a.host4.s_addr = htonl(host);
	a.child4.s_addr = htonl(host + 1);
	if (p->has6) {
		memcpy(a.host6.s6_addr, p->net6.a, 16);
		a.host6.s6_addr[6] = (uint8_t)(block >> 8);
		a.host6.s6_addr[7] = (uint8_t)block;
		/* ::1:0 + 2s: never the all-zero interface id (the subnet
		 * routers' anycast address). */
		a.host6.s6_addr[13] = 1;
		a.host6.s6_addr[15] = (uint8_t)(2 * slot);
		a.child6 = a.host6;
		a.child6.s6_addr[15] = (uint8_t)(2 * slot + 1);
	}
	*ret = a;
	return 0;
}

void tg_egress_ifname(unsigned block, unsigned slot, char out[IFNAMSIZ])
{
	snprintf(out, IFNAMSIZ, TG_EGRESS_IF_PREFIX "%02x%02x", block & 0xffu, slot & 0xffu);
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

int tg_egress_parse_id(const char *name, const char *prefix, unsigned *ret_block,
                       unsigned *ret_slot)
{
	size_t pl = strlen(prefix);
	if (strncmp(name, prefix, pl) != 0 || strlen(name) != pl + 4)
		return -EINVAL;
	int d[4];
	for (int i = 0; i < 4; i++)
		if ((d[i] = hexval(name[pl + (size_t)i])) < 0)
			return -EINVAL;
	*ret_block = (unsigned)(d[0] * 16 + d[1]);
	*ret_slot = (unsigned)(d[2] * 16 + d[3]);
	return 0;
}

/* ---------------------------------------------------------------------------
 * Locks.
 */

int tg_egress_lock_try(const char *name, int *ret_fd)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int n = snprintf(sa.sun_path + 1, sizeof(sa.sun_path) - 1, "toolgate/egress/%s", name);
	if (n < 0 || (size_t)n >= sizeof(sa.sun_path) - 1)
		return -ENAMETOOLONG;
	_cleanup_close_ int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* Abstract: no file to leave behind, and the kernel frees the name
	 * when the holder dies, so a crashed broker never holds a lock. */
	socklen_t len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)n);
	if (bind(fd, (struct sockaddr *)&sa, len) < 0)
		return -errno;
	*ret_fd = steal_fd(&fd);
	return 0;
}

int tg_egress_lock_wait(const char *name, unsigned timeout_ms, int *ret_fd)
{
	uint64_t deadline = tg_now_mono_ms() + timeout_ms;
	for (unsigned i = 0; i < 100000; i++) {
		int r = tg_egress_lock_try(name, ret_fd);
		if (r != -EADDRINUSE || tg_now_mono_ms() >= deadline)
			return r;
		nanosleep(&(struct timespec){.tv_nsec = 2 * 1000 * 1000}, NULL);
	}
	return -ETIMEDOUT;
}

/* ---------------------------------------------------------------------------
 * Slots.
 */

int tg_slot_take(struct tg_slot_map *m, unsigned *ret)
{
	for (unsigned i = 0; i < TG_EGRESS_SLOTS; i++) {
		unsigned s = (m->next + i) % TG_EGRESS_SLOTS;
		if (!m->used[s]) {
			m->used[s] = 1;
			m->next = (s + 1) % TG_EGRESS_SLOTS;
			*ret = s;
			return 0;
		}
	}
	return -EBUSY;
}

void tg_slot_put(struct tg_slot_map *m, unsigned slot)
{
	if (slot < TG_EGRESS_SLOTS)
		m->used[slot] = 0;
}
