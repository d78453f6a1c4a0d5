/* SPDX-License-Identifier: Apache-2.0 */
/*
 * toolgate audit verify FILE... [--key FILE] [--pubkey FILE] [--rotated] [--partial]
 *                               [--no-seal]
 * toolgate audit show FILE... [--tool T] [--decision allow|deny] [--session S]
 *                             [--since T] [--until T] [--json]
 * toolgate audit replay POLICY FILE...
 * toolgate audit keygen DIR
 *
 * Argument parsing and printing only: verifying and reading are the audit
 * library's, deciding is the policy engine's (replay = reader + decide).
 */
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "audit.h"
#include "cli.h"
#include "policy.h"
#include "tg.h"

static void reader_freep(struct tg_audit_reader **r)
{
	tg_audit_reader_free(*r);
}

static void policy_unrefp(struct tg_policy **p)
{
	tg_policy_unref(*p);
}

/* EX_CANTCREAT (sysexits.h): keygen refuses to replace existing keys. */
#define EXIT_CANTCREAT 73

/* Exit code for a log that cannot be read. */
static int read_exit(int r)
{
	return r == -ENOMEM ? TG_EXIT_SOFTWARE : TG_EXIT_NOINPUT;
}

/* ---------------------------------------------------------------------------
 * verify
 */
static void verify_usage(FILE *out)
{
	fprintf(out,
	        "usage: toolgate audit verify FILE... [--key FILE] [--pubkey FILE] [--rotated]\n"
	        "                             [--partial] [--no-seal]\n"
	        "\n"
	        "Check the hash chain of an audit log; rotated files are given oldest\n"
	        "first (FILE.3 FILE.2 FILE.1 FILE) and verified as one chain. Names the\n"
	        "first bad record and the kind of damage: modified, deleted, inserted,\n"
	        "reordered, truncated, malformed, bad signature. A log whose last session\n"
	        "has no session_end is intact but reported as still open. A log closed by\n"
	        "its writer has a seal (FILE.seal, next to the last file): losing records\n"
	        "after it is reported as truncated.\n"
	        "\n"
	        "  --key FILE     the HMAC-SHA256 key of a keyed log (required for one)\n"
	        "  --pubkey FILE  the Ed25519 public key of signed checkpoints ('toolgate\n"
	        "                 audit keygen'): every checkpoint must verify, and every\n"
	        "                 record must be covered by one (records after the last\n"
	        "                 one only while a writer has the log open)\n"
	        "  --rotated      FILE is the live log: verify FILE.N ... FILE.1 FILE\n"
	        "  --partial      the first file may start in the middle of the chain\n"
	        "                 (older rotated files were deleted): start there\n"
	        "  --no-seal      do not check FILE.seal\n"
	        "\n"
	        "Exit: 0 intact; 1 damaged; 66 a file cannot be read; 64 bad usage (also:\n"
	        "a keyed log without --key).\n");
}

static void print_files(char *const *files, int n)
{
	for (int i = 0; i < n; i++)
		printf("%s%s", i ? ", " : "", files[i]);
}

static int cmd_verify(int argc, char **argv)
{
	const char *cmd = "audit verify";
	struct tg_audit_verify_options opts = {0};
	_cleanup_free_ char **files = calloc((size_t)argc, sizeof(char *));
	_cleanup_strv_free_ char **rotated = NULL;
	int n = 0;
	bool dashdash = false, want_rotated = false;
	if (!files)
		return TG_EXIT_SOFTWARE;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (dashdash || a[0] != '-' || a[1] == '\0') {
			files[n++] = argv[i];
		} else if (tg_cli_is_help(a)) {
			verify_usage(stdout);
			return TG_EXIT_OK;
		} else if (strcmp(a, "--") == 0) {
			dashdash = true;
		} else if (strcmp(a, "--key") == 0) {
			if (++i >= argc)
				return tg_cli_usage_error(cmd, "--key needs a FILE");
			opts.key_file = argv[i];
		} else if (strcmp(a, "--pubkey") == 0) {
			if (++i >= argc)
				return tg_cli_usage_error(cmd, "--pubkey needs a FILE");
			opts.pubkey_file = argv[i];
		} else if (strcmp(a, "--rotated") == 0) {
			want_rotated = true;
		} else if (strcmp(a, "--partial") == 0) {
			opts.partial = true;
		} else if (strcmp(a, "--no-seal") == 0) {
			opts.ignore_seal = true;
		} else {
			return tg_cli_usage_error(cmd, "unknown option '%s'", a);
		}
	}
	if (n == 0)
		return tg_cli_usage_error(cmd, "expected at least one FILE");
	_cleanup_error_ struct tg_error *err = NULL;
	char **set = files;
	if (want_rotated) {
		if (n != 1)
			return tg_cli_usage_error(cmd, "--rotated takes one FILE (the live log)");
		int r = tg_audit_rotated_files(files[0], &rotated, &err);
		if (r < 0) {
			fprintf(stderr, "toolgate %s: %s\n", cmd, tg_error_msg(err));
			return read_exit(r);
		}
		set = rotated;
		n = (int)tg_strv_len(rotated);
	}

	struct tg_audit_verify_result res;
	int r = tg_audit_verify_with(set, (size_t)n, &opts, &res, &err);
	if (r == -ENOKEY) {
		fprintf(stderr, "toolgate %s: %s\n", cmd, tg_error_msg(err));
		return TG_EXIT_USAGE;
	}
	if (r < 0) {
		fprintf(stderr, "toolgate %s: %s\n", cmd, tg_error_msg(err));
		return read_exit(r);
	}
	if (res.damage != TG_AUDIT_INTACT) {
		printf("%s:%" PRIu64 ": %s: record seq %" PRIu64 ": %s\n", res.file, res.line,
		       tg_audit_damage_name(res.damage), res.seq, res.detail ? res.detail : "");
		printf("%" PRIu64 " record%s verified before it\n", res.records,
		       res.records == 1 ? "" : "s");
		tg_audit_verify_result_clear(&res);
		return TG_EXIT_FAILURE;
	}
	print_files(set, n);
	printf(": intact, %" PRIu64 " record%s", res.records, res.records == 1 ? "" : "s");
	if (res.first_seq > 1)
		printf(" (seq %" PRIu64 "..%" PRIu64 ")", res.first_seq, res.last_seq);
	if (res.keyed)
		printf(", HMAC-SHA256 checked");
	if (res.signatures_checked)
		printf(", %" PRIu64 " checkpoint%s: Ed25519 signatures checked", res.checkpoints,
		       res.checkpoints == 1 ? "" : "s");
	else if (res.checkpoints > 0)
		printf(", %" PRIu64 " checkpoint%s (signatures not checked: --pubkey)",
		       res.checkpoints, res.checkpoints == 1 ? "" : "s");
	if (res.sealed)
		printf(", closed at seq %" PRIu64 " (sealed)", res.sealed_seq);
	printf("\n");
	if (opts.partial && res.first_seq > 1)
		printf("partial: the chain is taken to start at seq %" PRIu64
		       "; records before it were not given\n",
		       res.first_seq);
	if (res.unsigned_records > 0)
		printf("not signed yet: the last %" PRIu64 " record%s (after seq %" PRIu64
		       "); a writer has the log open and signs them at its next checkpoint\n",
		       res.unsigned_records, res.unsigned_records == 1 ? "" : "s", res.signed_seq);
	if (res.recoveries > 0)
		printf("%" PRIu64 " recover%s after a crash; first: %s\n", res.recoveries,
		       res.recoveries == 1 ? "y" : "ies",
		       res.recovery_detail ? res.recovery_detail : "");
	if (res.open_session) {
		if (res.writer_active)
			printf("still open: session %s has no session_end yet; a writer has the "
			       "log open (being written)\n",
			       res.open_session_id ? res.open_session_id : "?");
		else
			printf("unterminated: session %s has no session_end and no writer has the "
			       "log open: its writer stopped (crash), or the log lost its last "
			       "records\n",
			       res.open_session_id ? res.open_session_id : "?");
	}
	tg_audit_verify_result_clear(&res);
	return TG_EXIT_OK;
}

/* ---------------------------------------------------------------------------
 * show
 */
static void show_usage(FILE *out)
{
	fprintf(out, "usage: toolgate audit show FILE... [--tool T] [--decision allow|deny]\n"
	             "                           [--session S] [--since T] [--until T] [--json]\n"
	             "\n"
	             "Print the records of audit logs (rotated files oldest first) as a table\n"
	             "(time, tool, decision, status, exit, reason) or, with --json, as the\n"
	             "JSON lines themselves. Filters combine (all must match):\n"
	             "\n"
	             "  --tool T          calls of tool T\n"
	             "  --decision D      calls that were allowed (allow) or denied (deny)\n"
	             "  --session S       records of session S\n"
	             "  --since T         records at or after T\n"
	             "  --until T         records at or before T\n"
	             "\n"
	             "T is UTC in RFC 3339 form, to any precision (2026-01-02, 2026-01-02T10:30,\n"
	             "2026-01-02T10:30:00Z; bounds are inclusive at that precision), or a\n"
	             "duration back from now (90s, 15m, 2h). With --tool or --decision only\n"
	             "calls are shown. show does not verify: use 'toolgate audit verify'.\n"
	             "\n"
	             "Exit: 0; 1 some lines were not records (skipped, named on stderr); 66 a\n"
	             "file cannot be read; 64 bad usage.\n");
}

struct show_filter {
	const char *tool;
	const char *decision;
	const char *session;
	char since[TG_RFC3339_LEN];
	char until[TG_RFC3339_LEN];
	bool json;
};

/*
 * A time bound as a prefix of our record times ("YYYY-MM-DDTHH:MM:SS.ffffff"):
 * an RFC 3339 UTC prefix (a final 'Z' dropped), or a duration ago.
 */
static int parse_bound(const char *s, char out[TG_RFC3339_LEN])
{
	uint64_t ms;
	if (tg_parse_duration_ms(s, &ms) == 0) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		int64_t now_us = (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
		int64_t t = now_us - (int64_t)ms * 1000;
		time_t sec = (time_t)(t / 1000000);
		struct tm tm;
		gmtime_r(&sec, &tm);
		size_t n = strftime(out, TG_RFC3339_LEN, "%Y-%m-%dT%H:%M:%S", &tm);
		snprintf(out + n, TG_RFC3339_LEN - n, ".%06ld", (long)(t % 1000000));
		return 0;
	}
	static const char shape[] = "dddd-dd-ddTdd:dd:dd.dddddd";
	size_t len = strlen(s);
	if (len > 0 && s[len - 1] == 'Z')
		len--;
	if (len < 4 || len > sizeof(shape) - 1)
		return -EINVAL;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		bool ok = shape[i] == 'd' ? (c >= '0' && c <= '9') : c == shape[i];
		if (!ok && !(shape[i] == 'T' && c == 't'))
			return -EINVAL;
	}
	memcpy(out, s, len);
	out[len] = '\0';
	if (len > 10)
		out[10] = 'T';
	return 0;
}

static const char *str_of(const json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));
	return s ? s : "";
}

static bool show_match(const struct show_filter *f, const json_t *rec)
{
	const char *event = str_of(rec, "event");
	bool call = strcmp(event, "call") == 0;
	if ((f->tool || f->decision) && !call)
		return false;
	if (f->tool && strcmp(str_of(rec, "tool"), f->tool) != 0)
		return false;
	if (f->decision && strcmp(str_of(rec, "decision"), f->decision) != 0)
		return false;
	if (f->session && strcmp(str_of(rec, "session"), f->session) != 0)
		return false;
	const char *t = str_of(rec, "time");
	if (f->since[0] && strncmp(t, f->since, strlen(f->since)) < 0)
		return false;
	if (f->until[0] && strncmp(t, f->until, strlen(f->until)) > 0)
		return false;
	return true;
}

static void show_row(const json_t *rec)
{
	const char *event = str_of(rec, "event");
	bool call = strcmp(event, "call") == 0;
	char what[64], exit_s[32] = "-";
	if (call)
		snprintf(what, sizeof(what), "%s",
		         *str_of(rec, "tool") ? str_of(rec, "tool") : "?");
	else
		snprintf(what, sizeof(what), "[%s]", event);
	const json_t *sig = json_object_get(rec, "signal");
	const json_t *code = json_object_get(rec, "exit_code");
	if (json_is_integer(sig) && json_integer_value(sig) != 0)
		snprintf(exit_s, sizeof(exit_s), "sig%" JSON_INTEGER_FORMAT,
		         json_integer_value(sig));
	else if (json_is_integer(code))
		snprintf(exit_s, sizeof(exit_s), "%" JSON_INTEGER_FORMAT, json_integer_value(code));
	const char *reason = str_of(rec, "reason");
	_cleanup_free_ char *extra = NULL;
	if (!call) {
		const json_t *u = json_object_get(rec, "unterminated_session");
		const json_t *tb = json_object_get(rec, "torn_bytes");
		const json_t *sseq = json_object_get(rec, "signed_seq");
		if (*str_of(rec, "policy_path"))
			extra = tg_strdup_printf("policy %s", str_of(rec, "policy_path"));
		else if (json_is_integer(sseq))
			extra = tg_strdup_printf("signed seq %" JSON_INTEGER_FORMAT
			                         " (key %.16s...)",
			                         json_integer_value(sseq), str_of(rec, "pubkey"));
		else if (json_is_integer(tb) || json_is_string(u))
			extra = tg_strdup_printf("recovered: %s%s%s",
			                         json_is_integer(tb) ? "torn line" : "",
			                         json_is_integer(tb) && u ? ", " : "",
			                         u ? "unterminated session" : "");
		reason = extra ? extra : reason;
	}
	/* Values come from a file anyone may have edited: print them as text
	 * only, one record per line. */
	printf("%-27s  %-16s  %-8s  %-12s  %5s  ", str_of(rec, "time"), what,
	       *str_of(rec, "decision") ? str_of(rec, "decision") : "-",
	       *str_of(rec, "status") ? str_of(rec, "status") : "-", exit_s);
	for (const char *p = reason; *p; p++)
		putchar((unsigned char)*p < 0x20 || *p == 0x7f ? '?' : *p);
	putchar('\n');
}

/* Walk the records of one log file: fn(rec, line, ctx) for each (a
 * nonzero return stops and is returned). A malformed line is reported,
 * skipped and noted in *skipped; an unreadable file ends the walk with its
 * exit code. Returns TG_EXIT_OK at the end. */
static int each_record(const char *cmd, const char *file,
                       int (*fn)(const json_t *rec, const char *file, uint64_t line, void *ctx),
                       void *ctx, bool *skipped)
{
	_cleanup_(reader_freep) struct tg_audit_reader *rd = NULL;
	_cleanup_error_ struct tg_error *err = NULL;
	int r = tg_audit_reader_open(file, &rd, &err);
	if (r < 0) {
		fprintf(stderr, "toolgate %s: %s\n", cmd, tg_error_msg(err));
		return read_exit(r);
	}
	for (;;) {
		json_t *rec = NULL;
		uint64_t line;
		r = tg_audit_reader_next(rd, &rec, &line, &err);
		if (r == 0)
			return TG_EXIT_OK;
		if (r == -EBADMSG) {
			fprintf(stderr, "toolgate %s: skipped %s\n", cmd, tg_error_msg(err));
			tg_error_freep(&err);
			*skipped = true;
			continue;
		}
		if (r < 0) {
			fprintf(stderr, "toolgate %s: %s\n", cmd, tg_error_msg(err));
			return read_exit(r);
		}
		r = fn(rec, file, line, ctx);
		json_decref(rec);
		if (r != 0)
			return r;
	}
}

static int show_one(const json_t *rec, const char *file, uint64_t line, void *ctx)
{
	(void)file, (void)line;
	const struct show_filter *f = ctx;
	if (!show_match(f, rec))
		return 0;
	if (f->json) {
		_cleanup_free_ char *s = json_dumps(rec, JSON_COMPACT | JSON_PRESERVE_ORDER);
		if (s)
			printf("%s\n", s);
	} else {
		show_row(rec);
	}
	return 0;
}

static int cmd_show(int argc, char **argv)
{
	const char *cmd = "audit show";
	struct show_filter f = {0};
	_cleanup_free_ char **files = calloc((size_t)argc, sizeof(char *));
	int n = 0;
	if (!files)
		return TG_EXIT_SOFTWARE;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char **slot = NULL;
		if (a[0] != '-' || a[1] == '\0') {
			files[n++] = argv[i];
			continue;
		}
		if (tg_cli_is_help(a)) {
			show_usage(stdout);
			return TG_EXIT_OK;
		}
		if (strcmp(a, "--json") == 0) {
			f.json = true;
			continue;
		}
		if (strcmp(a, "--tool") == 0)
			slot = &f.tool;
		else if (strcmp(a, "--decision") == 0)
			slot = &f.decision;
		else if (strcmp(a, "--session") == 0)
			slot = &f.session;
		else if (strcmp(a, "--since") != 0 && strcmp(a, "--until") != 0)
			return tg_cli_usage_error(cmd, "unknown option '%s'", a);
		if (++i >= argc)
			return tg_cli_usage_error(cmd, "%s needs a value", a);
		if (slot) {
			*slot = argv[i];
		} else if (parse_bound(argv[i], strcmp(a, "--since") == 0 ? f.since : f.until) <
		           0) {
			return tg_cli_usage_error(cmd,
			                          "%s '%s': expected an RFC 3339 UTC time "
			                          "(2026-01-02T10:30:00Z) or a duration (15m)",
			                          a, argv[i]);
		}
	}
	if (f.decision && strcmp(f.decision, "allow") != 0 && strcmp(f.decision, "deny") != 0)
		return tg_cli_usage_error(cmd, "--decision must be allow or deny");
	if (n == 0)
		return tg_cli_usage_error(cmd, "expected at least one FILE");

	int rc = TG_EXIT_OK;
	if (!f.json)
		printf("%-27s  %-16s  %-8s  %-12s  %5s  %s\n", "TIME", "TOOL", "DECISION", "STATUS",
		       "EXIT", "REASON");
	for (int i = 0; i < n; i++) {
		bool skipped = false;
		int r = each_record(cmd, files[i], show_one, &f, &skipped);
		if (r != TG_EXIT_OK)
			return r;
		if (skipped)
			rc = TG_EXIT_FAILURE;
	}
	return rc;
}

/* ---------------------------------------------------------------------------
 * replay
 */
static void replay_usage(FILE *out)
{
	fprintf(out, "usage: toolgate audit replay [--workspace DIR] POLICY FILE...\n"
	             "\n"
	             "Decide every recorded call again under POLICY (nothing runs) and report\n"
	             "each call whose decision (allow/deny) would differ, as FILE:LINE. Needs\n"
	             "the parameters in the log (audit.params: full); calls recorded with\n"
	             "hashed or no parameters, and requests refused before any decision\n"
	             "(status INVALID, INTERNAL), are counted as skipped. Records decided\n"
	             "under another policy (policy_sha256) are counted and named. Paths are\n"
	             "resolved on this machine, as they are now, in the policy's workspace or\n"
	             "in DIR (as a broker started with --workspace DIR). Does not verify the\n"
	             "log.\n"
	             "\n"
	             "Exit: 0 no decision differs; 1 some differ; 65 POLICY has errors; 66 a\n"
	             "file cannot be read; 64 bad usage.\n");
}

/* Parameters that were recorded as "sha256:<hex>" values cannot be replayed. */
static bool params_hashed(const json_t *params)
{
	const char *k;
	json_t *v;
	size_t hashed = 0;
	json_object_foreach ((json_t *)params, k, v) {
		const char *s = json_string_value(v);
		if (!s || strncmp(s, "sha256:", 7) != 0 || strlen(s) != 7 + 64)
			return false;
		hashed++;
	}
	return hashed > 0;
}

struct replay_stats {
	uint64_t calls, same, differ, skipped, other_policy;
	char other_sha[TG_SHA256_HEX_LEN];
};

/* One call record: 0 same or skipped, 1 differs, -ENOMEM. */
static int replay_one(const struct tg_policy *p, const json_t *rec, const char *file, uint64_t line,
                      struct replay_stats *st)
{
	const char *tool = json_string_value(json_object_get(rec, "tool"));
	const char *decision = json_string_value(json_object_get(rec, "decision"));
	const char *status = str_of(rec, "status");
	const json_t *params = json_object_get(rec, "params");
	if (!tool || !decision || !json_is_object(params) || params_hashed(params) ||
	    strcmp(status, "INVALID") == 0 || strcmp(status, "INTERNAL") == 0) {
		st->skipped++;
		return 0;
	}
	st->calls++;
	const char *sha = json_string_value(json_object_get(rec, "policy_sha256"));
	if (sha && strcmp(sha, tg_policy_sha256(p)) != 0) {
		if (st->other_policy++ == 0)
			snprintf(st->other_sha, sizeof(st->other_sha), "%s", sha);
	}
	struct tg_verdict *v = NULL;
	if (tg_policy_decide(p, tool, params, &v) < 0)
		return -ENOMEM;
	bool was_allow = strcmp(decision, "allow") == 0;
	int r = 0;
	if (v->allow != was_allow) {
		st->differ++;
		json_int_t seq = json_integer_value(json_object_get(rec, "seq"));
		printf("%s:%" PRIu64 ": seq %" JSON_INTEGER_FORMAT
		       ": tool %s: recorded %s, now %s: "
		       "%s\n",
		       file, line, seq, tool, decision, v->allow ? "allow" : "deny",
		       v->reason ? v->reason : (v->rule ? v->rule : ""));
		r = 1;
	} else {
		st->same++;
	}
	tg_verdict_free(v);
	return r;
}

struct replay_ctx {
	const struct tg_policy *p;
	struct replay_stats st;
};

/* each_record's callback: call records only; -ENOMEM stops the walk. */
static int replay_rec(const json_t *rec, const char *file, uint64_t line, void *ctx)
{
	struct replay_ctx *rc = ctx;
	if (strcmp(str_of(rec, "event"), "call") != 0)
		return 0;
	int r = replay_one(rc->p, rec, file, line, &rc->st);
	return r < 0 ? r : 0;
}

static int cmd_replay(int argc, char **argv)
{
	const char *cmd = "audit replay";
	const char *workspace = NULL;
	int first = 1;
	for (int i = 1; i < argc; i++) {
		if (tg_cli_is_help(argv[i])) {
			replay_usage(stdout);
			return TG_EXIT_OK;
		}
		if (strcmp(argv[i], "--") == 0) {
			first = i + 1;
			break;
		}
		if (strcmp(argv[i], "--workspace") == 0 && i == first) {
			if (i + 1 >= argc)
				return tg_cli_usage_error(cmd, "--workspace needs a DIR");
			workspace = argv[++i];
			first = i + 1;
			continue;
		}
		if (argv[i][0] == '-' && argv[i][1] != '\0')
			return tg_cli_usage_error(cmd, "unknown option '%s'", argv[i]);
	}
	if (argc - first < 2)
		return tg_cli_usage_error(cmd, "expected POLICY and at least one FILE");
	struct tg_diags diags = {0};
	_cleanup_(policy_unrefp) struct tg_policy *p = NULL;
	int r = tg_policy_load_file(argv[first], &p, &diags);
	for (size_t i = 0; i < diags.count; i++) {
		_cleanup_free_ char *s = tg_diag_format(&diags.items[i]);
		fprintf(stderr, "%s\n", s ? s : diags.items[i].msg);
	}
	tg_diags_clear(&diags);
	if (r < 0)
		return r == -EINVAL ? TG_EXIT_DATAERR : read_exit(r);
	if (workspace && (r = tg_cli_policy_workspace(cmd, p, workspace)) != TG_EXIT_OK)
		return r;

	struct replay_ctx rc = {.p = p};
	for (int i = first + 1; i < argc; i++) {
		bool skipped = false; /* reported; replay counts calls, not lines */
		r = each_record(cmd, argv[i], replay_rec, &rc, &skipped);
		if (r == -ENOMEM) {
			fprintf(stderr, "toolgate %s: out of memory\n", cmd);
			return TG_EXIT_SOFTWARE;
		}
		if (r != TG_EXIT_OK)
			return r;
	}
	const struct replay_stats st = rc.st;
	printf("replayed %" PRIu64 " call%s: %" PRIu64 " same, %" PRIu64 " differ; %" PRIu64
	       " skipped (no full params, or refused before a decision)\n",
	       st.calls, st.calls == 1 ? "" : "s", st.same, st.differ, st.skipped);
	if (st.other_policy > 0)
		printf("note: %" PRIu64 " call%s were decided under another policy (sha256 %s%s), "
		       "not %s\n",
		       st.other_policy, st.other_policy == 1 ? "" : "s", st.other_sha,
		       st.other_policy > 1 ? ", ..." : "", tg_policy_sha256(p));
	return st.differ > 0 ? TG_EXIT_FAILURE : TG_EXIT_OK;
}

/* ---------------------------------------------------------------------------
 * keygen
 */
static void keygen_usage(FILE *out)
{
	fprintf(out, "usage: toolgate audit keygen DIR\n"
	             "\n"
	             "Make an Ed25519 key pair for signed checkpoints: DIR/audit-sign.key, the\n"
	             "secret key (mode 0600; the policy's audit.sign_key names it, only the\n"
	             "broker reads it) and DIR/audit-sign.pub, the public key (give it to whoever\n"
	             "verifies logs: 'toolgate audit verify --pubkey audit-sign.pub LOG').\n"
	             "DIR is created (0700) when missing; existing keys are never replaced.\n"
	             "\n"
	             "For an HMAC-keyed log (audit.key), a key is 32 random bytes in a 0600 file:\n"
	             "  (umask 077; head -c 32 /dev/urandom > audit.key)\n"
	             "\n"
	             "Exit: 0; 73 the keys exist already; 64 bad usage; 71 cannot write them.\n");
}

static int cmd_keygen(int argc, char **argv)
{
	const char *cmd = "audit keygen";
	const char *dir = NULL;
	for (int i = 1; i < argc; i++) {
		if (tg_cli_is_help(argv[i])) {
			keygen_usage(stdout);
			return TG_EXIT_OK;
		}
		if (argv[i][0] == '-' && argv[i][1] != '\0')
			return tg_cli_usage_error(cmd, "unknown option '%s'", argv[i]);
		if (dir)
			return tg_cli_usage_error(cmd, "expected one DIR");
		dir = argv[i];
	}
	if (!dir)
		return tg_cli_usage_error(cmd, "expected a DIR");
	_cleanup_error_ struct tg_error *err = NULL;
	_cleanup_free_ char *sec = NULL, *pub = NULL;
	int r = tg_audit_keygen(dir, &sec, &pub, &err);
	if (r < 0) {
		fprintf(stderr, "toolgate %s: %s\n", cmd, tg_error_msg(err));
		return r == -EEXIST ? EXIT_CANTCREAT : TG_EXIT_OSERR;
	}
	printf("secret key: %s (keep it on the broker's machine, readable by it only)\n"
	       "public key: %s (for 'toolgate audit verify --pubkey')\n",
	       sec, pub);
	return TG_EXIT_OK;
}

/* ---------------------------------------------------------------------------
 * dispatch
 */
static const struct tg_cli_command subcommands[] = {
        {"verify", "check a log's hash chain and name the first damage", cmd_verify},
        {"show", "print records as a table or JSON, filtered", cmd_show},
        {"replay", "decide recorded calls again under a policy", cmd_replay},
        {"keygen", "make an Ed25519 key pair for signed checkpoints", cmd_keygen},
};

static void audit_usage(FILE *out)
{
	fprintf(out, "usage: toolgate audit COMMAND [ARGS...]\n\ncommands:\n");
	for (size_t i = 0; i < TG_ARRAY_SIZE(subcommands); i++)
		fprintf(out, "  %-7s %s\n", subcommands[i].name, subcommands[i].summary);
	fprintf(out, "\n'toolgate audit COMMAND --help' describes a command. The log format is\n"
	             "specified in docs/audit.md.\n");
}

int tg_cmd_audit(int argc, char **argv)
{
	if (argc < 2) {
		audit_usage(stderr);
		return TG_EXIT_USAGE;
	}
	if (tg_cli_is_help(argv[1])) {
		audit_usage(stdout);
		return TG_EXIT_OK;
	}
	for (size_t i = 0; i < TG_ARRAY_SIZE(subcommands); i++)
		if (strcmp(argv[1], subcommands[i].name) == 0)
			return subcommands[i].run(argc - 1, argv + 1);
	return tg_cli_usage_error("audit", "unknown command '%s'", argv[1]);
}
