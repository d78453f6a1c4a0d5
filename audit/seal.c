/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The seal and the writer lock: what lets verify tell "still being written"
 * from "closed, then lost its last records".
 *
 * A hash chain cannot show that records were cut off its end: the shorter
 * log is a valid chain too. So a writer that closes a log records the head
 * (seq and hash of its last record) in "<log>.seal", and verify reports a
 * log that does not reach its seal as truncated. The writer holds an OFD
 * write lock on the log while it is open, so verify can also say whether an
 * open session is being written right now (F_OFD_GETLK only looks; it never
 * takes the lock, so verifying cannot block a broker from starting).
 */
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <string.h>

#include "internal.h"

int tg_audit_fsync_dir_of(const char *path)
{
	_cleanup_free_ char *copy = strdup(path);
	if (!copy)
		return -ENOMEM;
	_cleanup_close_ int dfd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	return fsync(dfd) < 0 ? -errno : 0;
}

int tg_audit_seal_write(const char *path, uint64_t seq, const char *hash)
{
	_cleanup_free_ char *seal = tg_strdup_printf("%s%s", path, TG_AUDIT_SEAL_SUFFIX);
	_cleanup_free_ char *tmp = tg_strdup_printf("%s%s.tmp", path, TG_AUDIT_SEAL_SUFFIX);
	if (!seal || !tmp)
		return -ENOMEM;
	_cleanup_json_ json_t *o = json_object();
	if (!o || json_object_set_new(o, "seq", json_integer((json_int_t)seq)) < 0 ||
	    json_object_set_new(o, "hash", json_string(hash)) < 0)
		return -ENOMEM;
	_cleanup_free_ char *text = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	_cleanup_free_ char *line = text ? tg_strdup_printf("%s\n", text) : NULL;
	if (!line)
		return -ENOMEM;
	_cleanup_close_ int fd =
	        open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -errno;
	int r = tg_write_all(fd, line, strlen(line));
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	if (r == 0 && rename(tmp, seal) < 0)
		r = -errno;
	if (r < 0) {
		unlink(tmp);
		return r;
	}
	return tg_audit_fsync_dir_of(seal);
}

int tg_audit_seal_read(const char *path, uint64_t *ret_seq, char ret_hash[TG_SHA256_HEX_LEN])
{
	_cleanup_free_ char *seal = tg_strdup_printf("%s%s", path, TG_AUDIT_SEAL_SUFFIX);
	if (!seal)
		return -ENOMEM;
	_cleanup_free_ char *buf = NULL;
	size_t len = 0;
	int r = tg_read_file(seal, 4096, &buf, &len);
	if (r == -ENOENT)
		return 0;
	if (r == -EFBIG)
		return -EBADMSG;
	if (r < 0)
		return r;
	_cleanup_json_ json_t *o = json_loadb(buf, len, JSON_REJECT_DUPLICATES, NULL);
	const json_t *seq = json_object_get(o, "seq"), *hash = json_object_get(o, "hash");
	if (!json_is_integer(seq) || json_integer_value(seq) < 1 || !json_is_string(hash) ||
	    !tg_audit_is_hex64(json_string_value(hash), json_string_length(hash)))
		return -EBADMSG;
	*ret_seq = (uint64_t)json_integer_value(seq);
	memcpy(ret_hash, json_string_value(hash), TG_SHA256_HEX_LEN);
	return 1;
}

bool tg_audit_writer_active(const char *path)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return false;
	struct flock fl = {.l_type = F_RDLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0};
	if (fcntl(fd, F_OFD_GETLK, &fl) < 0)
		return false;
	return fl.l_type != F_UNLCK;
}

int tg_audit_lock_fd(int fd)
{
	/* Two writers on one log would fork the chain. An OFD lock (not flock,
	 * not a classic POSIX lock) belongs to this open file, survives other
	 * fds on the same file being closed, and can be queried by verify. */
	struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0};
	if (fcntl(fd, F_OFD_SETLK, &fl) == 0)
		return 0;
	return errno == EAGAIN || errno == EACCES ? -EBUSY : -errno;
}
