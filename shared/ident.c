#include "shared/ident.h"

#include "shared/enc.h"
#include "shared/err.h"
#include "shared/hash.h"
#include "shared/rand.h"

#include <errno.h>
#include <fcntl.h>
#include <gnutls/abstract.h>
#include <gnutls/x509.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define IDENT_MAX_FILE (64 * 1024)
#define IDENT_VALIDITY_S (10LL * 365 * 24 * 3600 + 3 * 24 * 3600)

struct ident {
	gnutls_x509_privkey_t key;
	gnutls_x509_crt_t crt;
	uint8_t pub[IDENT_KEY_LEN];
};

/* Reads the raw public key out of the private key. */
static int export_pub(gnutls_x509_privkey_t key, uint8_t out[IDENT_KEY_LEN])
{
	gnutls_ecc_curve_t curve;
	gnutls_datum_t x = {0}, k = {0};
	int r = 0;

	if (gnutls_x509_privkey_export_ecc_raw(key, &curve, &x, NULL, &k) < 0)
		return WEFT_ERR_CRYPTO;
	if (curve != GNUTLS_ECC_CURVE_ED25519 || x.size != IDENT_KEY_LEN) {
		r = WEFT_ERR_UNSUPPORTED;
		goto out;
	}
	memcpy(out, x.data, IDENT_KEY_LEN);
out:
	if (k.data) {
		explicit_bzero(k.data, k.size);
		gnutls_free(k.data);
	}
	gnutls_free(x.data);
	return r;
}

/* Builds the self-signed certificate for id->key. */
static int make_cert(struct ident *id)
{
	static const char cn[] = "weft-node";
	uint8_t serial[16];
	time_t now = time(NULL);
	int r = WEFT_ERR_CRYPTO;

	if (rand_bytes(serial, sizeof(serial)) < 0)
		return WEFT_ERR_CRYPTO;
	serial[0] &= 0x7f; /* a positive INTEGER */
	serial[0] |= 0x01;
	if (gnutls_x509_crt_init(&id->crt) < 0)
		return WEFT_ERR_NOMEM;
	if (gnutls_x509_crt_set_version(id->crt, 3) < 0 ||
	    gnutls_x509_crt_set_serial(id->crt, serial, sizeof(serial)) < 0 ||
	    gnutls_x509_crt_set_activation_time(id->crt, now - 3600) < 0 ||
	    gnutls_x509_crt_set_expiration_time(id->crt,
						now + IDENT_VALIDITY_S) < 0 ||
	    gnutls_x509_crt_set_dn_by_oid(id->crt, GNUTLS_OID_X520_COMMON_NAME,
					  0, cn, sizeof(cn) - 1) < 0 ||
	    gnutls_x509_crt_set_key(id->crt, id->key) < 0 ||
	    gnutls_x509_crt_set_key_usage(id->crt,
					  GNUTLS_KEY_DIGITAL_SIGNATURE) < 0 ||
	    gnutls_x509_crt_sign2(id->crt, id->crt, id->key, GNUTLS_DIG_SHA512,
				  0) < 0)
		goto out;
	r = 0;
out:
	if (r < 0) {
		gnutls_x509_crt_deinit(id->crt);
		id->crt = NULL;
	}
	return r;
}

/* Takes ownership of key (also on failure) and completes an ident. */
static int ident_from_key(gnutls_x509_privkey_t key, struct ident **out)
{
	struct ident *id;
	int r;

	id = calloc(1, sizeof(*id));
	if (!id) {
		gnutls_x509_privkey_deinit(key);
		return WEFT_ERR_NOMEM;
	}
	id->key = key;
	r = export_pub(key, id->pub);
	if (r < 0)
		goto out;
	r = make_cert(id);
out:
	if (r < 0)
		ident_del(id);
	else
		*out = id;
	return r;
}

int ident_generate(struct ident **out)
{
	gnutls_x509_privkey_t key;

	if (gnutls_x509_privkey_init(&key) < 0)
		return WEFT_ERR_NOMEM;
	if (gnutls_x509_privkey_generate(key, GNUTLS_PK_EDDSA_ED25519, 256,
					 0) < 0) {
		gnutls_x509_privkey_deinit(key);
		return WEFT_ERR_CRYPTO;
	}
	return ident_from_key(key, out);
}

int ident_load(const char *path, struct ident **out)
{
	gnutls_x509_privkey_t key = NULL;
	gnutls_datum_t d;
	uint8_t *buf = NULL;
	size_t n = 0;
	ssize_t got;
	int fd, r;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	buf = malloc(IDENT_MAX_FILE + 1);
	if (!buf) {
		r = WEFT_ERR_NOMEM;
		goto out;
	}
	while (n <= IDENT_MAX_FILE) {
		got = read(fd, buf + n, IDENT_MAX_FILE + 1 - n);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			r = -errno;
			goto out;
		}
		if (got == 0)
			break;
		n += (size_t)got;
	}
	if (n > IDENT_MAX_FILE) {
		r = WEFT_ERR_TOOBIG;
		goto out;
	}
	if (gnutls_x509_privkey_init(&key) < 0) {
		r = WEFT_ERR_NOMEM;
		goto out;
	}
	d.data = buf;
	d.size = (unsigned)n;
	if (gnutls_x509_privkey_import2(key, &d, GNUTLS_X509_FMT_PEM, NULL,
					 GNUTLS_PKCS_PLAIN) < 0) {
		r = WEFT_ERR_PARSE;
		goto out;
	}
	if (gnutls_x509_privkey_get_pk_algorithm(key) !=
	    GNUTLS_PK_EDDSA_ED25519) {
		r = WEFT_ERR_UNSUPPORTED;
		goto out;
	}
	r = ident_from_key(key, out);
	key = NULL;
out:
	if (key)
		gnutls_x509_privkey_deinit(key);
	if (buf) {
		explicit_bzero(buf, n);
		free(buf);
	}
	close(fd);
	return r;
}

/* Writes all of p or fails with -errno. */
static int write_all(int fd, const uint8_t *p, size_t n)
{
	ssize_t w;

	while (n > 0) {
		w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

int ident_save(const struct ident *id, const char *path)
{
	gnutls_datum_t pem = {0};
	char tmp[PATH_MAX];
	int fd = -1, r;

	if (snprintf(tmp, sizeof(tmp), "%s.tmpXXXXXX", path) >=
	    (int)sizeof(tmp))
		return -ENAMETOOLONG;
	/* PKCS#8: the plain export writes "BEGIN UNKNOWN" for EdDSA keys. */
	if (gnutls_x509_privkey_export2_pkcs8(id->key, GNUTLS_X509_FMT_PEM, NULL,
					      GNUTLS_PKCS_PLAIN, &pem) < 0)
		return WEFT_ERR_CRYPTO;
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		goto out;
	}
	if (fchmod(fd, 0600) < 0) {
		r = -errno;
		goto out;
	}
	r = write_all(fd, pem.data, pem.size);
	if (r < 0)
		goto out;
	if (fsync(fd) < 0) {
		r = -errno;
		goto out;
	}
	if (close(fd) < 0) {
		fd = -1;
		r = -errno;
		goto out;
	}
	fd = -1;
	if (rename(tmp, path) < 0) {
		r = -errno;
		goto out;
	}
	r = 0;
out:
	if (fd >= 0)
		close(fd);
	if (r < 0 && r != -ENAMETOOLONG)
		unlink(tmp);
	explicit_bzero(pem.data, pem.size);
	gnutls_free(pem.data);
	return r;
}

void ident_del(struct ident *id)
{
	if (!id)
		return;
	/* gnutls_x509_privkey_deinit wipes the key material it holds. */
	if (id->key)
		gnutls_x509_privkey_deinit(id->key);
	if (id->crt)
		gnutls_x509_crt_deinit(id->crt);
	explicit_bzero(id, sizeof(*id));
	free(id);
}

int ident_public_key(const struct ident *id, uint8_t out[IDENT_KEY_LEN])
{
	memcpy(out, id->pub, IDENT_KEY_LEN);
	return 0;
}

int ident_derive(const struct ident *id, const char *label,
		 uint8_t out[static 32])
{
	gnutls_ecc_curve_t curve;
	gnutls_datum_t x = {0}, k = {0};
	int r = WEFT_ERR_CRYPTO;

	if (gnutls_x509_privkey_export_ecc_raw(id->key, &curve, &x, NULL,
					       &k) < 0)
		return WEFT_ERR_CRYPTO;
	if (k.size)
		r = hash_hmac_sha256(k.data, k.size, label, strlen(label), out);
	if (k.data) {
		explicit_bzero(k.data, k.size);
		gnutls_free(k.data);
	}
	gnutls_free(x.data);
	return r < 0 ? WEFT_ERR_CRYPTO : 0;
}

int ident_public_b64(const struct ident *id, char out[IDENT_B64_LEN])
{
	if (base64_encode(id->pub, IDENT_KEY_LEN, out, IDENT_B64_LEN, false) <
	    0)
		return WEFT_ERR_INTERNAL;
	return 0;
}

int ident_pin_from_b64(const char *b64, uint8_t out[IDENT_KEY_LEN])
{
	uint8_t key[IDENT_KEY_LEN];
	size_t n;

	if (!b64 || base64_decode(b64, strlen(b64), key, sizeof(key), &n,
				  false) < 0 ||
	    n != IDENT_KEY_LEN)
		return WEFT_ERR_PARSE;
	memcpy(out, key, IDENT_KEY_LEN);
	return 0;
}

int ident_set_credentials(const struct ident *id,
			  gnutls_certificate_credentials_t cred)
{
	gnutls_x509_crt_t crt = id->crt;

	if (gnutls_certificate_set_x509_key(cred, &crt, 1, id->key) < 0)
		return WEFT_ERR_CRYPTO;
	return 0;
}

int ident_key_from_cert(const gnutls_datum_t *der,
			uint8_t out[IDENT_KEY_LEN])
{
	gnutls_x509_crt_t crt = NULL;
	gnutls_pubkey_t pub = NULL;
	gnutls_ecc_curve_t curve;
	gnutls_datum_t x = {0};
	int r = WEFT_ERR_PARSE;

	if (gnutls_x509_crt_init(&crt) < 0 || gnutls_pubkey_init(&pub) < 0) {
		r = WEFT_ERR_NOMEM;
		goto out;
	}
	if (gnutls_x509_crt_import(crt, der, GNUTLS_X509_FMT_DER) < 0 ||
	    gnutls_pubkey_import_x509(pub, crt, 0) < 0)
		goto out;
	if (gnutls_pubkey_get_pk_algorithm(pub, NULL) !=
		    GNUTLS_PK_EDDSA_ED25519 ||
	    gnutls_pubkey_export_ecc_raw2(pub, &curve, &x, NULL, 0) < 0 ||
	    curve != GNUTLS_ECC_CURVE_ED25519 || x.size != IDENT_KEY_LEN) {
		r = WEFT_ERR_UNSUPPORTED;
		goto out;
	}
	memcpy(out, x.data, IDENT_KEY_LEN);
	r = 0;
out:
	gnutls_free(x.data);
	if (pub)
		gnutls_pubkey_deinit(pub);
	if (crt)
		gnutls_x509_crt_deinit(crt);
	return r;
}
