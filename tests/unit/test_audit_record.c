/* SPDX-License-Identifier: Apache-2.0 */
/* Audit records: field order, omission, the hash rule, round trips. */
#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>
#include <sodium.h>

#include "audit.h"
#include "../../audit/internal.h"
#include "tg.h"
#include "tempdir.h"

static int setup(void **state)
{
	(void)state;
	return tempdir_make("audit-rec");
}

static int teardown(void **state)
{
	(void)state;
	return tempdir_remove();
}

/* The one line of a log with a single record. */
static char *append_one(const char *name, const struct tg_audit_record *r, const char *key_file,
                        size_t *ret_len)
{
	_cleanup_free_ char *p = path_of(name);
	struct tg_audit_options o = {.path = p, .session = "s-1", .key_file = key_file};
	struct tg_audit_writer *w = NULL;
	_cleanup_error_ struct tg_error *err = NULL;
	assert_int_equal(tg_audit_open(&o, &w, &err), 0);
	assert_int_equal(tg_audit_append(w, r, &err), 0);
	assert_int_equal(tg_audit_close(w), 0);
	char *buf = NULL;
	assert_int_equal(tg_read_file(p, 1 << 20, &buf, ret_len), 0);
	return buf;
}

static void test_full_record_order(void **state)
{
	(void)state;
	char *argv[] = {"/usr/bin/python3", "-c", "print(1)", NULL};
	char *prot[] = {"userns", "seccomp", "cgroup", NULL};
	char *cmd[] = {"agent.py", NULL};
	json_t *params = json_pack("{s:s, s:i, s:f, s:[s,s]}", "code", "print(1)", "n", 3, "x", 1.5,
	                           "files", "a", "b");
	struct tg_audit_record r = {
	        .event = TG_AUDIT_CALL,
	        .has_peer = true,
	        .peer_pid = 42,
	        .peer_uid = 1000,
	        .has_request_id = true,
	        .request_id = 7,
	        .tool = "python",
	        .params = params,
	        .decision = "allow",
	        .reason = "allowed",
	        .rule = "tools[0] (python)",
	        .argv = argv,
	        .status = "OK",
	        .has_exit = true,
	        .exit_code = 0,
	        .signal = 0,
	        .has_usage = true,
	        .wall_ms = 12,
	        .cpu_ms = 10,
	        .max_rss_kb = 9000,
	        .has_output = true,
	        .stdout_bytes = 2,
	        .stderr_bytes = 0,
	        .truncated = false,
	        .redactions = 1,
	        .stdout_sha256 = "aa",
	        .stderr_sha256 = "bb",
	        .binary_sha256 = "cc",
	        .has_egress = true,
	        .egress_allowed = false,
	        .egress_dropped_packets = 3,
	        .protections = prot,
	        .policy_sha256 = "dd",
	        .policy_path = "/p.yaml",
	        .workspace = "/ws",
	        .command = cmd,
	};
	size_t len;
	_cleanup_free_ char *line = append_one("full.jsonl", &r, NULL, &len);
	json_decref(params);
	assert_true(len > 0 && line[len - 1] == '\n');
	assert_null(memchr(line, '\n', len - 1));
	const char *want[] = {"seq",           "time",          "event",         "session",
	                      "peer",          "request_id",    "tool",          "params",
	                      "decision",      "reason",        "rule",          "argv",
	                      "status",        "exit_code",     "signal",        "usage",
	                      "stdout_bytes",  "stderr_bytes",  "truncated",     "redactions",
	                      "stdout_sha256", "stderr_sha256", "binary_sha256", "egress",
	                      "protections",   "policy_sha256", "policy_path",   "workspace",
	                      "command",       "prev",          "hash"};
	_cleanup_json_ json_t *o = json_loadb(line, len, 0, NULL);
	assert_non_null(o);
	size_t i = 0;
	const char *k;
	json_t *v;
	json_object_foreach (o, k, v) {
		assert_true(i < TG_ARRAY_SIZE(want));
		assert_string_equal(k, want[i]);
		i++;
	}
	assert_int_equal(i, TG_ARRAY_SIZE(want));
	assert_int_equal(json_integer_value(json_object_get(o, "seq")), 1);
	assert_string_equal(json_string_value(json_object_get(o, "prev")), TG_AUDIT_ZERO_HASH);
	/* no floating point anywhere: the real became its JSON text */
	assert_string_equal(json_string_value(json_object_get(json_object_get(o, "params"), "x")),
	                    "1.5");
	assert_int_equal(json_integer_value(json_object_get(json_object_get(o, "peer"), "pid")),
	                 42);
	const char *t = json_string_value(json_object_get(o, "time"));
	assert_int_equal(strlen(t), TG_RFC3339_LEN - 1);
	assert_int_equal(t[TG_RFC3339_LEN - 2], 'Z');

	/* The hash rule: SHA-256 of the bytes before `,"hash":"` plus "}". */
	size_t body = len - 1 - TG_AUDIT_TAIL_LEN;
	assert_memory_equal(line + body, ",\"hash\":\"", 9);
	_cleanup_free_ char *pre = malloc(body + 2);
	memcpy(pre, line, body);
	pre[body] = '}';
	char hex[TG_SHA256_HEX_LEN];
	tg_sha256_hex(pre, body + 1, hex);
	assert_string_equal(json_string_value(json_object_get(o, "hash")), hex);
	/* ...which is the record serialized without its hash member. */
	json_object_del(o, "hash");
	_cleanup_free_ char *nohash = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	assert_int_equal(strlen(nohash), body + 1);
	assert_memory_equal(nohash, pre, body + 1);
}

static void test_minimal_and_session_end(void **state)
{
	(void)state;
	struct tg_audit_record r = {.event = TG_AUDIT_POLICY_LOADED};
	size_t len;
	_cleanup_free_ char *line = append_one("min.jsonl", &r, NULL, &len);
	_cleanup_json_ json_t *o = json_loadb(line, len, 0, NULL);
	assert_int_equal(json_object_size(o), 6); /* seq time event session prev hash */
	assert_string_equal(json_string_value(json_object_get(o, "event")), "policy_loaded");
	assert_string_equal(json_string_value(json_object_get(o, "session")), "s-1");

	struct tg_audit_record e = {.event = TG_AUDIT_SESSION_END,
	                            .has_session_exit = true,
	                            .session_exit_code = 3,
	                            .has_exit = true, /* ignored for session_end */
	                            .exit_code = 99};
	_cleanup_free_ char *l2 = append_one("end.jsonl", &e, NULL, &len);
	_cleanup_json_ json_t *o2 = json_loadb(l2, len, JSON_REJECT_DUPLICATES, NULL);
	assert_non_null(o2);
	assert_int_equal(json_integer_value(json_object_get(o2, "exit_code")), 3);
	assert_int_equal(json_integer_value(json_object_get(o2, "signal")), 0);
}

static void test_bad_records_refused(void **state)
{
	(void)state;
	_cleanup_free_ char *p = path_of("bad.jsonl");
	struct tg_audit_options o = {.path = p, .session = "s"};
	struct tg_audit_writer *w = NULL;
	_cleanup_error_ struct tg_error *err = NULL;
	assert_int_equal(tg_audit_open(&o, &w, &err), 0);
	struct tg_audit_record r = {.event = TG_AUDIT_RECOVERY};
	assert_int_equal(tg_audit_append(w, &r, &err), -EINVAL);
	tg_error_freep(&err);
	struct tg_audit_record d = {.event = TG_AUDIT_CALL, .decision = "maybe"};
	assert_int_equal(tg_audit_append(w, &d, &err), -EINVAL);
	tg_error_freep(&err);
	/* invalid UTF-8 from outside still makes a record, with U+FFFD */
	struct tg_audit_record u = {.event = TG_AUDIT_CALL, .reason = "bad \xff\xfe value"};
	assert_int_equal(tg_audit_append(w, &u, &err), 0);
	assert_int_equal(tg_audit_seq(w), 1);
	assert_int_equal(tg_audit_close(w), 0);
	_cleanup_free_ char *buf = NULL;
	size_t len;
	assert_int_equal(tg_read_file(p, 1 << 20, &buf, &len), 0);
	assert_non_null(strstr(buf, "bad \xEF\xBF\xBD\xEF\xBF\xBD value"));
	struct tg_audit_options bad = {.path = p, .session = ""};
	assert_int_equal(tg_audit_open(&bad, &w, &err), -EINVAL);
}

static void test_reader_roundtrip(void **state)
{
	(void)state;
	_cleanup_free_ char *p = path_of("rt.jsonl");
	struct tg_audit_options o = {.path = p, .session = "sess"};
	struct tg_audit_writer *w = NULL;
	_cleanup_error_ struct tg_error *err = NULL;
	assert_int_equal(tg_audit_open(&o, &w, &err), 0);
	for (int i = 0; i < 5; i++) {
		char tool[16];
		snprintf(tool, sizeof(tool), "t%d", i);
		struct tg_audit_record r = {.event = TG_AUDIT_CALL, .tool = tool};
		assert_int_equal(tg_audit_append(w, &r, &err), 0);
	}
	assert_int_equal(tg_audit_close(w), 0);
	struct tg_audit_reader *rd = NULL;
	assert_int_equal(tg_audit_reader_open(p, &rd, &err), 0);
	json_t *rec;
	uint64_t line;
	for (int i = 0; i < 5; i++) {
		assert_int_equal(tg_audit_reader_next(rd, &rec, &line, &err), 1);
		assert_int_equal(line, (uint64_t)i + 1);
		char tool[16];
		snprintf(tool, sizeof(tool), "t%d", i);
		assert_string_equal(json_string_value(json_object_get(rec, "tool")), tool);
		json_decref(rec);
	}
	assert_int_equal(tg_audit_reader_next(rd, &rec, &line, &err), 0);
	tg_audit_reader_free(rd);

	/* a bad line is reported with its number, and reading goes on */
	_cleanup_free_ char *q = path_of("mixed.jsonl");
	put_file(q, "{\"a\":1}\nnot json\n{\"b\":2}\n{\"torn");
	assert_int_equal(tg_audit_reader_open(q, &rd, &err), 0);
	assert_int_equal(tg_audit_reader_next(rd, &rec, &line, &err), 1);
	json_decref(rec);
	assert_int_equal(tg_audit_reader_next(rd, &rec, &line, &err), -EBADMSG);
	assert_non_null(strstr(tg_error_msg(err), ":2: not a JSON object"));
	tg_error_freep(&err);
	assert_int_equal(tg_audit_reader_next(rd, &rec, &line, &err), 1);
	assert_int_equal(line, 3);
	json_decref(rec);
	assert_int_equal(tg_audit_reader_next(rd, &rec, &line, &err), -EBADMSG);
	assert_non_null(strstr(tg_error_msg(err), "torn last line"));
	tg_error_freep(&err);
	assert_int_equal(tg_audit_reader_next(rd, &rec, &line, &err), 0);
	tg_audit_reader_free(rd);
	assert_int_equal(tg_audit_reader_open("/nonexistent/x", &rd, &err), -ENOENT);
}

static void test_hmac_records(void **state)
{
	(void)state;
	_cleanup_free_ char *key = path_of("key");
	uint8_t k[32];
	memset(k, 7, sizeof(k));
	_cleanup_close_ int fd = open(key, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	assert_int_equal(tg_write_all(fd, k, sizeof(k)), 0);
	struct tg_audit_record r = {.event = TG_AUDIT_CALL, .tool = "x"};
	size_t len;
	_cleanup_free_ char *line = append_one("mac.jsonl", &r, key, &len);
	assert_non_null(strstr(line, ",\"mac\":\"hmac-sha256\",\"prev\":"));
	size_t body = len - 1 - TG_AUDIT_TAIL_LEN;
	uint8_t mac[crypto_auth_hmacsha256_BYTES];
	crypto_auth_hmacsha256_state st;
	crypto_auth_hmacsha256_init(&st, k, sizeof(k));
	crypto_auth_hmacsha256_update(&st, (const uint8_t *)line, body);
	crypto_auth_hmacsha256_update(&st, (const uint8_t *)"}", 1);
	crypto_auth_hmacsha256_final(&st, mac);
	char hex[65];
	tg_hex(mac, sizeof(mac), hex);
	assert_memory_equal(line + body + 9, hex, 64);

	/* a short key is refused */
	_cleanup_free_ char *shortkey = path_of("short");
	put_file(shortkey, "tooshort");
	_cleanup_free_ char *p = path_of("mac2.jsonl");
	struct tg_audit_options o = {.path = p, .session = "s", .key_file = shortkey};
	struct tg_audit_writer *w = NULL;
	_cleanup_error_ struct tg_error *err = NULL;
	assert_int_equal(tg_audit_open(&o, &w, &err), -EINVAL);
}

/* Random text: mostly ASCII with controls, quotes and backslashes, some
 * valid multi-byte UTF-8, some bytes that are not UTF-8 at all. */
static void random_text(char *out, size_t max)
{
	static const char *pieces[] = {"\"",
	                               "\\",
	                               "/",
	                               "\x7f",
	                               "\x01",
	                               "\x1f",
	                               "\n",
	                               "\r",
	                               "\t",
	                               "\b",
	                               "\f",
	                               "\xc3\xa9",
	                               "\xe2\x80\xa8",
	                               "\xf0\x9f\x98\x80",
	                               "\xff",
	                               "\xc0\xaf",
	                               "\xed\xa0\x80",
	                               "\xe0\x80",
	                               "\xf4\x90\x80\x80",
	                               "a",
	                               "Z",
	                               " ",
	                               "{}",
	                               "[,]",
	                               "\\u0000"};
	size_t n = 0, want = randombytes_uniform((uint32_t)max / 4);
	while (n < want) {
		const char *p = pieces[randombytes_uniform(TG_ARRAY_SIZE(pieces))];
		size_t l = strlen(p);
		if (n + l >= max)
			break;
		memcpy(out + n, p, l);
		n += l;
	}
	out[n] = '\0';
}

/* The writer's own serializer against jansson: any record it writes, parsed
 * and dumped again by jansson (compact, in order), gives the same bytes; and
 * a valid string is written exactly as json_dumps writes it. */
static void test_serializer_matches_jansson(void **state)
{
	(void)state;
	_cleanup_free_ char *p = path_of("fuzz.jsonl");
	struct tg_audit_options o = {
	        .path = p, .session = "s\x01\"\xc3\xa9", .fsync = TG_AUDIT_SYNC_NEVER};
	struct tg_audit_writer *w = NULL;
	_cleanup_error_ struct tg_error *err = NULL;
	assert_int_equal(tg_audit_open(&o, &w, &err), 0);
	for (int i = 0; i < 2000; i++) {
		char t[5][256];
		for (int k = 0; k < 5; k++)
			random_text(t[k], sizeof(t[k]));
		char *argv[] = {t[0], t[1], "", NULL};
		char *none[] = {NULL};
		json_t *params = json_pack("{s:s, s:I, s:f, s:[s,b,n], s:{}}", "a", t[2], "n",
		                           (json_int_t)(i * 7919) - 5000, "x", i / 3.0, "arr", t[3],
		                           i & 1, "o");
		if (!params) /* invalid UTF-8 cannot be a json_t: no params then */
			params = json_pack("{s:I}", "n", (json_int_t)i);
		struct tg_audit_record r = {
		        .event = TG_AUDIT_CALL,
		        .has_peer = true,
		        .peer_pid = i % 2 ? INT64_MIN : -1,
		        .peer_uid = INT64_MAX,
		        .has_request_id = true,
		        .request_id = UINT64_MAX - (uint64_t)i,
		        .tool = t[4],
		        .params = params,
		        .decision = "deny",
		        .reason = t[1],
		        .rule = t[2],
		        .argv = argv,
		        .status = t[3],
		        .has_exit = true,
		        .exit_code = -i,
		        .signal = i,
		        .has_usage = true,
		        .wall_ms = (uint64_t)i << 40,
		        .has_output = true,
		        .truncated = i & 1,
		        .stdout_sha256 = t[0],
		        .has_egress = true,
		        .egress_allowed = i & 2,
		        .has_egress_sent = i & 4,
		        .egress_sent_bytes = (uint64_t)i * 1000,
		        .protections = i % 3 ? argv : none,
		        .policy_sha256 = t[4],
		        .command = argv,
		};
		assert_int_equal(tg_audit_append(w, &r, &err), 0);
		json_decref(params);
	}
	assert_int_equal(tg_audit_close(w), 0);
	struct tg_audit_reader *rd = NULL;
	assert_int_equal(tg_audit_reader_open_at(p, 0, 1, &rd, &err), 0);
	const struct tg_audit_line *l;
	int n = 0;
	while (tg_audit_reader_next_raw(rd, &l, &err) == 1) {
		json_error_t jerr;
		_cleanup_json_ json_t *obj =
		        json_loadb(l->data, l->len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);
		if (!obj)
			fail_msg("line %d: %s: %s", n + 1, jerr.text, l->data);
		_cleanup_free_ char *again = json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER);
		assert_int_equal(strlen(again), l->len);
		assert_memory_equal(again, l->data, l->len);
		n++;
	}
	tg_audit_reader_free(rd);
	assert_int_equal(n, 2000);

	/* string by string, for the valid ones */
	for (int i = 0; i < 20000; i++) {
		char t[256];
		random_text(t, sizeof(t));
		json_t *j = json_string(t);
		if (!j)
			continue;
		_cleanup_free_ char *want = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
		json_decref(j);
		struct tg_audit_buf b = {0};
		tg_audit_buf_str(&b, t);
		assert_false(b.oom);
		assert_string_equal(b.data, want);
		tg_audit_buf_free(&b);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_serializer_matches_jansson),
	        cmocka_unit_test(test_full_record_order),
	        cmocka_unit_test(test_minimal_and_session_end),
	        cmocka_unit_test(test_bad_records_refused),
	        cmocka_unit_test(test_reader_roundtrip),
	        cmocka_unit_test(test_hmac_records),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
