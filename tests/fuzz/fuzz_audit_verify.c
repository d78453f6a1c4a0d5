/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target: an arbitrary file handed to the audit verifier (and to
 * the plain reader, as `audit show` uses it). Audit logs travel and anyone may
 * have edited one, so no input may crash, hang or leak. The input is split at
 * the first "\n--8<--\n" into two rotated files when it contains one.
 *
 * Each input is verified twice: as is, and with the public key of the seeds'
 * checkpoints (corpus/audit/signed.jsonl, rotated-signed.txt: signed with the
 * Ed25519 seed 00 01 02 ... 1f) and --partial, so the signature checks and
 * the partial start see the inputs too.
 */
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

#include "audit.h"
#include "tg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int memfd_with(const uint8_t *d, size_t n, char path[64])
{
	int fd = memfd_create("audit", MFD_CLOEXEC);
	if (fd < 0)
		return -1;
	if (tg_write_all(fd, d, n) < 0) {
		close(fd);
		return -1;
	}
	snprintf(path, 64, "/proc/self/fd/%d", fd);
	return fd;
}

/* The public key of the seed 00 01 ... 1f, as `audit keygen` writes it. */
static const char pubkey_line[] =
        "ed25519:03a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b8\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int pub_fd = -1;
	static char pub_path[64];
	if (pub_fd < 0)
		pub_fd =
		        memfd_with((const uint8_t *)pubkey_line, sizeof(pubkey_line) - 1, pub_path);
	static const char cut[] = "\n--8<--\n";
	const uint8_t *split = memmem(data, size, cut, sizeof(cut) - 1);
	size_t n1 = split ? (size_t)(split - data) + 1 : size;
	char p1[64], p2[64];
	int fd1 = memfd_with(data, n1, p1), fd2 = -1;
	if (fd1 < 0)
		return 0;
	if (split) {
		size_t off = n1 + sizeof(cut) - 2;
		fd2 = memfd_with(data + off, size - off, p2);
	}
	char *files[] = {p1, p2};
	size_t n = fd2 >= 0 ? 2 : 1;
	struct tg_audit_verify_result res;
	struct tg_error *err = NULL;
	if (tg_audit_verify(files, n, &res, &err) == 0)
		tg_audit_verify_result_clear(&res);
	tg_error_free(err);
	err = NULL;
	if (pub_fd >= 0) {
		struct tg_audit_verify_options o = {.pubkey_file = pub_path, .partial = true};
		if (tg_audit_verify_with(files, n, &o, &res, &err) == 0)
			tg_audit_verify_result_clear(&res);
		tg_error_free(err);
		err = NULL;
	}

	struct tg_audit_reader *r = NULL;
	if (tg_audit_reader_open(p1, &r, &err) == 0) {
		for (int i = 0; i < 100000; i++) {
			json_t *rec = NULL;
			uint64_t line;
			int k = tg_audit_reader_next(r, &rec, &line, &err);
			tg_error_free(err);
			err = NULL;
			if (k == 0 || (k < 0 && k != -EBADMSG))
				break;
			json_decref(rec);
		}
		tg_audit_reader_free(r);
	}
	tg_error_free(err);
	close(fd1);
	if (fd2 >= 0)
		close(fd2);
	return 0;
}
