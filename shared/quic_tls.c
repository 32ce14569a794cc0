/* TLS for the QUIC engine: one GnuTLS session per connection, TLS 1.3
 * only, mandatory ALPN, and a certificate check that compares the peer's
 * Ed25519 key with a pin (client) or asks accept_peer (server). */
#include "shared/quic_internal.h"

#include "shared/enc.h"
#include "shared/err.h"

#include <ngtcp2/ngtcp2_crypto_gnutls.h>
#include <string.h>

#define TLS_PRIORITY                                                         \
	"NORMAL:-VERS-ALL:+VERS-TLS1.3:-CIPHER-ALL:+AES-128-GCM:"            \
	"+AES-256-GCM:+CHACHA20-POLY1305:+AES-128-CCM:-GROUP-ALL:"           \
	"+GROUP-X25519:+GROUP-SECP256R1:+GROUP-SECP384R1:"                   \
	"%DISABLE_TLS13_COMPAT_MODE"

/* TLS alerts that mean "your certificate/key was refused". */
#define ALERT_BAD_CERTIFICATE 42
#define ALERT_UNSUPPORTED_CERTIFICATE 43
#define ALERT_CERTIFICATE_UNKNOWN 46
#define ALERT_ACCESS_DENIED 49
#define ALERT_CERTIFICATE_REQUIRED 116
#define ALERT_NO_APPLICATION_PROTOCOL 120

int quic_tls_alert_err(uint64_t code)
{
	uint64_t alert;

	if (code < NGTCP2_CRYPTO_ERROR || code > NGTCP2_CRYPTO_ERROR + 0xff)
		return WEFT_ERR_PROTO;
	alert = code - NGTCP2_CRYPTO_ERROR;
	switch (alert) {
	case ALERT_BAD_CERTIFICATE:
	case ALERT_UNSUPPORTED_CERTIFICATE:
	case ALERT_CERTIFICATE_UNKNOWN:
	case ALERT_ACCESS_DENIED:
	case ALERT_CERTIFICATE_REQUIRED:
		return WEFT_ERR_AUTH;
	case ALERT_NO_APPLICATION_PROTOCOL:
		return WEFT_ERR_UNSUPPORTED;
	default:
		return WEFT_ERR_PROTO;
	}
}

void quic_tls_read_alpn(struct quic_conn *c)
{
	gnutls_datum_t d;

	if (c->alpn[0] || gnutls_alpn_get_selected_protocol(c->tls, &d) < 0)
		return;
	if (d.size >= sizeof(c->alpn))
		return;
	memcpy(c->alpn, d.data, d.size);
	c->alpn[d.size] = '\0';
}

static ngtcp2_conn *get_conn(ngtcp2_crypto_conn_ref *ref)
{
	struct quic_conn *c = ref->user_data;

	return c->nc;
}

/* Certificate check for both sides: pin (client) or accept_peer (server). */
static int tls_verify(gnutls_session_t s)
{
	ngtcp2_crypto_conn_ref *ref = gnutls_session_get_ptr(s);
	struct quic_conn *c = ref->user_data;
	const gnutls_datum_t *certs;
	uint8_t key[IDENT_KEY_LEN];
	unsigned n = 0;

	if (gnutls_certificate_type_get2(s, GNUTLS_CTYPE_PEERS) !=
	    GNUTLS_CRT_X509)
		goto fail;
	certs = gnutls_certificate_get_peers(s, &n);
	if (!certs || n < 1 || ident_key_from_cert(&certs[0], key) < 0)
		goto fail;
	if (c->server) {
		quic_tls_read_alpn(c);
		if (!c->alpn[0] || !c->ep->o.accept_peer ||
		    !c->ep->o.accept_peer(c->ep, c->alpn, key, c->ep->o.ctx))
			goto fail;
	} else if (!ct_memeq(key, c->pin, IDENT_KEY_LEN)) {
		goto fail;
	}
	memcpy(c->peer_key, key, IDENT_KEY_LEN);
	c->have_peer_key = true;
	return 0;
fail:
	c->auth_failed = true;
	return GNUTLS_E_CERTIFICATE_ERROR;
}

int quic_tls_setup(struct quic_conn *c, const char *alpn)
{
	struct quic_endpoint *ep = c->ep;
	gnutls_datum_t protos[QUIC_MAX_ALPNS];
	unsigned i, n = 0;

	if (gnutls_init(&c->tls, c->server ? GNUTLS_SERVER : GNUTLS_CLIENT) <
	    0)
		return WEFT_ERR_NOMEM;
	if (gnutls_priority_set_direct(c->tls, TLS_PRIORITY, NULL) < 0)
		return WEFT_ERR_CRYPTO;
	if ((c->server ? ngtcp2_crypto_gnutls_configure_server_session(c->tls)
		       : ngtcp2_crypto_gnutls_configure_client_session(
				 c->tls)) != 0)
		return WEFT_ERR_CRYPTO;
	c->ref.get_conn = get_conn;
	c->ref.user_data = c;
	gnutls_session_set_ptr(c->tls, &c->ref);
	if (gnutls_credentials_set(c->tls, GNUTLS_CRD_CERTIFICATE, ep->cred) <
	    0)
		return WEFT_ERR_CRYPTO;
	if (c->server) {
		for (i = 0; i < ep->nalpns; i++) {
			protos[n].data = (unsigned char *)ep->alpn_store[i];
			protos[n++].size = (unsigned)strlen(ep->alpn_store[i]);
		}
		gnutls_certificate_server_set_request(c->tls,
						      GNUTLS_CERT_REQUIRE);
	} else {
		protos[0].data = (unsigned char *)alpn;
		protos[0].size = (unsigned)strlen(alpn);
		n = 1;
	}
	if (gnutls_alpn_set_protocols(c->tls, protos, n,
				      GNUTLS_ALPN_MANDATORY) < 0)
		return WEFT_ERR_CRYPTO;
	ngtcp2_conn_set_tls_native_handle(c->nc, c->tls);
	return 0;
}

int quic_tls_cred_new(const struct ident *id,
		      gnutls_certificate_credentials_t *out)
{
	gnutls_certificate_credentials_t cred;
	int r;

	if (gnutls_certificate_allocate_credentials(&cred) < 0)
		return WEFT_ERR_NOMEM;
	r = ident_set_credentials(id, cred);
	if (r < 0) {
		gnutls_certificate_free_credentials(cred);
		return r;
	}
	gnutls_certificate_set_verify_function(cred, tls_verify);
	*out = cred;
	return 0;
}

int quic_tls_cred_init(struct quic_endpoint *ep)
{
	return quic_tls_cred_new(ep->o.id, &ep->cred);
}

int quic_conn_export(struct quic_conn *c, const char *label, uint8_t *out,
		     size_t len)
{
	if (!label || len == 0 || len > 64)
		return WEFT_ERR_INVAL;
	if (c->dead || !c->tls || !c->accepted ||
	    !ngtcp2_conn_get_handshake_completed(c->nc))
		return WEFT_ERR_BUSY;
	if (gnutls_prf_rfc5705(c->tls, strlen(label), label, 0, NULL, len,
			       (char *)out) < 0)
		return WEFT_ERR_CRYPTO;
	return 0;
}
