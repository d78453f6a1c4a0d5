/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The writer: continues the chain of an existing log (recovering from a
 * crash mid-write), appends records with one write(2) each, and makes them
 * durable per the fsync mode. A record that cannot be written in full is
 * taken back (ftruncate), so a disk-full error leaves the chain as it was
 * and the caller can refuse the call it was recording (fail closed); and
 * tg_audit_reserve lets the caller make sure, before it runs anything, that
 * the record will find disk space afterwards.
 *
 * Around the chain: signed checkpoints (by count, by time from a
 * background thread, before a rotation and at close), rotation by size
 * (rotate.c), forwarding to syslog (forward.c).
 */
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "internal.h"

/* Group commit: at most one fdatasync per this many ns while records come. */
#define BATCH_INTERVAL_NS 5000000u
/* Disk space is preallocated past the end in steps of at least this. */
#define PREALLOC_CHUNK (64u << 10)
/* What a call's run adds to its record (usage, output counts and hashes,
 * protections, a new reason), on top of what is known before it runs. */
#define RESERVE_MARGIN 8192u
/* A checkpoint line is about 420 bytes (+ "mac"). */
#define CHECKPOINT_MAX 512u

struct tg_audit_writer {
	pthread_mutex_t lock;
	pthread_cond_t cond;   /* CLOCK_MONOTONIC; wakes the background thread */
	pthread_cond_t synced; /* a background fdatasync finished */
	pthread_t bg;
	bool bg_running;
	bool stop;
	bool dirty;   /* records written since the last background fdatasync */
	bool syncing; /* the background thread is in fdatasync(fd) */
	int sync_err; /* first failed fdatasync: the log is not durable */
	int fatal;    /* the chain could not be restored after a failed write */

	int fd;
	char *path;
	char *session;
	enum tg_audit_fsync mode;
	struct tg_audit_key *key;

	uint64_t seq;                 /* of the last good record */
	char prev[TG_SHA256_HEX_LEN]; /* its hash */
	off_t size;                   /* bytes of good content */
	struct tg_audit_buf line;     /* the lines being written (reused) */
	struct tg_audit_buf cpbody;   /* a checkpoint's body (reused) */
	time_t tsec;                  /* the second that tprefix shows */
	char tprefix[20];             /* "YYYY-MM-DDTHH:MM:SS" */

	/* reservations */
	off_t alloc_end;  /* disk space is allocated up to here (>= size) */
	uint64_t pending; /* bytes reserved for records not appended yet */
	bool no_fallocate;

	/* checkpoints */
	struct tg_audit_signer *signer;
	uint64_t cp_every;
	uint64_t cp_interval_ns;
	uint64_t unsigned_n;        /* records since the last checkpoint */
	uint64_t first_unsigned_ns; /* when the first of them was written */

	/* rotation */
	uint64_t rotate_bytes;
	unsigned rotate_keep;
	off_t rotate_retry_at; /* after a failed rotation, not before this size */
	bool rotating;         /* inside rotate_locked: no rotation from its checkpoint */

	struct tg_audit_forward *fwd;
	struct tg_audit_stats stats;
};

/* RFC 3339 UTC with microseconds; the date part is formatted once a second.
 * Locked. */
static void now_rfc3339(struct tg_audit_writer *w, char out[TG_RFC3339_LEN])
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	if (ts.tv_sec != w->tsec || !w->tprefix[0]) {
		struct tm tm;
		gmtime_r(&ts.tv_sec, &tm);
		if (strftime(w->tprefix, sizeof(w->tprefix), "%Y-%m-%dT%H:%M:%S", &tm) != 19) {
			tg_time_rfc3339(out); /* a year beyond 9999: the slow way */
			return;
		}
		w->tsec = ts.tv_sec;
	}
	memcpy(out, w->tprefix, 19);
	out[19] = '.';
	long us = ts.tv_nsec / 1000;
	for (int i = 25; i >= 20; i--) {
		out[i] = (char)('0' + us % 10);
		us /= 10;
	}
	out[26] = 'Z';
	out[27] = '\0';
}

/* Make sure `want` bytes past the end are allocated on disk. Locked. */
static int ensure_space(struct tg_audit_writer *w, uint64_t want)
{
	if (w->no_fallocate || w->alloc_end - w->size >= (off_t)want)
		return 0;
	/* KEEP_SIZE: blocks past the end, the file's size and bytes unchanged
	 * (readers and verify see nothing). A chunk at a time saves calls;
	 * when the chunk does not fit, exactly what is needed may. */
	off_t len = (off_t)want + PREALLOC_CHUNK;
	if (fallocate(w->fd, FALLOC_FL_KEEP_SIZE, w->size, len) == 0) {
		w->alloc_end = w->size + len;
		return 0;
	}
	int e = errno;
	if (e == ENOSPC && want > 0 &&
	    fallocate(w->fd, FALLOC_FL_KEEP_SIZE, w->size, (off_t)want) == 0) {
		w->alloc_end = w->size + (off_t)want;
		return 0;
	}
	if (e == EOPNOTSUPP || e == ENOSYS) {
		/* e.g. NFS: no way to reserve; appends still fail closed */
		w->no_fallocate = true;
		return 0;
	}
	return -e;
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
		w->alloc_end = w->size; /* truncating freed the preallocation */
	}
	return tg_error_set(err, e, "%s: cannot write audit record: %m", w->path);
}

/* Append the checkpoint line for the head (seq, hash) to w->line. Locked. */
static int add_checkpoint_line(struct tg_audit_writer *w, uint64_t seq, const char *hash,
                               const char *time, char ret_hash[TG_SHA256_HEX_LEN])
{
	char sig[TG_AUDIT_SIG_HEX_LEN];
	tg_audit_checkpoint_sign(w->signer, seq, hash, sig);
	struct tg_audit_checkpoint cp = {.signed_seq = seq,
	                                 .signed_hash = hash,
	                                 .pubkey = tg_audit_signer_pubkey(w->signer),
	                                 .sig = sig};
	w->cpbody.len = 0;
	int r = tg_audit_checkpoint_body(&cp, w->session, w->key != NULL, &w->cpbody);
	if (r == 0)
		r = tg_audit_line_finish(&w->line, w->cpbody.data, w->cpbody.len, seq + 1, time,
		                         hash, w->key, ret_hash);
	return r;
}

static void rotate_locked(struct tg_audit_writer *w);

/*
 * Chain, write and sync one record body (NULL: a checkpoint alone), with a
 * checkpoint after it in the same write when one is due by count. Locked.
 */
static int commit(struct tg_audit_writer *w, const char *event, const char *body, size_t body_len,
                  bool newline_first, struct tg_error **err)
{
	if (w->fatal)
		return tg_error_set(err, w->fatal, "%s: audit log unusable after an earlier error",
		                    w->path);
	if (w->sync_err)
		return tg_error_set(err, w->sync_err, "%s: fdatasync failed earlier: %m", w->path);
	char now[TG_RFC3339_LEN];
	now_rfc3339(w, now);
	char h1[TG_SHA256_HEX_LEN], h2[TG_SHA256_HEX_LEN];
	size_t l1 = 0;
	int n = 0, r = 0;
	w->line.len = 0;
	w->line.oom = false;
	if (newline_first)
		/* End the torn line and write the recovery in the same write. */
		tg_audit_buf_raw(&w->line, "\n", 1);
	if (body) {
		r = tg_audit_line_finish(&w->line, body, body_len, w->seq + 1, now, w->prev, w->key,
		                         h1);
		l1 = w->line.len;
		n = 1;
	}
	bool cp = w->signer && (!body || (w->cp_every && w->unsigned_n + 1 >= w->cp_every));
	if (!body && !cp)
		return 0;
	if (r == 0 && cp) {
		r = add_checkpoint_line(w, w->seq + (uint64_t)n, n ? h1 : w->prev, now, h2);
		n++;
	}
	if (r < 0)
		return tg_error_set(err, r, "audit record: out of memory");
	if ((r = write_once(w, w->line.data, w->line.len, err)) < 0)
		return r;
	if (w->mode == TG_AUDIT_SYNC_ALWAYS && fdatasync(w->fd) < 0) {
		r = -errno;
		/* Not known to be durable: take it back rather than leave a record
		 * whose call the caller is about to refuse. */
		if (ftruncate(w->fd, w->size) < 0)
			w->fatal = r;
		w->alloc_end = w->size;
		return tg_error_set(err, r, "%s: fdatasync: %m", w->path);
	}
	w->size += (off_t)w->line.len;
	w->seq += (uint64_t)n;
	memcpy(w->prev, cp ? h2 : h1, sizeof(w->prev));
	w->stats.records += (uint64_t)n;
	if (cp) {
		w->unsigned_n = 0;
		w->stats.checkpoints++;
	} else if (w->unsigned_n++ == 0) {
		w->first_unsigned_ns = tg_now_mono_ns();
		if (w->signer && w->cp_interval_ns)
			pthread_cond_signal(&w->cond); /* a checkpoint deadline now */
	}
	if (w->fwd) {
		size_t off = newline_first ? 1 : 0;
		if (body)
			tg_audit_forward_send(w->fwd, event, now, w->line.data + off, l1 - off);
		if (cp)
			tg_audit_forward_send(w->fwd, TG_AUDIT_EVENT_CHECKPOINT, now,
			                      w->line.data + (body ? l1 : off),
			                      w->line.len - (body ? l1 : off));
	}
	if (w->mode == TG_AUDIT_SYNC_BATCH && !w->dirty) {
		w->dirty = true;
		pthread_cond_signal(&w->cond);
	}
	if (w->rotate_bytes && !w->rotating && w->size >= (off_t)w->rotate_bytes &&
	    w->size >= w->rotate_retry_at)
		rotate_locked(w);
	return 0;
}

/* A checkpoint now, if anything is unsigned. Locked. */
static int checkpoint_locked(struct tg_audit_writer *w, struct tg_error **err)
{
	if (!w->signer || w->unsigned_n == 0)
		return 0;
	return commit(w, TG_AUDIT_EVENT_CHECKPOINT, NULL, 0, false, err);
}

/* Rotation is housekeeping: when it fails the record that triggered it is
 * written all the same, the file grows on, and it is tried again later.
 * Locked. */
static void rotate_locked(struct tg_audit_writer *w)
{
	_cleanup_error_ struct tg_error *err = NULL;
	/* No second rotation from the records that come while we wait, or from
	 * our own checkpoint. */
	w->rotating = true;
	/* The background thread may be in fdatasync on the old descriptor; from
	 * here on the lock is held until the new file is in place, so no record
	 * lands in the old file after its last fdatasync. */
	while (w->syncing)
		pthread_cond_wait(&w->synced, &w->lock);
	/* Each file ends signed, and is complete on disk before it changes
	 * its name. */
	int r = checkpoint_locked(w, &err);
	if (r == 0 && fdatasync(w->fd) < 0) {
		r = tg_error_set(&err, -errno, "fdatasync: %m");
		/* as for a failed background fdatasync: not known durable */
		w->sync_err = r;
	}
	int nfd = -1;
	if (r == 0) {
		/* give back the old file's preallocated blocks */
		if (ftruncate(w->fd, w->size) == 0)
			w->alloc_end = w->size;
		r = tg_audit_rotate(w->path, w->rotate_keep, &nfd, &err);
	}
	if (r < 0) {
		off_t step = (off_t)(w->rotate_bytes / 8 > PREALLOC_CHUNK ? w->rotate_bytes / 8
		                                                          : PREALLOC_CHUNK);
		tg_log(TG_LOG_WARN,
		       "audit log %s: not rotated (tried again after %lld more bytes): %s", w->path,
		       (long long)step, tg_error_msg(err));
		w->rotate_retry_at = w->size + step;
		w->rotating = false;
		return;
	}
	close(w->fd);
	w->fd = nfd;
	w->size = 0;
	w->alloc_end = 0;
	w->rotate_retry_at = 0;
	w->rotating = false;
	w->stats.rotations++;
	/* calls in flight reserved their records' space in the old file */
	if (w->pending && ensure_space(w, w->pending) < 0)
		tg_log(TG_LOG_WARN,
		       "audit log %s: rotated, but cannot reserve space in the new file", w->path);
}

/* When the next checkpoint is due by time (0: none is). Locked. */
static uint64_t checkpoint_deadline(const struct tg_audit_writer *w)
{
	if (!w->signer || !w->cp_interval_ns || w->unsigned_n == 0)
		return 0;
	return w->first_unsigned_ns + w->cp_interval_ns;
}

static void wait_until(struct tg_audit_writer *w, uint64_t mono_ns)
{
	tg_cond_wait_until(&w->cond, &w->lock, mono_ns);
}

/*
 * The background thread: group commit for fsync: batch (one fdatasync for
 * all records written while the previous one ran, at most one per
 * BATCH_INTERVAL_NS), and checkpoints by time while the log is idle.
 */
static void *background_main(void *arg)
{
	struct tg_audit_writer *w = arg;
	pthread_mutex_lock(&w->lock);
	for (;;) {
		if (w->dirty) {
			w->dirty = false;
			w->syncing = true;
			int fd = w->fd;
			pthread_mutex_unlock(&w->lock);
			uint64_t t0 = tg_now_mono_ns();
			int r = fdatasync(fd) < 0 ? -errno : 0;
			pthread_mutex_lock(&w->lock);
			w->syncing = false;
			pthread_cond_broadcast(&w->synced);
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
			continue;
		}
		if (w->stop)
			break;
		uint64_t deadline = checkpoint_deadline(w);
		if (deadline && tg_now_mono_ns() >= deadline) {
			_cleanup_error_ struct tg_error *err = NULL;
			if (checkpoint_locked(w, &err) < 0) {
				tg_log(TG_LOG_WARN, "audit log %s: timed checkpoint: %s", w->path,
				       tg_error_msg(err));
				/* try again one interval later, not in a loop */
				w->first_unsigned_ns = tg_now_mono_ns();
			}
			continue;
		}
		if (deadline)
			wait_until(w, deadline);
		else
			pthread_cond_wait(&w->cond, &w->lock);
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

static void writer_free(struct tg_audit_writer *w)
{
	if (w->fd >= 0)
		close(w->fd);
	pthread_cond_destroy(&w->cond);
	pthread_cond_destroy(&w->synced);
	pthread_mutex_destroy(&w->lock);
	tg_audit_key_free(w->key);
	tg_audit_signer_free(w->signer);
	tg_audit_forward_free(w->fwd);
	tg_audit_buf_free(&w->line);
	tg_audit_buf_free(&w->cpbody);
	free(w->path);
	free(w->session);
	free(w);
}

static int recover(struct tg_audit_writer *w, struct tg_audit_tail *t, struct tg_error **err)
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
	struct tg_audit_buf body = {0};
	int r = tg_audit_recovery_body(&t->rec, w->session, w->key != NULL, &body);
	if (r < 0) {
		tg_audit_buf_free(&body);
		return tg_error_set(err, r, "out of memory");
	}
	r = commit(w, TG_AUDIT_EVENT_RECOVERY, body.data, body.len, t->needs_newline, err);
	tg_audit_buf_free(&body);
	if (r < 0)
		return r;
	/* Recovery is rare and explains damage: make it durable now. */
	if (fdatasync(w->fd) < 0)
		return tg_error_set(err, -errno, "%s: fdatasync: %m", w->path);
	return 0;
}

/*
 * The head of the chain to continue: the end of the log itself, or, when
 * the log is empty (just rotated, or moved away as a rotated file), the end
 * of its newest rotated file.
 */
static int find_head(struct tg_audit_writer *w, int rfd, off_t size, struct tg_audit_tail *t,
                     struct tg_error **err)
{
	if (size > 0)
		return tg_audit_tail_read(rfd, size, w->key, w->path, t, err);
	_cleanup_free_ unsigned *nums = NULL;
	size_t n = 0;
	if (tg_audit_rotated_numbers(w->path, &nums, &n) < 0 || n == 0)
		return 0;
	_cleanup_free_ char *prev = tg_audit_rotated_name(w->path, nums[0]);
	if (!prev)
		return tg_error_set(err, -ENOMEM, "out of memory");
	_cleanup_close_ int pfd = open(prev, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	struct stat st;
	if (pfd < 0 || fstat(pfd, &st) < 0)
		return tg_error_set(err, -errno, "%s: %m", prev);
	int r = tg_audit_tail_read(pfd, st.st_size, w->key, prev, t, err);
	if (r == 0 && t->rec.torn)
		/* Rotation only renames complete files: a torn end there is
		 * damage, and the new file cannot hold its recovery. */
		r = tg_error_set(err, -EBADMSG,
		                 "%s: ends with a torn line; run 'toolgate audit verify' on the "
		                 "rotated set",
		                 prev);
	if (r == 0)
		tg_log(TG_LOG_INFO,
		       "audit log %s: empty; continuing the chain of %s (seq %" PRIu64 ")", w->path,
		       prev, t->seq);
	return r;
}

static int open_log(struct tg_audit_writer *w, struct tg_error **err)
{
	/* Write-only and append-only: this descriptor can add to the log and
	 * never rewrite what is there (ftruncate rolls back our own tail only). */
	w->fd = open(w->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0600);
	if (w->fd < 0)
		return tg_error_set(err, -errno, "%s: %m", w->path);
	struct stat st, rst;
	if (fstat(w->fd, &st) < 0 || !S_ISREG(st.st_mode))
		return tg_error_set(err, -EINVAL, "%s: not a regular file", w->path);
	int r = tg_audit_lock_fd(w->fd);
	if (r == -EBUSY)
		return tg_error_set(err, r, "%s: another writer has the audit log open", w->path);
	if (r < 0)
		return tg_error_set(err, r, "%s: locking: %m", w->path);
	tg_audit_rotate_repair(w->path, w->fd);
	_cleanup_close_ int rfd = open(w->path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (rfd < 0 || fstat(rfd, &rst) < 0 || rst.st_ino != st.st_ino || rst.st_dev != st.st_dev)
		return tg_error_set(err, -ESTALE, "%s: changed while opening", w->path);
	struct tg_audit_tail t = {0};
	r = find_head(w, rfd, rst.st_size, &t, err);
	w->size = rst.st_size;
	w->alloc_end = w->size;
	if (r == 0 && t.have_record) {
		w->seq = t.seq;
		memcpy(w->prev, t.hash, sizeof(w->prev));
		if (!t.ended)
			t.rec.unterminated = t.session;
		if (!t.checkpointed) {
			/* the records after the last checkpoint: signed at the
			 * next one */
			w->unsigned_n = 1;
			w->first_unsigned_ns = tg_now_mono_ns();
		}
	}
	if (r == 0 && (t.rec.torn || t.rec.unterminated) && (r = recover(w, &t, err)) < 0)
		tg_error_wrap(err, "recovering %s", w->path);
	tg_audit_tail_clear(&t);
	return r;
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
	tg_cond_init_monotonic(&w->cond);
	pthread_cond_init(&w->synced, NULL);
	w->fd = -1;
	w->mode = opts->fsync;
	w->cp_every = opts->checkpoint_every;
	w->cp_interval_ns = opts->checkpoint_interval_ms * 1000000u;
	w->rotate_bytes = opts->rotate_bytes;
	w->rotate_keep = opts->rotate_keep;
	memcpy(w->prev, TG_AUDIT_ZERO_HASH, sizeof(w->prev));
	w->path = strdup(opts->path);
	w->session = strdup(opts->session);
	int r;
	if (!w->path || !w->session) {
		r = tg_error_set(err, -ENOMEM, "out of memory");
		goto fail;
	}
	if (opts->key_file && (r = tg_audit_key_load(opts->key_file, &w->key, err)) < 0)
		goto fail;
	if (opts->sign_key_file &&
	    (r = tg_audit_signer_load(opts->sign_key_file, &w->signer, err)) < 0)
		goto fail;
	if (opts->syslog_socket &&
	    (r = tg_audit_forward_open(opts->syslog_socket, &w->fwd, err)) < 0)
		goto fail;
	pthread_mutex_lock(&w->lock);
	r = open_log(w, err);
	pthread_mutex_unlock(&w->lock);
	if (r < 0)
		goto fail;
	if (w->mode == TG_AUDIT_SYNC_BATCH || (w->signer && w->cp_interval_ns)) {
		if ((r = -pthread_create(&w->bg, NULL, background_main, w)) < 0) {
			r = tg_error_set(err, r, "audit: background thread: %m");
			goto fail;
		}
		w->bg_running = true;
	}
	*ret = w;
	return 0;
fail:
	writer_free(w);
	return r;
}

/* What the record of a call can grow to once the call has run. */
static size_t estimate(const struct tg_audit_writer *w, size_t body_len)
{
	return body_len + 256 /* seq, time, prev, hash, mac */ + RESERVE_MARGIN +
	       (w->signer ? CHECKPOINT_MAX : 0);
}

int tg_audit_reserve(struct tg_audit_writer *w, const struct tg_audit_record *r, size_t *ret_bytes,
                     struct tg_error **err)
{
	if (!w || !r)
		return tg_error_set(err, -EINVAL, "audit: no writer or record");
	struct tg_audit_buf body = {0};
	int e = tg_audit_record_body(r, w->session, w->key != NULL, &body, err);
	size_t need = estimate(w, body.len);
	tg_audit_buf_free(&body);
	if (e < 0)
		return e;
	pthread_mutex_lock(&w->lock);
	if (w->fatal)
		e = tg_error_set(err, w->fatal, "%s: audit log unusable after an earlier error",
		                 w->path);
	else if (w->sync_err)
		e = tg_error_set(err, w->sync_err, "%s: fdatasync failed earlier: %m", w->path);
	/* ...plus room for one checkpoint that no call reserved: a timed one
	 * must not eat the space of the calls in flight */
	else if ((e = ensure_space(w, w->pending + need + (w->signer ? CHECKPOINT_MAX : 0))) < 0)
		tg_error_set(err, e, "%s: no space for the audit record of this call: %m", w->path);
	else if (w->no_fallocate)
		need = 0;
	else
		w->pending += need;
	pthread_mutex_unlock(&w->lock);
	if (e < 0)
		return e;
	*ret_bytes = need;
	return 0;
}

int tg_audit_append(struct tg_audit_writer *w, const struct tg_audit_record *r,
                    struct tg_error **err)
{
	if (!w || !r)
		return tg_error_set(err, -EINVAL, "audit: no writer or record");
	/* Serialized outside the lock; only chaining, hashing and writing are
	 * serialized. */
	struct tg_audit_buf body = {0};
	int e = tg_audit_record_body(r, w->session, w->key != NULL, &body, err);
	pthread_mutex_lock(&w->lock);
	if (e == 0)
		e = commit(w, tg_audit_event_name(r->event), body.data, body.len, false, err);
	w->pending -= r->reserved < w->pending ? r->reserved : w->pending;
	pthread_mutex_unlock(&w->lock);
	tg_audit_buf_free(&body);
	return e;
}

int tg_audit_close(struct tg_audit_writer *w)
{
	if (!w)
		return 0;
	if (w->bg_running) {
		pthread_mutex_lock(&w->lock);
		w->stop = true;
		pthread_cond_signal(&w->cond);
		pthread_mutex_unlock(&w->lock);
		pthread_join(w->bg, NULL);
	}
	pthread_mutex_lock(&w->lock);
	/* the final checkpoint: everything up to the last record signed */
	_cleanup_error_ struct tg_error *err = NULL;
	int cr = w->fatal ? 0 : checkpoint_locked(w, &err);
	if (cr < 0)
		tg_log(TG_LOG_WARN, "audit log %s: final checkpoint: %s", w->path,
		       tg_error_msg(err));
	int r = w->fatal ?: w->sync_err;
	if (fsync(w->fd) < 0 && r == 0)
		r = -errno;
	/* unused preallocated blocks go back to the filesystem */
	if (w->alloc_end > w->size && ftruncate(w->fd, w->size) < 0)
		tg_log(TG_LOG_WARN, "audit log %s: cannot release preallocated space: %m", w->path);
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
	pthread_mutex_unlock(&w->lock);
	writer_free(w);
	return r ?: cr;
}

uint64_t tg_audit_seq(const struct tg_audit_writer *w)
{
	struct tg_audit_writer *mw = (struct tg_audit_writer *)w;
	pthread_mutex_lock(&mw->lock);
	uint64_t s = w->seq;
	pthread_mutex_unlock(&mw->lock);
	return s;
}

void tg_audit_get_stats(const struct tg_audit_writer *w, struct tg_audit_stats *ret)
{
	struct tg_audit_writer *mw = (struct tg_audit_writer *)w;
	pthread_mutex_lock(&mw->lock);
	*ret = w->stats;
	tg_audit_forward_counts(w->fwd, &ret->forwarded, &ret->forward_dropped);
	pthread_mutex_unlock(&mw->lock);
}
