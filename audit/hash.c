/* SPDX-License-Identifier: Apache-2.0 */
/* The hash rule and HMAC keys. One function computes every record hash, so
 * the writer and the verifier cannot drift apart. */
#include <string.h>

#include <sodium.h>

#include "internal.h"

int tg_audit_key_load(const char *path, struct tg_audit_key **ret, struct tg_error **err)
{
	_cleanup_free_ char *buf = NULL;
	size_t len = 0;
	int r = tg_read_file(path, TG_AUDIT_KEY_MAX, &buf, &len);
	if (r == -EFBIG)
		return tg_error_set(err, -EINVAL, "key file %s: longer than %d bytes", path,
		                    TG_AUDIT_KEY_MAX);
	if (r < 0)
		return tg_error_set(err, r, "key file %s: %m", path);
	if (len < TG_AUDIT_KEY_MIN) {
		sodium_memzero(buf, len);
		return tg_error_set(err, -EINVAL,
		                    "key file %s: %zu bytes, an HMAC key needs at least %d", path,
		                    len, TG_AUDIT_KEY_MIN);
	}
	struct tg_audit_key *k = calloc(1, sizeof(*k));
	if (!k) {
		sodium_memzero(buf, len);
		return tg_error_set(err, -ENOMEM, "out of memory");
	}
	k->bytes = (uint8_t *)steal_pointer(&buf);
	k->len = len;
	crypto_auth_hmacsha256_init(&k->base, k->bytes, k->len);
	*ret = k;
	return 0;
}

void tg_audit_key_free(struct tg_audit_key *k)
{
	if (!k)
		return;
	/* The key authenticates the whole log: do not leave it in freed heap. */
	sodium_memzero(k->bytes, k->len);
	sodium_memzero(&k->base, sizeof(k->base));
	free(k->bytes);
	free(k);
}

void tg_audit_hash(const struct tg_audit_key *key, const char *body, size_t len,
                   char out[TG_SHA256_HEX_LEN])
{
	uint8_t digest[crypto_hash_sha256_BYTES];
	if (key) {
		crypto_auth_hmacsha256_state st = key->base;
		crypto_auth_hmacsha256_update(&st, (const uint8_t *)body, len);
		crypto_auth_hmacsha256_update(&st, (const uint8_t *)"}", 1);
		crypto_auth_hmacsha256_final(&st, digest);
		sodium_memzero(&st, sizeof(st));
	} else {
		crypto_hash_sha256_state st;
		crypto_hash_sha256_init(&st);
		crypto_hash_sha256_update(&st, (const uint8_t *)body, len);
		crypto_hash_sha256_update(&st, (const uint8_t *)"}", 1);
		crypto_hash_sha256_final(&st, digest);
	}
	tg_hex(digest, sizeof(digest), out);
}

bool tg_audit_is_hex64(const char *s, size_t len)
{
	if (len != TG_AUDIT_HEX_LEN)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

bool tg_audit_split_line(const char *line, size_t len, size_t *ret_body_len,
                         char ret_hash[TG_SHA256_HEX_LEN])
{
	/* The tail is found by position, never by searching: the hash member is
	 * last by construction, so anything else is not a record. */
	if (len < TG_AUDIT_TAIL_LEN + 1)
		return false;
	size_t body = len - TG_AUDIT_TAIL_LEN;
	const char *tail = line + body;
	if (memcmp(tail, TG_AUDIT_HASH_KEY, TG_AUDIT_HASH_KEY_LEN) != 0)
		return false;
	const char *hex = tail + TG_AUDIT_HASH_KEY_LEN;
	if (!tg_audit_is_hex64(hex, TG_AUDIT_HEX_LEN))
		return false;
	if (hex[TG_AUDIT_HEX_LEN] != '"' || hex[TG_AUDIT_HEX_LEN + 1] != '}')
		return false;
	memcpy(ret_hash, hex, TG_AUDIT_HEX_LEN);
	ret_hash[TG_AUDIT_HEX_LEN] = '\0';
	*ret_body_len = body;
	return true;
}
