/* weft-agent's own HTTP client (agent/httpc.c) against a real controller
 * serving HTTPS with a certificate from a test CA made here with certtool:
 * registration, the held map poll and gzip-coded maps over TLS, and the
 * refusal of a certificate for another name or from an issuer the agent
 * does not trust. Agents run with --no-tun (no root). */
#include "ag.h"
#include "check.h"
#include "fx.h"
#include "ih.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define K (h->bootstrap_key)
#define EXTRA_NODES 6

static const char allow_policy[] =
	"{\"tagOwners\":{\"tag:test\":[]},"
	"\"acls\":[{\"action\":\"accept\",\"src\":[\"tag:test\"],"
	"\"dst\":[\"tag:test:*\"]}]}";

struct pki {
	char ca[400];   /* the CA certificate the agent trusts */
	char cert[400]; /* the controller's certificate, signed by the CA */
	char key[400];
};

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int sh(const char *cmd)
{
	int st = system(cmd);

	if (st != 0)
		fprintf(stderr, "failed (%d): %s\n", st, cmd);
	return st;
}

/* A CA and a controller certificate for IP 127.0.0.1 only (no DNS name:
 * https://localhost must then fail the name check), made with certtool
 * (gnutls-bin, installed by scripts/deps.sh test). */
static int make_pki(struct pki *p)
{
	const char *d = check_tmpdir();
	char cmd[4096];

	snprintf(p->ca, sizeof(p->ca), "%s/ca.pem", d);
	snprintf(p->cert, sizeof(p->cert), "%s/controller.pem", d);
	snprintf(p->key, sizeof(p->key), "%s/controller.key", d);
	snprintf(cmd, sizeof(cmd),
		 "set -e; cd '%s'; exec >certtool.log 2>&1; "
		 "printf 'cn = \"weft test CA\"\\nca\\ncert_signing_key\\n"
		 "expiration_days = 1\\n' >ca.tmpl; "
		 "printf 'cn = \"weft test controller\"\\n"
		 "ip_address = \"127.0.0.1\"\\ntls_www_server\\nsigning_key"
		 "\\nexpiration_days = 1\\n' >controller.tmpl; "
		 "certtool --generate-privkey --key-type=ecdsa --outfile ca.key; "
		 "certtool --generate-self-signed --load-privkey ca.key "
		 "--template ca.tmpl --outfile ca.pem; "
		 "certtool --generate-privkey --key-type=ecdsa "
		 "--outfile controller.key; "
		 "certtool --generate-certificate --load-privkey controller.key "
		 "--load-ca-certificate ca.pem --load-ca-privkey ca.key "
		 "--template controller.tmpl --outfile controller.pem; "
		 "chmod 600 controller.key",
		 d);
	return sh(cmd);
}

/* A controller serving HTTPS with p's certificate, an allow-all policy
 * and a reusable tag:test auth key. Its API calls (and the agents) trust
 * the CA only, not the certificate itself. */
static struct ih *start(const struct pki *p, char key[FX_KEY_SIZE])
{
	struct ih *h = NULL;

	if (!CHECK(ih_new(&(struct ih_opts){.tls_cert = p->cert,
					    .tls_key = p->key}, &h) == 0))
		return NULL;
	snprintf(h->cainfo, sizeof(h->cainfo), "%s", p->ca);
	if (!CHECK(strncmp(h->url, "https://127.0.0.1:", 18) == 0) ||
	    !CHECK(fx_policy(h, K, allow_policy, NULL) == 200) ||
	    !CHECK(fx_authkey(h, K, "{\"reusable\":true,"
				    "\"tags\":[\"tag:test\"]}", key) > 0)) {
		ih_del(h);
		return NULL;
	}
	return h;
}

static size_t peer_count(struct ag *a)
{
	json_t *j = NULL;
	size_t n;

	if (ag_cli(a, "peers", &j) != 0) {
		json_decref(j);
		return 0;
	}
	n = json_array_size(json_object_get(j, "peers"));
	json_decref(j);
	return n;
}

static bool wait_peer_count(struct ag *a, size_t want, int64_t timeout_ms)
{
	int64_t t0 = now_ms();
	size_t n = 0;

	do {
		n = peer_count(a);
		if (n == want)
			return true;
		usleep(50000);
	} while (now_ms() - t0 < timeout_ms);
	fprintf(stderr, "%s has %zu peers, want %zu\n", a->name, n, want);
	return false;
}

static bool log_has(const struct ag *a, const char *s)
{
	char *log = ag_log(a);
	bool yes = log && strstr(log, s);

	free(log);
	return yes;
}

static bool wait_log(const struct ag *a, const char *s, int64_t timeout_ms)
{
	int64_t t0 = now_ms();

	do {
		if (log_has(a, s))
			return true;
		usleep(100000);
	} while (now_ms() - t0 < timeout_ms);
	return false;
}

static void agent_registers_and_long_polls_over_https_with_gzip_maps(void)
{
	char key[FX_KEY_SIZE], name[32];
	struct pki p;
	struct ih *h;
	struct ag *a = NULL, *b = NULL;
	json_t *st = NULL;

	REQUIRE_INT(make_pki(&p), 0);
	h = start(&p, key);
	REQUIRE(h);
	/* Peers enough that the map is over the controller's gzip threshold
	 * (1 KB): the agent asks for gzip and must decode it. */
	for (int i = 0; i < EXTRA_NODES; i++) {
		snprintf(name, sizeof(name), "extra%d", i);
		CHECK_INT(fx_register(h, key, name, NULL, NULL), 201);
	}
	REQUIRE_INT(ag_start(h, "alpha", key, NULL, &a), 0);
	REQUIRE_INT(ag_start(h, "beta", key, NULL, &b), 0);
	CHECK(ag_wait_state(a, "running", 15000));
	CHECK(ag_wait_state(b, "running", 15000));
	CHECK(wait_peer_count(a, EXTRA_NODES + 1, 15000));
	REQUIRE_INT(ag_cli(a, "status", &st), 0);
	CHECK(fx_is_true(st, "controller.reachable"));
	CHECK(fx_int(st, "node.id") > 0);
	json_decref(st);
	CHECK(log_has(a, "event=map_applied"));
	CHECK(log_has(a, "gzip=true"));

	/* A node that joins now reaches alpha through its held poll. */
	CHECK_INT(fx_register(h, key, "late", NULL, NULL), 201);
	CHECK(wait_peer_count(a, EXTRA_NODES + 2, 15000));
	CHECK(wait_peer_count(b, EXTRA_NODES + 2, 15000));
	CHECK(!log_has(a, "controller_unreachable"));
	if (!CHECK(!log_has(b, "controller_unreachable")))
		ag_dump_log(b);

	CHECK_INT(ag_del(a), 0);
	CHECK_INT(ag_del(b), 0);
	CHECK_INT(ih_del(h), 0);
}

static void agent_refuses_a_certificate_for_another_name_or_issuer(void)
{
	char key[FX_KEY_SIZE];
	struct pki p;
	struct ih *h, other;
	struct ag *a = NULL, *b = NULL;
	json_t *st = NULL;

	REQUIRE_INT(make_pki(&p), 0);
	h = start(&p, key);
	REQUIRE(h);
	/* The same controller as https://localhost: the certificate names
	 * 127.0.0.1 only. */
	other = *h;
	snprintf(other.url, sizeof(other.url), "https://localhost:%d",
		 h->port);
	REQUIRE_INT(ag_start(&other, "wrongname", key, NULL, &a), 0);
	/* No --controller-ca: the system trust store, which does not have
	 * the test CA. */
	other = *h;
	other.cainfo[0] = '\0';
	REQUIRE_INT(ag_start(&other, "noca", key, NULL, &b), 0);

	CHECK(wait_log(a, "certificate verify failed for localhost", 15000));
	CHECK(wait_log(b, "certificate verify failed for 127.0.0.1", 15000));
	if (!CHECK(log_has(b, "issuer")))
		ag_dump_log(b);
	REQUIRE_INT(ag_cli(a, "status", &st), 0);
	CHECK(!fx_is_true(st, "controller.reachable"));
	CHECK(strcmp(fx_str(st, "state"), "running") != 0);
	json_decref(st);
	/* Neither got as far as registering. */
	st = NULL;
	CHECK_INT(fx_req(h, "GET", "/api/v1/nodes", K, NULL, &st), 200);
	CHECK_INT(json_array_size(json_object_get(st, "items")), 0);
	json_decref(st);

	CHECK_INT(ag_del(a), 0);
	CHECK_INT(ag_del(b), 0);
	CHECK_INT(ih_del(h), 0);
}

static const struct check_case cases[] = {
	CHECK_CASE(agent_registers_and_long_polls_over_https_with_gzip_maps),
	CHECK_CASE(agent_refuses_a_certificate_for_another_name_or_issuer),
	{0},
};

int main(int argc, char **argv) { return check_main(argc, argv, cases); }
