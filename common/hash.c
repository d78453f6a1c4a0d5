/* SPDX-License-Identifier: Apache-2.0 */
/* SHA-256 through libsodium; hex encoding through libsodium too. */
#include <sodium.h>

#include "tg.h"

void tg_hex(const uint8_t *in, size_t len, char *out)
{
	sodium_bin2hex(out, 2 * len + 1, in, len);
}

void tg_sha256_hex(const void *data, size_t len, char out[TG_SHA256_HEX_LEN])
{
	uint8_t digest[crypto_hash_sha256_BYTES];
	crypto_hash_sha256(digest, data, len);
	tg_hex(digest, sizeof(digest), out);
}

int tg_sha256_fd_hex(int fd, char out[TG_SHA256_HEX_LEN])
{
	crypto_hash_sha256_state st;
	uint8_t buf[65536];
	crypto_hash_sha256_init(&st);
	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			break;
		crypto_hash_sha256_update(&st, buf, (size_t)n);
	}
	uint8_t digest[crypto_hash_sha256_BYTES];
	crypto_hash_sha256_final(&st, digest);
	tg_hex(digest, sizeof(digest), out);
	return 0;
}
