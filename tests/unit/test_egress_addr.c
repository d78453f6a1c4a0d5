/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The egress address pool: CIDR parsing, the pool's blocks and slots,
 * interface and object names, the slot map, and the abstract-socket locks.
 */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "egress.h"
#include "tg.h"

static const struct {
	const char *in;
	int ret;
	const char *lo, *hi; /* the range, when ret == 0 */
} cidrs[] = {
        {"192.0.2.0/24", 0, "192.0.2.0", "192.0.2.255"},
        {"192.0.2.7", 0, "192.0.2.7", "192.0.2.7"},
        {"192.0.2.7/32", 0, "192.0.2.7", "192.0.2.7"},
        {"0.0.0.0/0", 0, "0.0.0.0", "255.255.255.255"},
        {"2001:db8::/32", 0, "2001:db8::", "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff"},
        {"2001:db8::1", 0, "2001:db8::1", "2001:db8::1"},
        {"192.0.2.1/24", -EINVAL, NULL, NULL}, /* host bits set */
        {"192.0.2.0/33", -EINVAL, NULL, NULL},
        {"192.0.2.0/", -EINVAL, NULL, NULL},
        {"192.0.2.0/2x", -EINVAL, NULL, NULL},
        {"2001:db8::1/129", -EINVAL, NULL, NULL},
        {"example.com", -EINVAL, NULL, NULL},
        {"", -EINVAL, NULL, NULL},
};

static void test_cidr(void **state)
{
	(void)state;
	for (size_t i = 0; i < TG_ARRAY_SIZE(cidrs); i++) {
		struct tg_addr a, lo, hi;
		unsigned len = 0;
		int r = tg_addr_parse_cidr(cidrs[i].in, &a, &len);
		if (r != cidrs[i].ret)
			fail_msg("%s: %d, want %d", cidrs[i].in, r, cidrs[i].ret);
		if (r < 0)
			continue;
		tg_addr_range(&a, len, &lo, &hi);
		char s[INET6_ADDRSTRLEN];
		assert_string_equal(tg_addr_str(&lo, s, sizeof(s)), cidrs[i].lo);
		assert_string_equal(tg_addr_str(&hi, s, sizeof(s)), cidrs[i].hi);
	}
}

static void test_pool_defaults(void **state)
{
	(void)state;
	struct tg_egress_pool p;
	assert_int_equal(tg_egress_pool_init(&p, NULL, NULL, NULL), 0);
	assert_int_equal(p.n_blocks, 256);
	assert_true(p.has6);
	struct tg_slot_addrs a;
	assert_int_equal(tg_egress_pool_slot(&p, 3, 5, &a), 0);
	char s[INET6_ADDRSTRLEN];
	/* a /31 per call: host side even, child side odd */
	assert_string_equal(inet_ntop(AF_INET, &a.host4, s, sizeof(s)), "100.72.3.10");
	assert_string_equal(inet_ntop(AF_INET, &a.child4, s, sizeof(s)), "100.72.3.11");
	assert_string_equal(inet_ntop(AF_INET6, &a.host6, s, sizeof(s)), "fd54:6f6f:6c67:3::1:a");
	assert_string_equal(inet_ntop(AF_INET6, &a.child6, s, sizeof(s)), "fd54:6f6f:6c67:3::1:b");
	/* the first and last slots of the first and last blocks */
	assert_int_equal(tg_egress_pool_slot(&p, 0, 0, &a), 0);
	assert_string_equal(inet_ntop(AF_INET, &a.host4, s, sizeof(s)), "100.72.0.0");
	assert_string_equal(inet_ntop(AF_INET6, &a.host6, s, sizeof(s)), "fd54:6f6f:6c67::1:0");
	assert_int_equal(tg_egress_pool_slot(&p, 255, TG_EGRESS_SLOTS - 1, &a), 0);
	assert_string_equal(inet_ntop(AF_INET, &a.child4, s, sizeof(s)), "100.72.255.255");
	assert_int_equal(tg_egress_pool_slot(&p, 256, 0, &a), -ERANGE);
	assert_int_equal(tg_egress_pool_slot(&p, 0, TG_EGRESS_SLOTS, &a), -ERANGE);
}

static void test_pool_config(void **state)
{
	(void)state;
	struct tg_egress_pool p;
	assert_int_equal(tg_egress_pool_init(&p, "10.99.4.0/22", "off", NULL), 0);
	assert_int_equal(p.n_blocks, 4);
	assert_false(p.has6);
	struct tg_slot_addrs a;
	char s[INET6_ADDRSTRLEN];
	assert_int_equal(tg_egress_pool_slot(&p, 3, 1, &a), 0);
	assert_string_equal(inet_ntop(AF_INET, &a.host4, s, sizeof(s)), "10.99.7.2");
	assert_int_equal(tg_egress_pool_slot(&p, 4, 0, &a), -ERANGE);
	/* wider than 256 blocks: only the first 256 are used */
	assert_int_equal(tg_egress_pool_init(&p, "10.0.0.0/8", "fd00:1::/32", NULL), 0);
	assert_int_equal(p.n_blocks, 256);
	assert_int_equal(tg_egress_pool_slot(&p, 1, 0, &a), 0);
	assert_string_equal(inet_ntop(AF_INET6, &a.host6, s, sizeof(s)), "fd00:1:0:1::1:0");

	static const char *const bad4[] = {"10.0.0.0/25", "10.0.0.0/7", "2001:db8::/32",
	                                   "10.0.0.1/24", "nope"};
	for (size_t i = 0; i < TG_ARRAY_SIZE(bad4); i++) {
		struct tg_error *err = NULL;
		assert_int_equal(tg_egress_pool_init(&p, bad4[i], NULL, &err), -EINVAL);
		assert_non_null(strstr(tg_error_msg(err), "egress pool"));
		tg_error_free(err);
	}
	static const char *const bad6[] = {"fd00::/56", "10.0.0.0/16", "fd00::1/48"};
	for (size_t i = 0; i < TG_ARRAY_SIZE(bad6); i++)
		assert_int_equal(tg_egress_pool_init(&p, NULL, bad6[i], NULL), -EINVAL);
}

static void test_names(void **state)
{
	(void)state;
	char name[IFNAMSIZ];
	tg_egress_ifname(0x0a, 0x7f, name);
	assert_string_equal(name, "tge0a7f");
	unsigned b, s;
	assert_int_equal(tg_egress_parse_id(name, TG_EGRESS_IF_PREFIX, &b, &s), 0);
	assert_int_equal(b, 0x0a);
	assert_int_equal(s, 0x7f);
	assert_int_equal(tg_egress_parse_id("c-ff00", "c-", &b, &s), 0);
	assert_int_equal(b, 0xff);
	assert_int_equal(s, 0);
	/* Anything else is not ours: never treated as stale. */
	static const char *const bad[] = {"tge0a7", "tge0a7ff", "tge0A7f", "tgx0a7f", "c-0a7g", ""};
	for (size_t i = 0; i < TG_ARRAY_SIZE(bad); i++)
		assert_int_equal(
		        tg_egress_parse_id(bad[i], bad[i][0] == 'c' ? "c-" : "tge", &b, &s),
		        -EINVAL);
	struct tg_nft_names nm;
	tg_nft_call_names(0x0a, 0x07, &nm);
	assert_string_equal(nm.chain, "c-0a07");
	assert_string_equal(nm.set4, "a4-0a07");
	assert_string_equal(nm.set6, "a6-0a07");
	assert_string_equal(nm.dropped, "d-0a07");
	assert_string_equal(nm.sent, "s-0a07");
	assert_string_equal(nm.quota, "q-0a07");
	assert_string_equal(nm.limit, "l-0a07");
}

static void test_slots(void **state)
{
	(void)state;
	struct tg_slot_map m = {0};
	unsigned s;
	assert_int_equal(tg_slot_take(&m, &s), 0);
	assert_int_equal(s, 0);
	assert_int_equal(tg_slot_take(&m, &s), 0);
	assert_int_equal(s, 1);
	/* round robin: a freed slot is reused as late as possible */
	tg_slot_put(&m, 0);
	assert_int_equal(tg_slot_take(&m, &s), 0);
	assert_int_equal(s, 2);
	for (unsigned i = 3; i < TG_EGRESS_SLOTS; i++) {
		assert_int_equal(tg_slot_take(&m, &s), 0);
		assert_int_equal(s, i);
	}
	assert_int_equal(tg_slot_take(&m, &s), 0);
	assert_int_equal(s, 0);
	assert_int_equal(tg_slot_take(&m, &s), -EBUSY);
	tg_slot_put(&m, 77);
	assert_int_equal(tg_slot_take(&m, &s), 0);
	assert_int_equal(s, 77);
	tg_slot_put(&m, 1000); /* out of range: ignored */
}

static void test_locks(void **state)
{
	(void)state;
	char name[64];
	snprintf(name, sizeof(name), "unit-test-%d", (int)getpid());
	int a = -1, b = -1;
	assert_int_equal(tg_egress_lock_try(name, &a), 0);
	assert_int_equal(tg_egress_lock_try(name, &b), -EADDRINUSE);
	uint64_t t0 = tg_now_mono_ms();
	assert_int_equal(tg_egress_lock_wait(name, 50, &b), -EADDRINUSE);
	assert_true(tg_now_mono_ms() - t0 >= 45);
	/* released with its descriptor (or its process) */
	close(a);
	assert_int_equal(tg_egress_lock_wait(name, 50, &b), 0);
	close(b);
	char longname[200];
	memset(longname, 'x', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	assert_int_equal(tg_egress_lock_try(longname, &a), -ENAMETOOLONG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_cidr),        cmocka_unit_test(test_pool_defaults),
	        cmocka_unit_test(test_pool_config), cmocka_unit_test(test_names),
	        cmocka_unit_test(test_slots),       cmocka_unit_test(test_locks),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
