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

#include "audit.h"
#include "tg.h"

/* `,"hash":"` + 64 hex digits + `"}`: the fixed tail of every record. */
#define TG_AUDIT_HASH_KEY       ",\"hash\":\""
#define TG_AUDIT_HASH_KEY_LEN   9
#define TG_AUDIT_HEX_LEN        64
#define TG_AUDIT_TAIL_LEN       (TG_AUDIT_HASH_KEY_LEN + TG_AUDIT_HEX_LEN + 2)
#define TG_AUDIT_ZERO_HASH      "0000000000000000000000000000000000000000000000000000000000000000"
#define TG_AUDIT_MAC_HMAC       "hmac-sha256"
#define TG_AUDIT_EVENT_RECOVERY "recovery"

/* A record line longer than this is refused by readers: bounds the memory a
 * hostile file can make verify allocate. Writers never come close (params
 * and argv are bounded by the policy). */
#define TG_AUDIT_MAX_LINE (64u << 20)

/* Key files: HMAC-SHA256 keys of 32..4096 bytes (docs/audit.md "HMAC"). */
#define TG_AUDIT_KEY_MIN 32
#define TG_AUDIT_KEY_MAX 4096

/* The seal: "<log>.seal", written at close (docs/audit.md "Seal"). */
#define TG_AUDIT_SEAL_SUFFIX ".seal"

struct tg_audit_key {
	uint8_t *bytes;
	size_t len;
};

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
 * The body of a record: the JSON object of r's members after seq and time
 * and before prev: event, session, the event's fields in the documented
 * order, and "mac" when keyed. New reference in *ret; -EINVAL for a record
 * the writer must not accept, -ENOMEM.
 */
int tg_audit_record_build(const struct tg_audit_record *r, const char *session, bool keyed,
                          json_t **ret, struct tg_error **err);

/* The same for the writer's own recovery record (docs/audit.md "Recovery"). */
struct tg_audit_recovery {
	bool torn;           /* a torn last line was found */
	uint64_t torn_bytes; /* its length, without any '\n' */
	char torn_sha256[TG_SHA256_HEX_LEN];
	const char *unterminated; /* the session that ended without session_end, or NULL */
};
int tg_audit_recovery_build(const struct tg_audit_recovery *rec, const char *session, bool keyed,
                            json_t **ret);

/* Serialize a body (compact, in order): *ret (malloc'ed, "{...}"), *ret_len. */
int tg_audit_body_dump(const json_t *obj, char **ret, size_t *ret_len);

/*
 * Finish a record under the writer's lock: {seq, time} + body + {prev},
 * hashed, with the hash member and '\n' appended. The line goes into *buf
 * (a reusable buffer of *cap bytes, grown as needed; the caller owns it):
 * *ret_len bytes, not NUL-terminated; its hash in ret_hash.
 */
int tg_audit_record_seal_line(const char *body, size_t body_len, uint64_t seq, const char *prev,
                              const struct tg_audit_key *key, char **buf, size_t *cap,
                              size_t *ret_len, char ret_hash[TG_SHA256_HEX_LEN]);

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

#endif /* TG_AUDIT_INTERNAL_H */
