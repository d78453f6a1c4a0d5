/* SPDX-License-Identifier: Apache-2.0 */
/*
 * audit.h - the append-only, tamper-evident audit log.
 *
 * One JSON object per line (JSONL). Each record carries `prev`, the hash of
 * the record before it, and `hash`, the SHA-256 of its own bytes as written
 * up to (not including) the final `,"hash":"..."` member. Changing, removing,
 * inserting or reordering a line breaks the chain at that line; docs/audit.md
 * specifies the exact rules so a third party can write a verifier.
 *
 * The module knows nothing but its record type: the broker fills a
 * struct tg_audit_record, the writer serializes it in a fixed field order
 * (jansson, JSON_PRESERVE_ORDER) and appends it. Readers (verify, show,
 * replay) parse lines back.
 *
 * Files: buf.c (compact JSON, byte for byte what jansson writes),
 * record.c (record -> line), hash.c (the hash rule, keys), writer.c (chain,
 * append, fsync, reservations, checkpoints), tail.c (the end of an existing
 * log, crash recovery), rotate.c (rotation by size), sign.c (Ed25519 keys
 * and checkpoint signatures), forward.c (syslog), reader.c (lines -> JSON,
 * torn-line detection), verify.c (+ classify.c: what kind of damage),
 * seal.c (the close mark that exposes lost last records), names.c.
 */
#ifndef TG_AUDIT_H
#define TG_AUDIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

struct tg_error;
struct tg_audit_writer;
struct tg_audit_reader;

enum tg_audit_event {
	TG_AUDIT_SESSION_START = 0,
	TG_AUDIT_POLICY_LOADED,
	TG_AUDIT_CALL,
	TG_AUDIT_SESSION_END,
	/* Written by the writer itself, never passed to tg_audit_append: it
	 * continues a log whose previous writer crashed (torn last line, or a
	 * session without session_end). docs/audit.md "Recovery records". */
	TG_AUDIT_RECOVERY,
	/* Written by the writer itself when it signs (sign_key_file): the
	 * Ed25519 signature of the record before it. docs/audit.md
	 * "Checkpoints". */
	TG_AUDIT_CHECKPOINT,
};

/* "session_start", "policy_loaded", "call", "session_end", "recovery",
 * "checkpoint". */
const char *tg_audit_event_name(enum tg_audit_event e);

/*
 * One record. The writer adds seq, time, session, prev and hash. Pointer
 * fields left NULL and has_* flags left false are omitted from the line;
 * nothing is borrowed past tg_audit_append.
 */
struct tg_audit_record {
	enum tg_audit_event event;

	/* Who asked (call): the peer credentials of the ipc connection. */
	bool has_peer;
	int64_t peer_pid;
	int64_t peer_uid;

	/* call */
	bool has_request_id;
	uint64_t request_id;
	const char *tool;
	const json_t *params; /* already in the form audit.params asks for */
	const char *decision; /* "allow" | "deny" */
	const char *reason;
	const char *rule;
	char *const *argv;  /* NULL-terminated */
	char *const *paths; /* NULL-terminated or NULL: what path parameters were checked as */
	const char *status; /* "OK", "DENIED", ... (the wire status name) */
	bool has_exit;
	int exit_code;
	int signal;
	bool has_usage;
	uint64_t wall_ms;
	uint64_t cpu_ms;
	uint64_t max_rss_kb;
	bool has_output;
	uint64_t stdout_bytes; /* bytes the tool wrote, kept or not */
	uint64_t stderr_bytes;
	bool truncated;
	uint64_t redactions;
	uint64_t redaction_limit_hits; /* written only when > 0 */
	const char *stdout_sha256;     /* of the raw (pre-sanitization) bytes */
	const char *stderr_sha256;
	const char *binary_sha256; /* of the executed binary */
	bool has_egress;
	bool egress_allowed;
	uint64_t egress_dropped_packets;
	bool has_egress_sent; /* egress.sent_bytes: bytes the call sent out */
	uint64_t egress_sent_bytes;
	char *const *protections; /* NULL-terminated */

	/* every event may carry the policy in force */
	const char *policy_sha256;

	/* session_start / policy_loaded */
	const char *policy_path;
	const char *workspace;
	char *const *command; /* session_start: the agent's argv */

	/* session_end */
	bool has_session_exit;
	int session_exit_code;
	int session_signal;

	/* Not part of the record: bytes that tg_audit_reserve set aside for
	 * it (its *ret_bytes), given back by tg_audit_append whether it
	 * succeeds or not. 0 when nothing was reserved. */
	size_t reserved;
};

/* ---------------------------------------------------------------------------
 * Writing.
 */
enum tg_audit_fsync {
	TG_AUDIT_SYNC_BATCH = 0, /* group commit: fsync at most every few ms, and on close */
	TG_AUDIT_SYNC_ALWAYS,    /* fsync after every record, before append returns */
	TG_AUDIT_SYNC_NEVER,     /* leave it to the kernel */
};

struct tg_audit_options {
	const char *path; /* the log file; created 0600 when missing */
	enum tg_audit_fsync fsync;
	const char *session; /* session id written into every record */
	/* Optional: a file holding the HMAC-SHA256 key (32..4096 bytes, used
	 * as is). With a key every record's hash is an HMAC and carries
	 * "mac":"hmac-sha256"; a log is keyed from its first record to its last,
	 * so opening a keyed log without the key (or an unkeyed one with a key)
	 * fails. NULL: plain SHA-256. */
	const char *key_file;

	/* Optional: an Ed25519 secret key file (tg_audit_keygen). The writer
	 * then appends signed checkpoint records: after every checkpoint_every
	 * records (0: not by count), at most checkpoint_interval_ms after a
	 * record was written (0: not by time; a background thread does it
	 * while the log is idle), before a rotation and at close. */
	const char *sign_key_file;
	uint64_t checkpoint_every;
	uint64_t checkpoint_interval_ms;

	/* Rotation by size (0: never). When the file reaches rotate_bytes it
	 * is renamed "<path>.1" (older ones shift to .2, .3, ...) and a new
	 * file continues the chain. rotate_keep bounds the rotated files kept
	 * (the oldest is deleted); 0 keeps them all. docs/audit.md "Rotation". */
	uint64_t rotate_bytes;
	unsigned rotate_keep;

	/* Also send every record to syslog: RFC 5424 over this AF_UNIX
	 * datagram socket ("/dev/log"), best effort and never blocking (a
	 * record that cannot be sent is counted, see tg_audit_stats). NULL:
	 * no forwarding. */
	const char *syslog_socket;
};

/*
 * Open (or create) the log for appending. An existing log is continued: the
 * chain goes on from its last record. A torn last line (a crash mid-write)
 * is reported through *err as a warning-level message only when it cannot
 * be recovered. Returns 0 and *ret, or a negative errno with *err set.
 *
 * More precisely: a torn last line (no '\n', or not JSON) and a last session
 * without session_end are logged as warnings and answered with a recovery
 * record that chains to the last good record and names the torn bytes; the
 * torn bytes stay in the file (evidence). -EBUSY when another writer holds
 * the log (an OFD lock on the file, held until close); -EBADMSG when the last
 * good record fails its hash (a modified log is not continued: verify it);
 * -ENOKEY / -EINVAL when the key does not fit the log.
 *
 * The caller appends session_start first and session_end last: verify
 * reports a log whose last session has no session_end as still open.
 */
int tg_audit_open(const struct tg_audit_options *opts, struct tg_audit_writer **ret,
                  struct tg_error **err);

/*
 * Append one record: adds seq, time, session, prev and hash, writes the line
 * with one write(2), and syncs per the fsync mode. Thread-safe. On failure
 * (disk full, I/O error) returns a negative errno with *err set; the caller
 * must then refuse the call it was recording (fail closed). The writer stays
 * usable: the next append retries the chain from the last good record.
 */
int tg_audit_append(struct tg_audit_writer *w, const struct tg_audit_record *r,
                    struct tg_error **err);

/* Flush and fsync (all modes), write the seal ("<path>.seal": the last seq
 * and hash, so a closed log that later loses its last records is reported
 * as truncated), close, free. Accepts NULL. Returns 0 or the first error
 * seen while flushing. */
int tg_audit_close(struct tg_audit_writer *w);

/* Number of records in the chain so far (the next seq is this + 1). */
uint64_t tg_audit_seq(const struct tg_audit_writer *w);

/*
 * Before running a call: make sure its record can be written afterwards,
 * so that nothing runs unaudited. r holds what is known before the run
 * (tool, params, argv, ...); the writer estimates the record's size with a
 * margin for what the run adds, and preallocates that much disk space past
 * the end of the log (fallocate, FALLOC_FL_KEEP_SIZE: the file's size and
 * content do not change). 0 and *ret_bytes, to be put in the record's
 * `reserved` member; -ENOSPC (or the error that makes the log unusable)
 * with *err when the record could not be written: refuse the call then.
 * On a filesystem without fallocate the check is skipped (0, *ret_bytes 0).
 */
int tg_audit_reserve(struct tg_audit_writer *w, const struct tg_audit_record *r, size_t *ret_bytes,
                     struct tg_error **err);

struct tg_audit_stats {
	uint64_t records;         /* appended by this writer (its own included) */
	uint64_t checkpoints;     /* checkpoint records written */
	uint64_t rotations;       /* files rotated */
	uint64_t forwarded;       /* records sent to syslog */
	uint64_t forward_dropped; /* records syslog did not take (full, missing, too big) */
};
void tg_audit_get_stats(const struct tg_audit_writer *w, struct tg_audit_stats *ret);

/* ---------------------------------------------------------------------------
 * Keys for checkpoints.
 */

/* Make an Ed25519 key pair in dir (created 0700 when missing):
 * "audit-sign.key" (the secret, mode 0600) and "audit-sign.pub". Existing
 * files are never overwritten (-EEXIST). On success *ret_secret and
 * *ret_public (owned by the caller; either may be NULL) are the paths. */
int tg_audit_keygen(const char *dir, char **ret_secret, char **ret_public, struct tg_error **err);

/* The rotated set of a log, oldest first: "<path>.N", ..., "<path>.1",
 * path (the files that exist, stopping at the first missing number).
 * NULL-terminated, owned by the caller (tg_strv_free). */
int tg_audit_rotated_files(const char *path, char ***ret, struct tg_error **err);

/* ---------------------------------------------------------------------------
 * Reading.
 */

/* Open a log for reading. 0 and *ret, or -errno with *err set. */
int tg_audit_reader_open(const char *path, struct tg_audit_reader **ret, struct tg_error **err);
/*
 * The next record: 1 and *ret_record (a new reference) and *ret_line
 * (1-based line number); 0 at the end; a negative errno on a line that is
 * not a JSON object (with *err naming the line) or a torn last line.
 * After such an error the reader has moved past the bad line: calling it
 * again goes on with the next one (audit show skips bad lines this way).
 */
int tg_audit_reader_next(struct tg_audit_reader *r, json_t **ret_record, uint64_t *ret_line,
                         struct tg_error **err);
void tg_audit_reader_free(struct tg_audit_reader *r);

/* ---------------------------------------------------------------------------
 * Verifying.
 */
enum tg_audit_damage {
	TG_AUDIT_INTACT = 0,
	TG_AUDIT_MODIFIED,  /* a record's bytes do not match its hash */
	TG_AUDIT_DELETED,   /* one or more records are missing (seq gap) */
	TG_AUDIT_INSERTED,  /* a record that does not belong to the chain */
	TG_AUDIT_REORDERED, /* records out of order */
	TG_AUDIT_TRUNCATED, /* the log ends early: torn last line, or records lost after the end */
	TG_AUDIT_MALFORMED, /* a line that is not a valid record */
	TG_AUDIT_BAD_SIGNATURE, /* a checkpoint's signature fails, or is missing */
};

/* "intact", "modified", "deleted", ..., "bad signature" */
const char *tg_audit_damage_name(enum tg_audit_damage d);

struct tg_audit_verify_result {
	enum tg_audit_damage damage;
	uint64_t records;  /* records checked and found good before the first damage */
	char *file;        /* where the first damage is (owned), NULL when intact */
	uint64_t line;     /* its 1-based line */
	uint64_t seq;      /* the seq expected there */
	char *detail;      /* what exactly (owned), e.g. "hash mismatch: record was changed" */
	bool open_session; /* intact, but the last session has no session_end yet */
	/* Added with HMAC, recovery and seals: */
	bool writer_active;    /* open_session, and a writer holds the log right now */
	char *open_session_id; /* the open session's id (owned), or NULL */
	bool keyed;            /* the records are HMAC-SHA256 and were checked with the key */
	uint64_t recoveries;   /* recovery records passed (crashes that a writer recovered) */
	char *recovery_detail; /* what the first recovery record says (owned), or NULL */
	bool sealed;           /* a seal was found and the chain reaches it */
	uint64_t sealed_seq;   /* the seal's seq */
	uint64_t last_seq;     /* seq of the last good record (0: none) */
	/* Added with checkpoints and rotation: */
	uint64_t first_seq;        /* seq of the first record (1 unless partial) */
	uint64_t checkpoints;      /* checkpoint records passed */
	bool signatures_checked;   /* with a public key: every checkpoint verified */
	uint64_t signed_seq;       /* the last checkpoint's seq (0: none) */
	uint64_t unsigned_records; /* intact, but records after the last checkpoint
	                            * are not signed yet (a writer is at work) */
};

struct tg_audit_verify_options {
	/* HMAC key file: required for a keyed log; with it every record must
	 * be keyed (an unkeyed record is reported as modified). */
	const char *key_file;
	/* Do not look for "<last file>.seal". */
	bool ignore_seal;
	/* Ed25519 public key file (tg_audit_keygen's "audit-sign.pub"): every
	 * checkpoint must be signed with it, and every record must be covered
	 * by one (the records after the last checkpoint only while a writer
	 * holds the log). */
	const char *pubkey_file;
	/* The first file may start in the middle of the chain (older rotated
	 * files were deleted): its first record is taken as the start. */
	bool partial;
};

/*
 * Verify one log, or rotated files in order. Returns 0 when the files could
 * be read (look at ret->damage), or a negative errno (with *err) when not.
 */
int tg_audit_verify(char *const *files, size_t n_files, struct tg_audit_verify_result *ret,
                    struct tg_error **err);
/* The same with options (opts may be NULL). A keyed log verified without a
 * key is not a damage but an error: -ENOKEY with *err saying so. */
int tg_audit_verify_with(char *const *files, size_t n_files,
                         const struct tg_audit_verify_options *opts,
                         struct tg_audit_verify_result *ret, struct tg_error **err);
void tg_audit_verify_result_clear(struct tg_audit_verify_result *r);

#endif /* TG_AUDIT_H */
