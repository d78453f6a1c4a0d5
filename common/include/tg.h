/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tg.h - the vocabulary every toolgate library shares: scoped cleanup,
 * the error object that gathers context on its way up, logging, string
 * vectors, time, hashing and small fd helpers.
 *
 * Nothing here knows about policies, sandboxes or the wire.
 */
#ifndef TG_H
#define TG_H

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <jansson.h>

/* ---------------------------------------------------------------------------
 * Scoped cleanup (gnu11). Each helper accepts a pointer to NULL / -1.
 */
#define _cleanup_(f) __attribute__((cleanup(f)))

static inline void tg_freep(void *p)
{
	free(*(void **)p);
}

static inline void tg_closep(const int *fd)
{
	if (*fd >= 0) {
		int saved = errno;
		close(*fd);
		errno = saved;
	}
}

static inline void tg_fclosep(FILE **f)
{
	if (*f)
		fclose(*f);
}

static inline void tg_json_decrefp(json_t **j)
{
	json_decref(*j);
}

void tg_strv_free(char **v);
static inline void tg_strv_freep(char ***v)
{
	tg_strv_free(*v);
}

#define _cleanup_free_      _cleanup_(tg_freep)
#define _cleanup_close_     _cleanup_(tg_closep)
#define _cleanup_fclose_    _cleanup_(tg_fclosep)
#define _cleanup_json_      _cleanup_(tg_json_decrefp)
#define _cleanup_strv_free_ _cleanup_(tg_strv_freep)

/* Take ownership out of a cleanup-scoped variable. */
#define steal_pointer(pp)                      \
	({                                     \
		typeof(*(pp)) stolen_ = *(pp); \
		*(pp) = NULL;                  \
		stolen_;                       \
	})
#define steal_fd(pfd)                    \
	({                               \
		int stolen_fd_ = *(pfd); \
		*(pfd) = -1;             \
		stolen_fd_;              \
	})

#define TG_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* ---------------------------------------------------------------------------
 * Errors. Functions return 0 or a negative errno. Where a person will read
 * the failure they also fill a struct tg_error, and callers wrap it with their
 * own context on the way up: "outer: inner: cause".
 */
struct tg_error {
	int code;  /* negative errno */
	char *msg; /* owned, never NULL */
};

/*
 * Set *err (when err is not NULL and *err is NULL) to a new error with code
 * and the formatted message; return code. code must be negative. "%m" in fmt
 * formats -code, not errno.
 */
int tg_error_set(struct tg_error **err, int code, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
/* Prefix "ctx: " to an existing error's message; returns its code. With no
 * error set, sets one with code -EIO. */
int tg_error_wrap(struct tg_error **err, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));
void tg_error_free(struct tg_error *e);
static inline void tg_error_freep(struct tg_error **e)
{
	tg_error_free(*e);
	*e = NULL;
}
#define _cleanup_error_ _cleanup_(tg_error_freep)
/* The message, or "unknown error" when e is NULL. */
const char *tg_error_msg(const struct tg_error *e);

/* ---------------------------------------------------------------------------
 * Logging to stderr, systemd-friendly ("<3>" prefixes when TG_LOG_JOURNAL is
 * set in the environment, plain "toolgate: " otherwise). Thread-safe.
 */
enum tg_log_level { TG_LOG_ERR = 3, TG_LOG_WARN = 4, TG_LOG_INFO = 6, TG_LOG_DEBUG = 7 };
void tg_log_set_level(enum tg_log_level max);
void tg_log(enum tg_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---------------------------------------------------------------------------
 * String vectors: NULL-terminated arrays of owned strings.
 */
size_t tg_strv_len(char *const *v);
/* Append a copy of s; returns 0 or -ENOMEM. *v may be NULL. */
int tg_strv_push(char ***v, const char *s);
/* Append s itself, taking ownership (freed on failure). */
int tg_strv_push_take(char ***v, char *s);
/* Deep copy; NULL on allocation failure (or when v is NULL). */
char **tg_strv_dup(char *const *v);

/* ---------------------------------------------------------------------------
 * Time.
 */
uint64_t tg_now_mono_ns(void);
static inline uint64_t tg_now_mono_ms(void)
{
	return tg_now_mono_ns() / 1000000u;
}
/* A condition variable whose timed waits run on CLOCK_MONOTONIC, so a step
 * of the wall clock neither stretches nor cuts them. 0 or -errno. */
int tg_cond_init_monotonic(pthread_cond_t *c);
/* Wait on c (m held), at most until CLOCK_MONOTONIC reaches mono_ns. */
void tg_cond_wait_until(pthread_cond_t *c, pthread_mutex_t *m, uint64_t mono_ns);
/* Wall clock as RFC 3339 UTC with microseconds: "2026-11-30T01:02:03.456789Z". */
#define TG_RFC3339_LEN 28
void tg_time_rfc3339(char out[TG_RFC3339_LEN]);

/* ---------------------------------------------------------------------------
 * Hashing (libsodium). Hex output is lowercase.
 */
#define TG_SHA256_HEX_LEN 65
void tg_sha256_hex(const void *data, size_t len, char out[TG_SHA256_HEX_LEN]);
/* Hash a whole file through fd (from its current offset); 0 or -errno. */
int tg_sha256_fd_hex(int fd, char out[TG_SHA256_HEX_LEN]);
void tg_hex(const uint8_t *in, size_t len, char *out /* 2*len+1 */);

/* ---------------------------------------------------------------------------
 * File helpers. All descriptors we open are O_CLOEXEC.
 */
/* Read a whole file of at most max bytes into a NUL-terminated buffer.
 * *ret (owned by the caller) and *ret_len are written only on success.
 * -EFBIG when the file is larger than max. */
int tg_read_file(const char *path, size_t max, char **ret, size_t *ret_len);
int tg_read_fd(int fd, size_t max, char **ret, size_t *ret_len);
/* Write all of buf, retrying on EINTR and short writes; 0 or -errno. */
int tg_write_all(int fd, const void *buf, size_t len);
/* Write a short string to a file (cgroup/proc knobs); 0 or -errno. */
int tg_write_file(const char *path, const char *s);
int tg_write_fileat(int dirfd, const char *name, const char *s);
/* mkdir -p with mode; 0 or -errno. Existing directories are fine. */
int tg_mkdir_p(const char *path, mode_t mode);
/* Absolute, normalized form of path relative to base (no filesystem access
 * beyond getcwd when base is NULL). Caller frees. NULL on ENOMEM. */
char *tg_path_join_abs(const char *base, const char *path);

/* Format helpers returning malloc'ed strings (NULL on ENOMEM). */
char *tg_strdup_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif /* TG_H */
