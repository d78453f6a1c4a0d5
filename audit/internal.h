/* SPDX-License-Identifier: Apache-2.0 */
/*
 * internal.h (private to audit/) - what record.c, writer.c, reader.c,
 * verify.c and seal.c share: the line format, the hash rule, raw line
 * reading and the seal.
 *
 * The line format (docs/audit.md is the normative text):
 *
 *     {"seq":1,...,"prev":"<64 hex>","hash":"<64 hex>"}\n
 *
 * and hash = SHA-256 (or HMAC-SHA256) of the bytes of the line up to, not
 * including, the final `,"hash":"`, followed by one `}`: the record as it
 * was serialized before its hash was appended.
 */
#ifndef TG_AUDIT_INTERNAL_H
#define TG_AUDIT_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <sodium.h>

#include "audit.h"
#include "tg.h"

/* `,"hash":"` + 64 hex digits + `"}`: the fixed tail of every record. */
#define TG_AUDIT_HASH_KEY         ",\"hash\":\""
#define TG_AUDIT_HASH_KEY_LEN     9
#define TG_AUDIT_HEX_LEN          64
#define TG_AUDIT_TAIL_LEN         (TG_AUDIT_HASH_KEY_LEN + TG_AUDIT_HEX_LEN + 2)
#define TG_AUDIT_ZERO_HASH        "0000000000000000000000000000000000000000000000000000000000000000"
#define TG_AUDIT_MAC_HMAC         "hmac-sha256"
#define TG_AUDIT_EVENT_RECOVERY   "recovery"
#define TG_AUDIT_EVENT_CHECKPOINT "checkpoint"

/* Ed25519: a public key is 32 bytes (64 hex digits in records), a
 * signature 64 bytes (128 hex digits). */
#define TG_AUDIT_PUBKEY_LEN  32
#define TG_AUDIT_SIG_HEX_LEN 129

/* A record line longer than this is refused by readers: bounds the memory a
 * hostile file can make verify allocate. Writers never come close (params
 * and argv are bounded by the policy). */
#define TG_AUDIT_MAX_LINE (64u << 20)

/* Key files: HMAC-SHA256 keys of 32..4096 bytes (docs/audit.md "HMAC"). */
#define TG_AUDIT_KEY_MIN 32
#define TG_AUDIT_KEY_MAX 4096

/* The seal: "<log>.seal", written at close (docs/audit.md "Seal"). */
#define TG_AUDIT_SEAL_SUFFIX ".seal"
/* A rotation's new file, before it takes the log's name. */
#define TG_AUDIT_ROTATING_SUFFIX ".rotating"

struct tg_audit_key {
	uint8_t *bytes;
	size_t len;
	/* HMAC state after the key was absorbed: each record's HMAC starts
	 * from a copy instead of hashing the key again. */
	crypto_auth_hmacsha256_state base;
};

/* ---------------------------------------------------------------------------
 * buf.c: compact JSON, byte for byte as jansson's compact dump.
 */
struct tg_audit_buf {
	char *data; /* NUL-terminated when not NULL */
	size_t len;
	size_t cap;
	bool oom; /* an allocation failed: the content is incomplete */
};

void tg_audit_buf_free(struct tg_audit_buf *b);
void tg_audit_buf_raw(struct tg_audit_buf *b, const char *s, size_t n);
/* `"key":`, preceded by ',' unless it opens an object or array. */
void tg_audit_buf_key(struct tg_audit_buf *b, const char *key);
/* A JSON string; invalid UTF-8 bytes become U+FFFD. */
void tg_audit_buf_str(struct tg_audit_buf *b, const char *s);
void tg_audit_buf_strn(struct tg_audit_buf *b, const char *s, size_t n);
void tg_audit_buf_int(struct tg_audit_buf *b, int64_t v);
/* Clamped to 2^63-1. */
void tg_audit_buf_uint(struct tg_audit_buf *b, uint64_t v);
void tg_audit_buf_bool(struct tg_audit_buf *b, bool v);
void tg_audit_buf_strv(struct tg_audit_buf *b, char *const *v);
/* Any JSON value through jansson (compact, in order); 0 or -ENOMEM. */
int tg_audit_buf_json(struct tg_audit_buf *b, const json_t *v);
/* Decimal digits of v into out (NUL-terminated); their count. */
size_t tg_audit_fmt_u64(char out[21], uint64_t v);

/* ---------------------------------------------------------------------------
 * hash.c
 */

/* Load an HMAC key file. 0 and *ret (free with tg_audit_key_free), or -errno
 * with *err set (unreadable, too short, too long). */
int tg_audit_key_load(const char *path, struct tg_audit_key **ret, struct tg_error **err);
void tg_audit_key_free(struct tg_audit_key *k);

/* The hash of a record whose line starts with body[0..len) (everything before
 * `,"hash":"`): SHA-256 of body + "}" when key is NULL, HMAC-SHA256 with the
 * key otherwise. out is 64 lowercase hex digits and a NUL. */
void tg_audit_hash(const struct tg_audit_key *key, const char *body, size_t len,
                   char out[TG_SHA256_HEX_LEN]);

/* True when s is exactly 64 lowercase hex digits (len bytes). */
bool tg_audit_is_hex64(const char *s, size_t len);

/* Split a line (without its '\n') into body and hash: true when it ends with
 * `,"hash":"<64 lowercase hex>"}`; then *ret_body_len is the body length and
 * ret_hash holds the hex. */
bool tg_audit_split_line(const char *line, size_t len, size_t *ret_body_len,
                         char ret_hash[TG_SHA256_HEX_LEN]);

/* ---------------------------------------------------------------------------
 * record.c
 */

/*
 * The body of a record: its members after seq and time and before prev
 * (event, session, the event's fields in the documented order, and "mac"
 * when keyed), appended to b without braces. -EINVAL for a record the writer
 * must not accept, -ENOMEM.
 */
int tg_audit_record_body(const struct tg_audit_record *r, const char *session, bool keyed,
                         struct tg_audit_buf *b, struct tg_error **err);

/* The same for the writer's own recovery record (docs/audit.md "Recovery"). */
struct tg_audit_recovery {
	bool torn;           /* a torn last line was found */
	uint64_t torn_bytes; /* its length, without any '\n' */
	char torn_sha256[TG_SHA256_HEX_LEN];
	const char *unterminated; /* the session that ended without session_end, or NULL */
};
int tg_audit_recovery_body(const struct tg_audit_recovery *rec, const char *session, bool keyed,
                           struct tg_audit_buf *b);

/* ...and for a checkpoint (docs/audit.md "Checkpoints"). */
struct tg_audit_checkpoint {
	uint64_t signed_seq;
	const char *signed_hash;
	const char *pubkey; /* 64 hex */
	const char *sig;    /* 128 hex */
};
int tg_audit_checkpoint_body(const struct tg_audit_checkpoint *cp, const char *session, bool keyed,
                             struct tg_audit_buf *b);

/*
 * Finish a record under the writer's lock: {seq, time} + body + {prev},
 * hashed, with the hash member and '\n' appended to line (which may hold
 * lines already: several go out in one write). Its hash in ret_hash.
 * 0 or -ENOMEM.
 */
int tg_audit_line_finish(struct tg_audit_buf *line, const char *body, size_t body_len, uint64_t seq,
                         const char *time, const char *prev, const struct tg_audit_key *key,
                         char ret_hash[TG_SHA256_HEX_LEN]);

/* ---------------------------------------------------------------------------
 * sign.c: Ed25519 keys and checkpoint signatures.
 */
struct tg_audit_signer;
/* Load a secret key file ("ed25519-secret:<64 hex>"). */
int tg_audit_signer_load(const char *path, struct tg_audit_signer **ret, struct tg_error **err);
void tg_audit_signer_free(struct tg_audit_signer *s);
/* The public key as 64 hex digits (what checkpoints carry in "pubkey"). */
const char *tg_audit_signer_pubkey(const struct tg_audit_signer *s);
/* Load a public key file ("ed25519:<64 hex>"). */
int tg_audit_pubkey_load(const char *path, uint8_t ret[TG_AUDIT_PUBKEY_LEN], struct tg_error **err);
/* Sign / check the chain head (seq, hash): the message is
 * "toolgate-audit-checkpoint-v1\n<seq>\n<hash>\n". */
void tg_audit_checkpoint_sign(const struct tg_audit_signer *s, uint64_t seq, const char *hash,
                              char ret_sig[TG_AUDIT_SIG_HEX_LEN]);
bool tg_audit_checkpoint_verify(const uint8_t pk[TG_AUDIT_PUBKEY_LEN], uint64_t seq,
                                const char *hash, const char *sig_hex);

/* ---------------------------------------------------------------------------
 * tail.c: the end of an existing log, for a writer that continues it.
 */
struct tg_audit_tail {
	bool have_record;
	uint64_t seq; /* of the last good record */
	char hash[TG_SHA256_HEX_LEN];
	bool ended;        /* its session ended (session_end, maybe then a checkpoint) */
	bool checkpointed; /* the last good record is a checkpoint */
	char *session;
	struct tg_audit_recovery rec;
	bool needs_newline; /* the torn line has no '\n' yet */
};

/* Read the end of the log open on fd (size bytes): its last good record
 * and any torn line after it. Its hash is checked (with key when keyed);
 * -EBADMSG, -ENOKEY, -EINVAL with *err when it must not be continued. */
int tg_audit_tail_read(int fd, off_t size, const struct tg_audit_key *key, const char *path,
                       struct tg_audit_tail *t, struct tg_error **err);
void tg_audit_tail_clear(struct tg_audit_tail *t);

/* ---------------------------------------------------------------------------
 * rotate.c
 */
/* "<path>.<n>"; NULL on ENOMEM. */
char *tg_audit_rotated_name(const char *path, unsigned n);
/* The numbers n of the existing "<path>.<n>" files, ascending (newest
 * first). *ret owned by the caller. */
int tg_audit_rotated_numbers(const char *path, unsigned **ret, size_t *ret_n);
/* With the log locked on fd: undo what a crash in the middle of a rotation
 * left (the log also linked as "<path>.1"; a stale "<path>.rotating"). */
void tg_audit_rotate_repair(const char *path, int fd);
/* Rotate path (whose content is complete and durable): older files shift,
 * path becomes "<path>.1", a new empty file (locked) takes its name. 0 and
 * *ret_fd, or -errno with *err, the log then as it was. */
int tg_audit_rotate(const char *path, unsigned keep, int *ret_fd, struct tg_error **err);

/* ---------------------------------------------------------------------------
 * forward.c: records to syslog (RFC 5424 over an AF_UNIX datagram socket).
 */
struct tg_audit_forward;
/* Never fails but for ENOMEM: a socket that is missing now is retried. */
int tg_audit_forward_open(const char *socket_path, struct tg_audit_forward **ret,
                          struct tg_error **err);
/* Send one record line (with or without its '\n'); never blocks. Not
 * thread-safe: the writer calls it under its lock. */
void tg_audit_forward_send(struct tg_audit_forward *f, const char *event, const char *time,
                           const char *line, size_t len);
void tg_audit_forward_counts(const struct tg_audit_forward *f, uint64_t *ret_sent,
                             uint64_t *ret_dropped);
void tg_audit_forward_free(struct tg_audit_forward *f);

/* ---------------------------------------------------------------------------
 * reader.c: raw lines.
 */

struct tg_audit_line {
	char *data; /* the line without '\n', NUL-terminated (may hold NULs) */
	size_t len;
	uint64_t lineno; /* 1-based */
	off_t offset;    /* of its first byte in the file */
	bool terminated; /* it ended with '\n' (false: the torn last line) */
	bool too_long;   /* longer than TG_AUDIT_MAX_LINE: data holds a prefix only */
};

/* Open path for raw reading from byte offset start (line numbers then count
 * from first_lineno). */
int tg_audit_reader_open_at(const char *path, off_t start, uint64_t first_lineno,
                            struct tg_audit_reader **ret, struct tg_error **err);
/* 1 and *line (valid until the next call), 0 at the end, -errno on I/O error. */
int tg_audit_reader_next_raw(struct tg_audit_reader *r, const struct tg_audit_line **line,
                             struct tg_error **err);
const char *tg_audit_reader_path(const struct tg_audit_reader *r);

/*
 * A parsed record line: the JSON object and its checked envelope. Parsing
 * checks the envelope only (format, required members and their types);
 * hashes and the chain are verify.c's business.
 */
struct tg_audit_parsed {
	json_t *obj;
	uint64_t seq;
	const char *event;   /* borrowed from obj */
	const char *session; /* borrowed from obj */
	const char *prev;    /* borrowed from obj */
	char hash[TG_SHA256_HEX_LEN];
	size_t body_len;
	bool keyed; /* "mac": "hmac-sha256" */
};

/* 0 and *ret filled (obj owned by ret; release with tg_audit_parsed_clear),
 * or -EBADMSG with a human reason in *ret_why (static string). */
int tg_audit_parse_line(const char *line, size_t len, struct tg_audit_parsed *ret,
                        const char **ret_why);
void tg_audit_parsed_clear(struct tg_audit_parsed *p);

/* ---------------------------------------------------------------------------
 * seal.c
 */

/* Write "<path>.seal" for the chain head (seq, hash): atomically (temp file,
 * fsync, rename, fsync of the directory). */
int tg_audit_seal_write(const char *path, uint64_t seq, const char *hash);
/* Read "<path>.seal": 1 and the head, 0 when there is none, -EBADMSG when
 * it is not a valid seal, -errno when it cannot be read. */
int tg_audit_seal_read(const char *path, uint64_t *ret_seq, char ret_hash[TG_SHA256_HEX_LEN]);

/* True when a writer holds path's lock (an OFD write lock on the whole file). */
bool tg_audit_writer_active(const char *path);
/* Take that lock on fd: 0, -EBUSY when another writer holds it, -errno. */
int tg_audit_lock_fd(int fd);
/* fsync the directory that holds path. */
int tg_audit_fsync_dir_of(const char *path);

#endif /* TG_AUDIT_INTERNAL_H */
