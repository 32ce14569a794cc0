#include "controller/kek.h"

#include "shared/enc.h"
#include "shared/err.h"
#include "shared/hash.h"
#include "shared/rand.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NONCE_LEN 12
#define TAG_LEN 16
/* Sealed secrets are PEM keys of a few hundred bytes. */
#define PLAIN_MAX 8192
#define FILE_MAX 256

static void make_id(struct kek *k)
{
	uint8_t buf[11 + KEK_LEN], h[HASH_SHA256_LEN];

	memcpy(buf, "weft-kek-id", 11);
	memcpy(buf + 11, k->key, KEK_LEN);
	hash_sha256(buf, sizeof(buf), h);
	hex_encode(h, 8, k->id, sizeof(k->id));
	explicit_bzero(buf, sizeof(buf));
}

int kek_parse(const char *text, struct kek *out)
{
	uint8_t key[KEK_LEN + 4];
	size_t n, len = 0;
	int rc;

	while (*text && isspace((unsigned char)*text))
		text++;
	n = strlen(text);
	while (n && isspace((unsigned char)text[n - 1]))
		n--;
	rc = base64_decode(text, n, key, sizeof(key), &len, false);
	if (rc < 0 || len != KEK_LEN) {
		explicit_bzero(key, sizeof(key));
		return WEFT_ERR_PARSE;
	}
	memcpy(out->key, key, KEK_LEN);
	explicit_bzero(key, sizeof(key));
	make_id(out);
	return 0;
}

int kek_load_file(const char *path, struct kek *out)
{
	char buf[FILE_MAX + 1];
	ssize_t n;
	int fd, rc;

	/* No mode check: mounted secrets (Kubernetes) are often 0644 inside
	 * a private directory; files this controller makes are 0600. */
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, FILE_MAX);
	rc = n < 0 ? -errno : 0;
	close(fd);
	if (rc == 0) {
		buf[n] = '\0';
		rc = kek_parse(buf, out);
	}
	explicit_bzero(buf, sizeof(buf));
	return rc;
}

int kek_generate_file(const char *path, struct kek *out)
{
	char text[64];
	struct kek k;
	int fd, rc, len;

	rc = rand_bytes(k.key, KEK_LEN);
	if (rc < 0)
		return rc;
	make_id(&k);
	len = base64_encode(k.key, KEK_LEN, text, sizeof(text) - 1, false);
	if (len < 0) {
		rc = len;
		goto out;
	}
	text[len++] = '\n';
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		rc = -errno;
		goto out;
	}
	rc = write(fd, text, (size_t)len) == len ? 0 : -EIO;
	if (fsync(fd) < 0 && rc == 0)
		rc = -errno;
	close(fd);
	if (rc < 0) {
		unlink(path);
		goto out;
	}
	*out = k;
out:
	explicit_bzero(text, sizeof(text));
	kek_wipe(&k);
	return rc;
}

static int aead_init(const struct kek *k, gnutls_aead_cipher_hd_t *h)
{
	gnutls_datum_t key = {(unsigned char *)k->key, KEK_LEN};

	return gnutls_aead_cipher_init(h, GNUTLS_CIPHER_AES_256_GCM, &key) < 0
		       ? WEFT_ERR_CRYPTO
		       : 0;
}

int kek_seal(const struct kek *k, const char *label, const char *plain,
	     char **out)
{
	gnutls_aead_cipher_hd_t h = NULL;
	size_t plen = strlen(plain), clen, blen, tlen;
	uint8_t *bin = NULL;
	char *text = NULL;
	int rc;

	if (plen > PLAIN_MAX)
		return WEFT_ERR_TOOBIG;
	blen = NONCE_LEN + plen + TAG_LEN;
	bin = malloc(blen);
	tlen = strlen(KEK_SEALED_PREFIX) + KEK_ID_SIZE + 1 +
	       base64_encoded_len(blen, false) + 1;
	text = malloc(tlen);
	if (!bin || !text) {
		rc = WEFT_ERR_NOMEM;
		goto out;
	}
	rc = rand_bytes(bin, NONCE_LEN);
	if (rc == 0)
		rc = aead_init(k, &h);
	if (rc < 0)
		goto out;
	clen = plen + TAG_LEN;
	if (gnutls_aead_cipher_encrypt(h, bin, NONCE_LEN, label, strlen(label),
				       TAG_LEN, plain, plen, bin + NONCE_LEN,
				       &clen) < 0 ||
	    clen != plen + TAG_LEN) {
		rc = WEFT_ERR_CRYPTO;
		goto out;
	}
	rc = snprintf(text, tlen, "%s%s:", KEK_SEALED_PREFIX, k->id);
	rc = base64_encode(bin, blen, text + rc, tlen - (size_t)rc, false);
	if (rc < 0)
		goto out;
	*out = text;
	text = NULL;
	rc = 0;
out:
	if (h)
		gnutls_aead_cipher_deinit(h);
	free(bin);
	free(text);
	return rc;
}

int kek_open(const struct kek *k, const char *label, const char *sealed,
	     char **out, char id[KEK_ID_SIZE])
{
	gnutls_aead_cipher_hd_t h = NULL;
	size_t plen, blen = 0, pfx = strlen(KEK_SEALED_PREFIX);
	const char *b64;
	uint8_t *bin = NULL;
	char *plain = NULL;
	int rc;

	if (!kek_is_sealed(sealed))
		return WEFT_ERR_PARSE;
	if (id)
		snprintf(id, KEK_ID_SIZE, "%.16s", sealed + pfx);
	if (memcmp(sealed + pfx, k->id, KEK_ID_SIZE - 1) != 0)
		return WEFT_ERR_AUTH;
	b64 = sealed + pfx + KEK_ID_SIZE;
	bin = malloc(strlen(b64));
	if (!bin)
		return WEFT_ERR_NOMEM;
	rc = base64_decode(b64, strlen(b64), bin, strlen(b64), &blen, false);
	if (rc < 0 || blen < NONCE_LEN + TAG_LEN) {
		rc = WEFT_ERR_PARSE;
		goto out;
	}
	plen = blen - NONCE_LEN - TAG_LEN;
	plain = malloc(plen + 1);
	if (!plain) {
		rc = WEFT_ERR_NOMEM;
		goto out;
	}
	rc = aead_init(k, &h);
	if (rc < 0)
		goto out;
	if (gnutls_aead_cipher_decrypt(h, bin, NONCE_LEN, label, strlen(label),
				       TAG_LEN, bin + NONCE_LEN,
				       blen - NONCE_LEN, plain, &plen) < 0) {
		rc = WEFT_ERR_AUTH;
		goto out;
	}
	plain[plen] = '\0';
	if (strlen(plain) != plen) {
		rc = WEFT_ERR_PARSE;
		goto out;
	}
	*out = plain;
	plain = NULL;
	rc = 0;
out:
	if (h)
		gnutls_aead_cipher_deinit(h);
	if (plain) {
		explicit_bzero(plain, blen - NONCE_LEN - TAG_LEN + 1);
		free(plain);
	}
	free(bin);
	return rc;
}

bool kek_is_sealed(const char *value)
{
	size_t pfx = strlen(KEK_SEALED_PREFIX), i;

	if (!value || strncmp(value, KEK_SEALED_PREFIX, pfx) != 0)
		return false;
	for (i = 0; i < KEK_ID_SIZE - 1; i++)
		if (!isxdigit((unsigned char)value[pfx + i]))
			return false;
	return value[pfx + KEK_ID_SIZE - 1] == ':';
}

void kek_wipe(struct kek *k)
{
	if (k)
		explicit_bzero(k, sizeof(*k));
}
