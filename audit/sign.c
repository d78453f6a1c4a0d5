/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Ed25519 keys and checkpoint signatures (libsodium crypto_sign).
 *
 * A checkpoint signs the head of the chain, (seq, hash) of the record
 * before it. Each hash covers the record's bytes and the hash before it, so
 * one signature vouches for every record up to that seq: whoever can
 * rewrite the file can recompute a SHA-256 chain, but not this signature.
 * Verifying needs the public key only (an HMAC key would let the verifier
 * forge records too).
 *
 * Key files are one line of text so they can be pasted into tickets and
 * configuration: "ed25519-secret:<64 hex>" (the 32-byte seed) and
 * "ed25519:<64 hex>" (the public key). The prefixes keep the two apart: a
 * secret key given where the public one belongs is named as such.
 */
#include <fcntl.h>
#include <inttypes.h>
#include <string.h>
#include <sys/stat.h>

#include <sodium.h>

#include "internal.h"

#define SECRET_PREFIX "ed25519-secret:"
#define PUBLIC_PREFIX "ed25519:"
#define SECRET_NAME   "audit-sign.key"
#define PUBLIC_NAME   "audit-sign.pub"

struct tg_audit_signer {
	uint8_t sk[crypto_sign_SECRETKEYBYTES];
	uint8_t pk[crypto_sign_PUBLICKEYBYTES];
	char pk_hex[TG_SHA256_HEX_LEN];
};

/* The 32 bytes of "<prefix><64 hex>" plus optional trailing whitespace. */
static int parse_key_line(const char *buf, size_t len, const char *prefix, uint8_t out[32])
{
	size_t pl = strlen(prefix);
	while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r' || buf[len - 1] == ' ' ||
	                   buf[len - 1] == '\t'))
		len--;
	if (len != pl + 64 || memcmp(buf, prefix, pl) != 0)
		return -EINVAL;
	size_t bin_len = 0;
	if (sodium_hex2bin(out, 32, buf + pl, 64, NULL, &bin_len, NULL) != 0 || bin_len != 32)
		return -EINVAL;
	return 0;
}

static int read_key_file(const char *path, char **ret, size_t *ret_len, struct tg_error **err)
{
	int r = tg_read_file(path, 4096, ret, ret_len);
	if (r == -EFBIG)
		return tg_error_set(err, -EINVAL, "key file %s: not a key file (too long)", path);
	if (r < 0)
		return tg_error_set(err, r, "key file %s: %m", path);
	return 0;
}

int tg_audit_signer_load(const char *path, struct tg_audit_signer **ret, struct tg_error **err)
{
	_cleanup_free_ char *buf = NULL;
	size_t len = 0;
	int r = read_key_file(path, &buf, &len, err);
	if (r < 0)
		return r;
	uint8_t seed[crypto_sign_SEEDBYTES];
	r = parse_key_line(buf, len, SECRET_PREFIX, seed);
	sodium_memzero(buf, len);
	if (r < 0)
		return tg_error_set(
		        err, -EINVAL,
		        "key file %s: not an Ed25519 secret key (\"%s<64 hex digits>\", "
		        "as 'toolgate audit keygen' writes)",
		        path, SECRET_PREFIX);
	struct stat st;
	if (stat(path, &st) == 0 && (st.st_mode & 077))
		tg_log(TG_LOG_WARN,
		       "audit signing key %s is readable by others (mode %04o): whoever reads it "
		       "can forge checkpoints",
		       path, (unsigned)(st.st_mode & 07777));
	struct tg_audit_signer *s = sodium_malloc(sizeof(*s));
	if (!s) {
		sodium_memzero(seed, sizeof(seed));
		return tg_error_set(err, -ENOMEM, "out of memory");
	}
	crypto_sign_seed_keypair(s->pk, s->sk, seed);
	sodium_memzero(seed, sizeof(seed));
	tg_hex(s->pk, sizeof(s->pk), s->pk_hex);
	*ret = s;
	return 0;
}

void tg_audit_signer_free(struct tg_audit_signer *s)
{
	/* sodium_free wipes the memory before it lets it go */
	if (s)
		sodium_free(s);
}

const char *tg_audit_signer_pubkey(const struct tg_audit_signer *s)
{
	return s->pk_hex;
}

int tg_audit_pubkey_load(const char *path, uint8_t ret[TG_AUDIT_PUBKEY_LEN], struct tg_error **err)
{
	_cleanup_free_ char *buf = NULL;
	size_t len = 0;
	int r = read_key_file(path, &buf, &len, err);
	if (r < 0)
		return r;
	uint8_t pk[TG_AUDIT_PUBKEY_LEN];
	if (parse_key_line(buf, len, PUBLIC_PREFIX, pk) == 0) {
		memcpy(ret, pk, sizeof(pk));
		return 0;
	}
	if (len >= strlen(SECRET_PREFIX) &&
	    memcmp(buf, SECRET_PREFIX, strlen(SECRET_PREFIX)) == 0) {
		sodium_memzero(buf, len);
		return tg_error_set(err, -EINVAL,
		                    "key file %s: this is the secret key; verify with the public "
		                    "one (%s)",
		                    path, PUBLIC_NAME);
	}
	return tg_error_set(err, -EINVAL,
	                    "key file %s: not an Ed25519 public key (\"%s<64 hex digits>\")", path,
	                    PUBLIC_PREFIX);
}

/* What a checkpoint signs: a fixed context string, so a signature made
 * for anything else can never pass as a checkpoint, then the head. */
static size_t message(char out[160], uint64_t seq, const char *hash)
{
	int n = snprintf(out, 160, "toolgate-audit-checkpoint-v1\n%" PRIu64 "\n%.64s\n", seq, hash);
	return n > 0 && n < 160 ? (size_t)n : 0;
}

void tg_audit_checkpoint_sign(const struct tg_audit_signer *s, uint64_t seq, const char *hash,
                              char ret_sig[TG_AUDIT_SIG_HEX_LEN])
{
	char msg[160];
	size_t n = message(msg, seq, hash);
	uint8_t sig[crypto_sign_BYTES];
	crypto_sign_detached(sig, NULL, (const uint8_t *)msg, n, s->sk);
	tg_hex(sig, sizeof(sig), ret_sig);
}

bool tg_audit_checkpoint_verify(const uint8_t pk[TG_AUDIT_PUBKEY_LEN], uint64_t seq,
                                const char *hash, const char *sig_hex)
{
	uint8_t sig[crypto_sign_BYTES];
	size_t bin_len = 0;
	if (strlen(sig_hex) != 2 * crypto_sign_BYTES ||
	    sodium_hex2bin(sig, sizeof(sig), sig_hex, 2 * crypto_sign_BYTES, NULL, &bin_len,
	                   NULL) != 0 ||
	    bin_len != sizeof(sig))
		return false;
	char msg[160];
	size_t n = message(msg, seq, hash);
	return crypto_sign_verify_detached(sig, (const uint8_t *)msg, n, pk) == 0;
}

/* Create path exclusively with mode and write line to it, durably. */
static int write_new(const char *path, mode_t mode, const char *line, struct tg_error **err)
{
	_cleanup_close_ int fd =
	        open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
	if (fd < 0)
		return tg_error_set(err, -errno, "%s: %m", path);
	int r = tg_write_all(fd, line, strlen(line));
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	if (r < 0) {
		unlink(path);
		return tg_error_set(err, r, "%s: %m", path);
	}
	return 0;
}

int tg_audit_keygen(const char *dir, char **ret_secret, char **ret_public, struct tg_error **err)
{
	if (sodium_init() < 0)
		return tg_error_set(err, -EIO, "libsodium failed to initialize");
	int r = tg_mkdir_p(dir, 0700);
	if (r < 0)
		return tg_error_set(err, r, "%s: %m", dir);
	_cleanup_free_ char *sec = tg_strdup_printf("%s/%s", dir, SECRET_NAME);
	_cleanup_free_ char *pub = tg_strdup_printf("%s/%s", dir, PUBLIC_NAME);
	if (!sec || !pub)
		return tg_error_set(err, -ENOMEM, "out of memory");
	/* Never replace a key: the logs it signed would no longer verify
	 * with the public key people were given. */
	if (access(sec, F_OK) == 0 || access(pub, F_OK) == 0)
		return tg_error_set(err, -EEXIST, "%s: a key pair is already there (%s, %s)", dir,
		                    SECRET_NAME, PUBLIC_NAME);
	uint8_t pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES];
	uint8_t seed[crypto_sign_SEEDBYTES];
	crypto_sign_keypair(pk, sk);
	crypto_sign_ed25519_sk_to_seed(seed, sk);
	char seed_hex[2 * crypto_sign_SEEDBYTES + 1], pk_hex[2 * crypto_sign_PUBLICKEYBYTES + 1];
	tg_hex(seed, sizeof(seed), seed_hex);
	tg_hex(pk, sizeof(pk), pk_hex);
	char sline[sizeof(SECRET_PREFIX) + sizeof(seed_hex) + 1];
	snprintf(sline, sizeof(sline), "%s%s\n", SECRET_PREFIX, seed_hex);
	sodium_memzero(sk, sizeof(sk));
	sodium_memzero(seed, sizeof(seed));
	sodium_memzero(seed_hex, sizeof(seed_hex));
	r = write_new(sec, 0600, sline, err);
	sodium_memzero(sline, sizeof(sline));
	if (r < 0)
		return r;
	_cleanup_free_ char *pline = tg_strdup_printf("%s%s\n", PUBLIC_PREFIX, pk_hex);
	if (!pline) {
		unlink(sec);
		return tg_error_set(err, -ENOMEM, "out of memory");
	}
	if ((r = write_new(pub, 0644, pline, err)) < 0) {
		unlink(sec);
		return r;
	}
	if (ret_secret)
		*ret_secret = steal_pointer(&sec);
	if (ret_public)
		*ret_public = steal_pointer(&pub);
	return 0;
}
