/* POST /api/v1/register: an agent trades an auth key and its public key for
 * a node, mesh addresses and a node credential.
 *
 * Everything happens in one write transaction: checking the auth key,
 * finding or creating the node, allocating its addresses, rotating its
 * credential, counting the key's use and writing the audit row. Write
 * transactions are serialized, so concurrent registrations never see each
 * other half-done and never get the same address or name. */
#include "controller/api.h"

#include "controller/cred.h"
#include "controller/ipam.h"
#include "controller/metrics.h"
#include "controller/model.h"
#include "shared/enc.h"
#include "shared/err.h"
#include "shared/ip.h"
#include "shared/jsonx.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ROUTES_MAX 64
#define HOSTNAME_MAX 255
#define NODE_KEY_BYTES 32
#define NAME_SUFFIX_MAX 10000 /* laptop-2 ... laptop-10000 */
#define BUSY_RETRIES 5
#define BUSY_SLEEP_US 20000

struct reg_in {
	const char *auth_key;
	const char *public_key;
	const char *hostname;
	const char *os;
	const char *version;
	bool has_routes; /* advertised_routes given (possibly empty) */
	size_t nroutes;
	char routes[ROUTES_MAX][STORE_CIDR_SIZE]; /* canonical, no duplicates */
};

/* What a failed registration tells the client. */
struct reg_err {
	const char *msg;
	const char *field;
	char buf[128];
};

/* --- input checks --- */

static bool printable(const char *s)
{
	for (; *s; s++)
		if (*s < 0x20 || *s > 0x7e)
			return false;
	return true;
}

/* Validates what the body carries beyond types and lengths. Returns 0 or
 * WEFT_ERR_INVAL with *e set. */
static int check_input(struct reg_in *in, const struct jsonx_strings *routes,
		       struct reg_err *e)
{
	uint8_t key[NODE_KEY_BYTES];
	size_t keylen = 0;

	if (base64_decode(in->public_key, strlen(in->public_key), key,
			  sizeof(key), &keylen, false) < 0 ||
	    keylen != NODE_KEY_BYTES) {
		e->msg = "public_key must be the standard base64 of a 32-byte Ed25519 public key";
		e->field = "public_key";
		return WEFT_ERR_INVAL;
	}
	if (!printable(in->os)) {
		e->msg = "os must be printable ASCII";
		e->field = "os";
		return WEFT_ERR_INVAL;
	}
	if (!printable(in->version)) {
		e->msg = "version must be printable ASCII";
		e->field = "version";
		return WEFT_ERR_INVAL;
	}
	in->nroutes = 0;
	for (size_t i = 0; i < routes->n; i++) {
		struct ip_prefix p;
		char text[IP_PREFIX_STRLEN];
		size_t j;

		if (ip_prefix_parse(routes->items[i], &p, IP_PREFIX_STRICT) < 0 ||
		    ip_prefix_format(&p, text, sizeof(text)) < 0) {
			snprintf(e->buf, sizeof(e->buf), "advertised_routes[%zu]",
				 i);
			e->field = e->buf;
			e->msg = "advertised routes must be CIDR prefixes without host bits, like 10.0.0.0/24";
			return WEFT_ERR_INVAL;
		}
		for (j = 0; j < in->nroutes; j++)
			if (strcmp(in->routes[j], text) == 0)
				break;
		if (j == in->nroutes)
			memcpy(in->routes[in->nroutes++], text, sizeof(text));
	}
	return 0;
}

/* The hostname's first label made into a DNS label: lower case, other
 * characters turned into single '-', no '-' at either end, at most 63
 * characters; "node" when nothing is left. */
static void dns_label(const char *host, char out[STORE_NAME_SIZE])
{
	size_t n = 0;

	for (const char *p = host; *p && *p != '.' && n < STORE_NAME_SIZE - 1;
	     p++) {
		char ch = *p;

		if (ch >= 'A' && ch <= 'Z')
			ch = (char)(ch - 'A' + 'a');
		if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9')))
			ch = '-';
		if (ch == '-' && (n == 0 || out[n - 1] == '-'))
			continue;
		out[n++] = ch;
	}
	while (n && out[n - 1] == '-')
		n--;
	out[n] = '\0';
	if (!n)
		snprintf(out, STORE_NAME_SIZE, "node");
}

/* base, or base-2, base-3, ... whichever no node has yet; the base is
 * shortened so the name stays within 63 characters. */
static int unique_name(struct store_tx *tx, const char *base,
		       char out[STORE_NAME_SIZE])
{
	struct store_node other;
	char name[STORE_NAME_SIZE];
	int rc;

	snprintf(name, sizeof(name), "%s", base);
	for (int i = 2;; i++) {
		rc = store_node_get_by_name(tx, name, &other);
		if (rc == WEFT_ERR_NOTFOUND)
			break;
		if (rc < 0)
			return rc;
		if (i > NAME_SUFFIX_MAX)
			return WEFT_ERR_EXHAUSTED;
		{
			char suffix[16];
			size_t sl = (size_t)snprintf(suffix, sizeof(suffix),
						     "-%d", i);
			size_t bl = strlen(base);

			if (bl + sl > STORE_NAME_SIZE - 1)
				bl = STORE_NAME_SIZE - 1 - sl;
			while (bl && base[bl - 1] == '-')
				bl--;
			snprintf(name, sizeof(name), "%.*s%s", (int)bl, base,
				 suffix);
		}
	}
	memcpy(out, name, sizeof(name));
	return 0;
}

/* --- routes --- */

struct route_set {
	struct store_route rows[STORE_PAGE_MAX];
	size_t n;
};

static int collect_route(void *ctx, const struct store_route *r)
{
	struct route_set *s = ctx;

	if (s->n == STORE_PAGE_MAX)
		return WEFT_ERR_TOOBIG;
	s->rows[s->n++] = *r;
	return 0;
}

static int load_routes(struct store_tx *tx, int64_t node_id,
		       struct route_set *s)
{
	struct store_route_filter f = {.node_id = node_id};
	struct store_page pg = {.after = 0, .limit = STORE_PAGE_MAX};

	s->n = 0;
	return store_route_list(tx, &f, &pg, collect_route, s, NULL);
}

/* Makes the node's advertised routes exactly in->routes: new prefixes are
 * added unapproved; ones no longer advertised keep their approval (so
 * re-advertising does not need a second approval) but stop counting. */
static int sync_routes(struct store_tx *tx, int64_t node_id,
		       const struct reg_in *in, int64_t now,
		       struct route_set *s)
{
	int rc = load_routes(tx, node_id, s);

	if (rc < 0)
		return rc;
	for (size_t i = 0; i < s->n; i++) {
		int want = 0;

		for (size_t j = 0; j < in->nroutes; j++)
			if (strcmp(s->rows[i].prefix, in->routes[j]) == 0)
				want = 1;
		if (s->rows[i].advertised != want) {
			s->rows[i].advertised = want;
			rc = store_route_update(tx, &s->rows[i]);
			if (rc < 0)
				return rc;
		}
	}
	for (size_t j = 0; j < in->nroutes; j++) {
		struct store_route r = {.node_id = node_id, .advertised = 1,
					.created_at = now};
		size_t i;

		for (i = 0; i < s->n; i++)
			if (strcmp(s->rows[i].prefix, in->routes[j]) == 0)
				break;
		if (i < s->n)
			continue;
		memcpy(r.prefix, in->routes[j], sizeof(r.prefix));
		rc = store_route_create(tx, &r);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* --- the transaction --- */

/* Every tag of the node is among the key's tags. */
static bool tags_cover(const char *key_tags, const char *node_tags)
{
	json_t *k = api_array_json(key_tags), *n = api_array_json(node_tags), *v, *w;
	size_t i, j;
	bool ok = true;

	json_array_foreach(n, i, v) {
		bool found = false;

		json_array_foreach(k, j, w)
			if (json_equal(v, w))
				found = true;
		if (!found)
			ok = false;
	}
	json_decref(k);
	json_decref(n);
	return ok;
}

/* Checks the auth key; returns 0, WEFT_ERR_AUTH or WEFT_ERR_EXPIRED with
 * e->msg set, or a store error. */
static int check_authkey(struct store_tx *tx, const struct cred *cr,
			 int64_t now, struct store_authkey *k,
			 struct reg_err *e)
{
	int rc = store_authkey_get_by_prefix(tx, cr->id, k);

	if (rc == WEFT_ERR_NOTFOUND || (rc == 0 && !cred_hash_eq(k->hash, cr->hash))) {
		e->msg = "invalid auth key";
		return WEFT_ERR_AUTH;
	}
	if (rc < 0)
		return rc;
	if (k->revoked_at) {
		e->msg = "auth key revoked";
		return WEFT_ERR_AUTH;
	}
	if (k->expires_at && k->expires_at <= now) {
		e->msg = "auth key expired";
		return WEFT_ERR_EXPIRED;
	}
	if (!k->reusable && k->used_count > 0) {
		e->msg = "auth key already used";
		return WEFT_ERR_AUTH;
	}
	return 0;
}

/* One attempt at the whole registration. On success *node_out is the node
 * JSON, cred_text the new credential and *created whether the node is new. */
static int register_tx(struct api_call *c, const struct reg_in *in,
		       const struct cred *cr, struct route_set *s,
		       json_t **node_out, char cred_text[CRED_TEXT_SIZE],
		       bool *created, struct reg_err *e)
{
	struct store_authkey k;
	struct store_node n;
	struct store_tx *tx = NULL;
	struct cred nc;
	char idtext[24], base[STORE_NAME_SIZE], domain[NAME_DNS_MAX + 1];
	json_t *detail = NULL, *nj = NULL;
	int rc;

	rc = store_begin(c->st, STORE_WRITE, &tx);
	if (rc < 0)
		goto out;
	rc = check_authkey(tx, cr, c->now, &k, e);
	if (rc < 0)
		goto out;
	snprintf(c->who.actor, sizeof(c->who.actor), "authkey:%s", k.prefix);

	rc = store_node_get_by_key(tx, in->public_key, &n);
	if (rc == 0) {
		/* Public keys are public (peers see them), so an auth key
		 * of someone else must not take over an existing node. */
		if (n.user_id != k.user_id ||
		    (!n.user_id && !tags_cover(k.tags, n.tags))) {
			e->msg = "this public key belongs to a node that this auth key may not register";
			e->field = "public_key";
			rc = WEFT_ERR_FORBIDDEN;
			goto out;
		}
		*created = false;
		if (in->os[0])
			snprintf(n.os, sizeof(n.os), "%s", in->os);
		if (in->version[0])
			snprintf(n.version, sizeof(n.version), "%s", in->version);
		/* Re-authenticating renews a node an admin expired. */
		n.expires_at = 0;
		n.last_seen = c->now;
		if (in->has_routes) {
			rc = sync_routes(tx, n.id, in, c->now, s);
			if (rc < 0)
				goto out;
		}
	} else if (rc == WEFT_ERR_NOTFOUND) {
		memset(&n, 0, sizeof(n));
		*created = true;
		dns_label(in->hostname, base);
		rc = unique_name(tx, base, n.name);
		if (rc < 0)
			goto out;
		rc = ipam_assign(tx, n.ipv4, n.ipv6);
		if (rc < 0)
			goto out;
		n.user_id = k.user_id;
		snprintf(n.public_key, sizeof(n.public_key), "%s", in->public_key);
		memcpy(n.tags, k.tags, sizeof(n.tags));
		snprintf(n.os, sizeof(n.os), "%s", in->os);
		snprintf(n.version, sizeof(n.version), "%s", in->version);
		n.ephemeral = k.ephemeral;
		n.auth_key_id = k.id;
		n.created_at = c->now;
		n.last_seen = c->now;
		/* The credential names the node id, which exists only after
		 * the insert; the empty hash matches no credential and is
		 * replaced below before anyone can see the row. */
		rc = store_node_create(tx, &n);
		if (rc < 0)
			goto out;
		rc = sync_routes(tx, n.id, in, c->now, s);
		if (rc < 0)
			goto out;
	} else {
		goto out;
	}
	snprintf(idtext, sizeof(idtext), "%" PRId64, n.id);
	rc = cred_new(CRED_NODE, idtext, cred_text, &nc);
	if (rc < 0)
		goto out;
	memcpy(n.cred_hash, nc.hash, sizeof(n.cred_hash));
	rc = store_node_update(tx, &n);
	if (rc < 0)
		goto out;
	rc = store_authkey_use(tx, k.id);
	if (rc < 0)
		goto out;
	detail = json_pack("{s:s, s:b, s:s, s:s}", "name", n.name, "new",
			   *created, "auth_key", k.prefix, "ipv4", n.ipv4);
	rc = detail ? api_audit(c, tx, "node.register", "node", idtext, detail)
		    : WEFT_ERR_NOMEM;
	if (rc < 0)
		goto out;
	rc = store_change_record(tx, "node", n.id, NULL);
	if (rc < 0)
		goto out;
	rc = api_dns_domain(c, tx, domain);
	if (rc == 0)
		rc = model_node_json(tx, domain, &n, &nj);
	if (rc < 0)
		goto out;
	rc = store_commit(tx);
	tx = NULL;
	if (rc < 0)
		goto out;
	*node_out = nj;
	nj = NULL;
out:
	store_rollback(tx);
	json_decref(nj);
	json_decref(detail);
	return rc;
}

static void h_register(struct api_call *c)
{
	struct reg_in *in = NULL;
	struct route_set *s = NULL;
	struct jsonx_strings routes = {0};
	const char *auth_key = NULL, *public_key = NULL, *hostname = NULL;
	const char *os = "", *version = "";
	bool has_routes = false, created = false;
	const struct jsonx_field f[] = {
		{"auth_key", JSONX_STRING, true, 1, CRED_TEXT_SIZE - 1, 0,
		 &auth_key, NULL},
		{"public_key", JSONX_STRING, true, 1, STORE_KEY_SIZE - 1, 0,
		 &public_key, NULL},
		{"hostname", JSONX_STRING, true, 1, HOSTNAME_MAX, 0, &hostname,
		 NULL},
		{"os", JSONX_STRING, false, 0, STORE_SHORT_SIZE - 1, 0, &os, NULL},
		{"version", JSONX_STRING, false, 0, STORE_SHORT_SIZE - 1, 0,
		 &version, NULL},
		{"advertised_routes", JSONX_STRING_ARRAY, false, 0, ROUTES_MAX,
		 STORE_CIDR_SIZE - 1, &routes, &has_routes},
	};
	struct reg_err e = {0};
	char cred_text[CRED_TEXT_SIZE] = "";
	json_t *body, *node = NULL;
	struct cred cr;
	int rc;

	body = api_read_body(c, f, sizeof(f) / sizeof(f[0]));
	if (!body)
		return;
	in = calloc(1, sizeof(*in));
	s = malloc(sizeof(*s));
	if (!in || !s) {
		rc = WEFT_ERR_NOMEM;
		goto out;
	}
	in->auth_key = auth_key;
	in->public_key = public_key;
	in->hostname = hostname;
	in->os = os;
	in->version = version;
	in->has_routes = has_routes;
	rc = check_input(in, &routes, &e);
	if (rc < 0)
		goto out;
	if (cred_parse(auth_key, &cr) < 0 || cr.kind != CRED_AUTH) {
		e.msg = "invalid auth key";
		rc = WEFT_ERR_AUTH;
		goto out;
	}
	/* The store serializes writers, but another process (a second
	 * replica, a CLI command) can still hold the database for a while. */
	for (int attempt = 1;; attempt++) {
		rc = register_tx(c, in, &cr, s, &node, cred_text, &created, &e);
		if (rc != WEFT_ERR_BUSY || attempt == BUSY_RETRIES)
			break;
		usleep(BUSY_SLEEP_US * attempt);
	}
	if (rc < 0)
		goto out;
	metrics_inc(api_metrics(c->api), METRICS_REGISTRATIONS);
	http_resp_json(c->resp, created ? 201 : 200,
		       json_pack("{s:o, s:s}", "node", node, "credential",
				 cred_text));
	node = NULL;
out:
	if (rc == WEFT_ERR_AUTH || rc == WEFT_ERR_EXPIRED) {
		metrics_inc(api_metrics(c->api), METRICS_AUTH_FAILURES);
		http_resp_error(c->resp, 401,
				rc == WEFT_ERR_EXPIRED ? "expired"
						       : "unauthenticated",
				e.msg, "auth_key");
	} else if (rc < 0) {
		api_fail(c, rc, e.msg, e.field);
	}
	memset(cred_text, 0, sizeof(cred_text));
	json_decref(node);
	free(routes.items);
	free(in);
	free(s);
	json_decref(body);
}

const struct api_route api_register_routes[] = {
	{"POST", "/api/v1/register", API_AUTH_NONE, h_register},
	{0},
};
