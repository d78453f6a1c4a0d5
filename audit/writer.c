/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The writer: continues the chain of an existing log (recovering from a
 * crash mid-write), appends records with one write(2) each, and makes them
 * durable per the fsync mode. A record that cannot be written in full is
 * taken back (ftruncate), so a disk-full error leaves the chain as it was
 * and the caller can refuse the call it was recording (fail closed).
 */
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <sodium.h>

#include "internal.h"

/* Group commit: at most one fdatasync per this many ns while records come. */
#define BATCH_INTERVAL_NS 5000000u

struct tg_audit_writer {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	pthread_t flusher;
	bool flusher_running;
	bool stop;
	bool dirty;
	int sync_err; /* first failed background fdatasync: the log is not durable */
	int fatal;    /* the chain could not be restored after a failed write */

	int fd;
	char *path;
	char *session;
	enum tg_audit_fsync mode;
	struct tg_audit_key *key;

	uint64_t seq;                 /* of the last good record */
	char prev[TG_SHA256_HEX_LEN]; /* its hash */
	off_t size;                   /* bytes of good content */
	char *buf;                    /* the line being written (reused) */
	size_t cap;
};

/* What the end of an existing log looks like. */
struct tail {
	bool have_record;
	uint64_t seq;
	char hash[TG_SHA256_HEX_LEN];
	bool ended; /* the last good record is a session_end */
	char *session;
	struct tg_audit_recovery rec;
	bool needs_newline;
};

static void tail_clear(struct tail *t)
{
	free(t->session);
}

static int pread_all(int fd, char *buf, size_t len, off_t off)
{
	while (len > 0) {
		ssize_t n = pread(fd, buf, len, off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -EIO; /* the file shrank under us */
		buf += n;
		len -= (size_t)n;
		off += n;
	}
	return 0;
}

/* Start of the line that ends at end (exclusive): just after the previous
 * '\n', or 0. */
static int line_start(int fd, off_t end, off_t *ret)
{
	char buf[4096];
	off_t pos = end;
	while (pos > 0) {
		size_t n = pos > (off_t)sizeof(buf) ? sizeof(buf) : (size_t)pos;
		int r = pread_all(fd, buf, n, pos - (off_t)n);
		if (r < 0)
			return r;
		char *nl = memrchr(buf, '\n', n);
		if (nl) {
			*ret = pos - (off_t)n + (nl - buf) + 1;
			return 0;
		}
		pos -= (off_t)n;
		if (end - pos > (off_t)TG_AUDIT_MAX_LINE)
			return -E2BIG;
	}
	*ret = 0;
	return 0;
}

/* Check the last good record at [start, end) and take the chain head from it. */
static int take_head(int fd, off_t start, off_t end, const struct tg_audit_key *key,
                     const char *path, struct tail *t, struct tg_error **err)
{
	size_t len = (size_t)(end - start);
	_cleanup_free_ char *line = malloc(len + 1);
	if (!line)
		return tg_error_set(err, -ENOMEM, "out of memory");
	int r = pread_all(fd, line, len, start);
	if (r < 0)
		return tg_error_set(err, r, "%s: %m", path);
	line[len] = '\0';
	struct tg_audit_parsed p;
	const char *why = NULL;
	if (tg_audit_parse_line(line, len, &p, &why) < 0)
		return tg_error_set(err, -EBADMSG,
		                    "%s: the record before the end is damaged (%s); run "
		                    "'toolgate audit verify' and start a new log",
		                    path, why);
	if (p.keyed != (key != NULL)) {
		tg_audit_parsed_clear(&p);
		return key ? tg_error_set(err, -EINVAL,
		                          "%s: the log is not keyed (plain SHA-256): an HMAC key "
		                          "cannot be used for it; start a new log",
		                          path)
		           : tg_error_set(err, -ENOKEY,
		                          "%s: the log is keyed (HMAC-SHA256): its key is needed",
		                          path);
	}
	char h[TG_SHA256_HEX_LEN];
	tg_audit_hash(key, line, p.body_len, h);
	if (strcmp(h, p.hash) != 0) {
		tg_audit_parsed_clear(&p);
		return tg_error_set(err, -EBADMSG,
		                    "%s: the last record fails its %s (modified, or %s); run "
		                    "'toolgate audit verify'",
		                    path, key ? "HMAC" : "hash",
		                    key ? "a different key" : "damaged");
	}
	t->have_record = true;
	t->seq = p.seq;
	memcpy(t->hash, p.hash, sizeof(t->hash));
	t->ended = strcmp(p.event, "session_end") == 0;
	t->session = strdup(p.session);
	tg_audit_parsed_clear(&p);
	return t->session ? 0 : tg_error_set(err, -ENOMEM, "out of memory");
}

static int torn_hash(int fd, off_t start, off_t end, struct tail *t)
{
	crypto_hash_sha256_state st;
	crypto_hash_sha256_init(&st);
	char buf[8192];
	for (off_t pos = start; pos < end;) {
		size_t n = end - pos > (off_t)sizeof(buf) ? sizeof(buf) : (size_t)(end - pos);
		int r = pread_all(fd, buf, n, pos);
		if (r < 0)
			return r;
		crypto_hash_sha256_update(&st, (const uint8_t *)buf, n);
		pos += (off_t)n;
	}
	uint8_t d[crypto_hash_sha256_BYTES];
	crypto_hash_sha256_final(&st, d);
	tg_hex(d, sizeof(d), t->rec.torn_sha256);
	t->rec.torn = true;
	t->rec.torn_bytes = (uint64_t)(end - start);
	return 0;
}

/*
 * Read the end of the log: its last good record and, when the last line is
 * torn (no '\n', or not a record at all), the torn bytes. Only the end is
 * read: verifying the whole log is verify's job, not a startup cost.
 */
static int read_tail(int fd, off_t size, const struct tg_audit_key *key, const char *path,
                     struct tail *t, struct tg_error **err)
{
	if (size == 0)
		return 0;
	char last;
	int r = pread_all(fd, &last, 1, size - 1);
	if (r < 0)
		return tg_error_set(err, r, "%s: %m", path);
	off_t end = last == '\n' ? size - 1 : size;
	off_t start;
	if ((r = line_start(fd, end, &start)) < 0)
		return tg_error_set(err, r, "%s: reading its last line: %m", path);
	bool torn = last != '\n';
	if (!torn) {
		/* A terminated last line that is not even a record envelope is
		 * what a crash leaves on filesystems that extend the file before
		 * the data lands (NULs): torn as well. A well-formed record with a
		 * wrong hash is not torn but modified, and take_head refuses it. */
		size_t len = (size_t)(end - start);
		_cleanup_free_ char *line = malloc(len + 1);
		if (!line)
			return tg_error_set(err, -ENOMEM, "out of memory");
		if ((r = pread_all(fd, line, len, start)) < 0)
			return tg_error_set(err, r, "%s: %m", path);
		line[len] = '\0';
		struct tg_audit_parsed p;
		const char *why;
		if (tg_audit_parse_line(line, len, &p, &why) < 0)
			torn = true;
		else
			tg_audit_parsed_clear(&p);
	}
	if (torn) {
		if ((r = torn_hash(fd, start, end, t)) < 0)
			return tg_error_set(err, r, "%s: %m", path);
		t->needs_newline = last != '\n';
		if (start == 0)
			return 0;
		end = start - 1;
		if ((r = line_start(fd, end, &start)) < 0)
			return tg_error_set(err, r, "%s: %m", path);
	}
	return take_head(fd, start, end, key, path, t, err);
}

/* Write buf at the end in one write(2); on a short or failed write put the
 * file back to w->size so the chain stays as it was. Locked. */
static int write_once(struct tg_audit_writer *w, const char *buf, size_t len, struct tg_error **err)
{
	ssize_t n;
	do
		n = write(w->fd, buf, len);
	while (n < 0 && errno == EINTR);
	if (n == (ssize_t)len)
		return 0;
	/* A short write to a regular file means the space ran out. */
	int e = n < 0 ? -errno : -ENOSPC;
	struct stat st;
	if (fstat(w->fd, &st) < 0 || st.st_size != w->size) {
		if (ftruncate(w->fd, w->size) < 0) {
			w->fatal = e;
			return tg_error_set(err, e,
			                    "%s: cannot write audit record (%m), and the partial "
			                    "record could not be removed: the log needs repair",
			                    w->path);
		}
	}
	return tg_error_set(err, e, "%s: cannot write audit record: %m", w->path);
}

/* Chain, write and sync one record object. Locked. */
static int commit(struct tg_audit_writer *w, const char *body, size_t body_len, bool newline_first,
                  struct tg_error **err)
{
	if (w->fatal)
		return tg_error_set(err, w->fatal, "%s: audit log unusable after an earlier error",
		                    w->path);
	if (w->sync_err)
		return tg_error_set(err, w->sync_err, "%s: fdatasync failed earlier: %m", w->path);
	size_t len;
	char hash[TG_SHA256_HEX_LEN];
	int r = tg_audit_record_seal_line(body, body_len, w->seq + 1, w->prev, w->key, &w->buf,
	                                  &w->cap, &len, hash);
	if (r < 0)
		return tg_error_set(err, r, "audit record: %m");
	const char *buf = w->buf;
	_cleanup_free_ char *with_nl = NULL;
	if (newline_first) {
		/* End the torn line and write the recovery in the same write. */
		with_nl = malloc(len + 1);
		if (!with_nl)
			return tg_error_set(err, -ENOMEM, "out of memory");
		with_nl[0] = '\n';
		memcpy(with_nl + 1, w->buf, len);
		buf = with_nl;
		len++;
	}
	if ((r = write_once(w, buf, len, err)) < 0)
		return r;
	if (w->mode == TG_AUDIT_SYNC_ALWAYS && fdatasync(w->fd) < 0) {
		r = -errno;
		/* Not known to be durable: take it back rather than leave a record
		 * whose call the caller is about to refuse. */
		if (ftruncate(w->fd, w->size) < 0)
			w->fatal = r;
		return tg_error_set(err, r, "%s: fdatasync: %m", w->path);
	}
	w->size += (off_t)len;
	w->seq++;
	memcpy(w->prev, hash, sizeof(w->prev));
	if (w->mode == TG_AUDIT_SYNC_BATCH && !w->dirty) {
		w->dirty = true;
		pthread_cond_signal(&w->cond);
	}
	return 0;
}

static void *flusher_main(void *arg)
{
	struct tg_audit_writer *w = arg;
	pthread_mutex_lock(&w->lock);
	for (;;) {
		while (!w->dirty && !w->stop)
			pthread_cond_wait(&w->cond, &w->lock);
		if (!w->dirty)
			break;
		w->dirty = false;
		pthread_mutex_unlock(&w->lock);
		uint64_t t0 = tg_now_mono_ns();
		int r = fdatasync(w->fd) < 0 ? -errno : 0;
		pthread_mutex_lock(&w->lock);
		if (r < 0 && !w->sync_err)
			w->sync_err = r;
		if (w->stop)
			continue;
		pthread_mutex_unlock(&w->lock);
		/* Records that arrive meanwhile share the next fdatasync. */
		uint64_t spent = tg_now_mono_ns() - t0;
		if (spent < BATCH_INTERVAL_NS) {
			struct timespec ts = {0, (long)(BATCH_INTERVAL_NS - spent)};
			nanosleep(&ts, NULL);
		}
		pthread_mutex_lock(&w->lock);
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

static void writer_free(struct tg_audit_writer *w)
{
	if (w->fd >= 0)
		close(w->fd);
	pthread_cond_destroy(&w->cond);
	pthread_mutex_destroy(&w->lock);
	tg_audit_key_free(w->key);
	free(w->buf);
	free(w->path);
	free(w->session);
	free(w);
}

static int lock_log(struct tg_audit_writer *w, struct tg_error **err)
{
	/* Two writers on one log would fork the chain. An OFD lock (not flock,
	 * not a classic POSIX lock) belongs to this open file, survives other
	 * fds on the same file being closed, and can be queried by verify. */
	struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0};
	if (fcntl(w->fd, F_OFD_SETLK, &fl) == 0)
		return 0;
	if (errno == EAGAIN || errno == EACCES)
		return tg_error_set(err, -EBUSY, "%s: another writer has the audit log open",
		                    w->path);
	return tg_error_set(err, -errno, "%s: locking: %m", w->path);
}

static int recover(struct tg_audit_writer *w, struct tail *t, struct tg_error **err)
{
	if (t->rec.torn)
		tg_log(TG_LOG_WARN,
		       "audit log %s: torn last line (%" PRIu64 " bytes, sha256 %s) from a crash "
		       "mid-write; continuing after seq %" PRIu64 " with a recovery record",
		       w->path, t->rec.torn_bytes, t->rec.torn_sha256, t->seq);
	if (t->rec.unterminated)
		tg_log(TG_LOG_WARN,
		       "audit log %s: session %s ended without session_end (its writer "
		       "stopped); recorded in a recovery record",
		       w->path, t->rec.unterminated);
	_cleanup_json_ json_t *obj = NULL;
	_cleanup_free_ char *body = NULL;
	size_t body_len;
	int r = tg_audit_recovery_build(&t->rec, w->session, w->key != NULL, &obj);
	if (r == 0)
		r = tg_audit_body_dump(obj, &body, &body_len);
	if (r < 0)
		return tg_error_set(err, r, "out of memory");
	if ((r = commit(w, body, body_len, t->needs_newline, err)) < 0)
		return r;
	/* Recovery is rare and explains damage: make it durable now. */
	if (fdatasync(w->fd) < 0)
		return tg_error_set(err, -errno, "%s: fdatasync: %m", w->path);
	return 0;
}

int tg_audit_open(const struct tg_audit_options *opts, struct tg_audit_writer **ret,
                  struct tg_error **err)
{
	if (!opts || !opts->path || !opts->session || !*opts->session)
		return tg_error_set(err, -EINVAL, "audit: a path and a session id are needed");
	if (sodium_init() < 0)
		return tg_error_set(err, -EIO, "audit: libsodium failed to initialize");
	struct tg_audit_writer *w = calloc(1, sizeof(*w));
	if (!w)
		return tg_error_set(err, -ENOMEM, "out of memory");
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->cond, NULL);
	w->fd = -1;
	w->mode = opts->fsync;
	memcpy(w->prev, TG_AUDIT_ZERO_HASH, sizeof(w->prev));
	w->path = strdup(opts->path);
	w->session = strdup(opts->session);
	int r;
	struct tail t = {0};
	_cleanup_close_ int rfd = -1;
	if (!w->path || !w->session) {
		r = tg_error_set(err, -ENOMEM, "out of memory");
		goto fail;
	}
	if (opts->key_file && (r = tg_audit_key_load(opts->key_file, &w->key, err)) < 0)
		goto fail;
	/* Write-only and append-only: this descriptor can add to the log and
	 * never rewrite what is there (ftruncate rolls back our own tail only). */
	w->fd = open(w->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0600);
	if (w->fd < 0) {
		r = tg_error_set(err, -errno, "%s: %m", w->path);
		goto fail;
	}
	struct stat st, rst;
	if (fstat(w->fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		r = tg_error_set(err, -EINVAL, "%s: not a regular file", w->path);
		goto fail;
	}
	if ((r = lock_log(w, err)) < 0)
		goto fail;
	rfd = open(w->path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (rfd < 0 || fstat(rfd, &rst) < 0 || rst.st_ino != st.st_ino || rst.st_dev != st.st_dev) {
		r = tg_error_set(err, -ESTALE, "%s: changed while opening", w->path);
		goto fail;
	}
	if ((r = read_tail(rfd, rst.st_size, w->key, w->path, &t, err)) < 0)
		goto fail;
	w->size = rst.st_size;
	if (t.have_record) {
		w->seq = t.seq;
		memcpy(w->prev, t.hash, sizeof(w->prev));
		if (!t.ended)
			t.rec.unterminated = t.session;
	}
	if ((t.rec.torn || t.rec.unterminated) && (r = recover(w, &t, err)) < 0) {
		tg_error_wrap(err, "recovering %s", w->path);
		goto fail;
	}
	if (w->mode == TG_AUDIT_SYNC_BATCH) {
		if ((r = -pthread_create(&w->flusher, NULL, flusher_main, w)) < 0) {
			r = tg_error_set(err, r, "audit: flusher thread: %m");
			goto fail;
		}
		w->flusher_running = true;
	}
	tail_clear(&t);
	*ret = w;
	return 0;
fail:
	tail_clear(&t);
	writer_free(w);
	return r;
}

int tg_audit_append(struct tg_audit_writer *w, const struct tg_audit_record *r,
                    struct tg_error **err)
{
	if (!w || !r)
		return tg_error_set(err, -EINVAL, "audit: no writer or record");
	_cleanup_json_ json_t *obj = NULL;
	_cleanup_free_ char *body = NULL;
	size_t body_len;
	/* Build and serialize outside the lock; only chaining, hashing and
	 * writing are serialized. */
	int e = tg_audit_record_build(r, w->session, w->key != NULL, &obj, err);
	if (e < 0)
		return e;
	if ((e = tg_audit_body_dump(obj, &body, &body_len)) < 0)
		return tg_error_set(err, e, "audit record: %m");
	pthread_mutex_lock(&w->lock);
	e = commit(w, body, body_len, false, err);
	pthread_mutex_unlock(&w->lock);
	return e;
}

int tg_audit_close(struct tg_audit_writer *w)
{
	if (!w)
		return 0;
	if (w->flusher_running) {
		pthread_mutex_lock(&w->lock);
		w->stop = true;
		pthread_cond_signal(&w->cond);
		pthread_mutex_unlock(&w->lock);
		pthread_join(w->flusher, NULL);
	}
	int r = w->fatal ?: w->sync_err;
	if (fsync(w->fd) < 0 && r == 0)
		r = -errno;
	/* The seal goes last, after the records are durable, and while we still
	 * hold the lock: it must never claim more than the disk has. */
	if (r == 0 && w->seq > 0) {
		int s = tg_audit_seal_write(w->path, w->seq, w->prev);
		if (s < 0) {
			tg_log(TG_LOG_WARN, "audit log %s: cannot write its seal: %s", w->path,
			       strerror(-s));
			r = s;
		}
	}
	writer_free(w);
	return r;
}

uint64_t tg_audit_seq(const struct tg_audit_writer *w)
{
	struct tg_audit_writer *mw = (struct tg_audit_writer *)w;
	pthread_mutex_lock(&mw->lock);
	uint64_t s = w->seq;
	pthread_mutex_unlock(&mw->lock);
	return s;
}
