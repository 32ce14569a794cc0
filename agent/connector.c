/* Connector forwarding on the host: see connector.h.
 *
 * libnftables rather than running nft(8): no fork/exec from a process
 * with no_new_privs and a single capability, and the echo of a
 * transaction tells the new table's handle, which the stop needs to
 * delete exactly the table this agent made. */
#include "agent/connector.h"

#include "agent/connector_rules.h"
#include "agent/dataplane.h"
#include "agent/dnat.h"
#include "agent/map.h"
#include "agent/wildcard.h"
#include "agent/sysctl.h"
#include "shared/err.h"
#include "shared/log.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* libnftables.h defines _GNU_SOURCE (empty) itself; the build defines it
 * as 1, and two different definitions are an error with -Werror. Every
 * system header is included above, so dropping ours here changes
 * nothing. */
#undef _GNU_SOURCE
#include <nftables/libnftables.h>

#define IPV4_FORWARD "/proc/sys/net/ipv4/ip_forward"
#define IPV6_FORWARD "/proc/sys/net/ipv6/conf/all/forwarding"
#define SCRIPT_MAX 8192

struct fwd_setting {
	const char *key;  /* the sysctl's name, for the log */
	char path[256];
	char value[SYSCTL_VALUE_MAX + 1]; /* after start; "" = none */
};

struct connector {
	char tun[16];
	char table[CONNECTOR_TABLE_MAX];
	struct fwd_setting fwd[2];
	struct nft_ctx *nft;
	struct loop *loop;
	struct dnat *dnat;        /* while running, after the first map */
	const struct map *map;    /* the daemon's, for the messages */
	bool running;
	bool replaced_stale;
	uint64_t handle;
};

int connector_new(const struct connector_cfg *cfg, struct connector **out)
{
	struct connector *c;

	if (!cfg || !connector_rules_name_ok(cfg->tun))
		return WEFT_ERR_INVAL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return WEFT_ERR_NOMEM;
	snprintf(c->tun, sizeof(c->tun), "%s", cfg->tun);
	c->loop = cfg->loop;
	connector_rules_table(c->tun, c->table, sizeof(c->table));
	c->fwd[0].key = "net.ipv4.ip_forward";
	snprintf(c->fwd[0].path, sizeof(c->fwd[0].path), "%s",
		 cfg->ipv4_forward ? cfg->ipv4_forward : IPV4_FORWARD);
	c->fwd[1].key = "net.ipv6.conf.all.forwarding";
	snprintf(c->fwd[1].path, sizeof(c->fwd[1].path), "%s",
		 cfg->ipv6_forward ? cfg->ipv6_forward : IPV6_FORWARD);
	*out = c;
	return 0;
}

/* Runs one nft script (one transaction). Returns 0 with *outp (nft's
 * JSON output, valid until the next run) or WEFT_ERR_UNSUPPORTED with
 * the first line of nft's error in err. */
static int nft_run(struct connector *c, const char *script,
		   const char **outp, char *err, size_t errlen)
{
	const char *e;
	size_t n;

	if (nft_run_cmd_from_buffer(c->nft, script) != 0) {
		e = nft_ctx_get_error_buffer(c->nft);
		e = e ? e : "";
		if (strncmp(e, "Error: ", 7) == 0)
			e += 7;
		n = strcspn(e, "\n");
		snprintf(err, errlen, "%.*s", (int)(n > 200 ? 200 : n), e);
		nft_ctx_get_output_buffer(c->nft); /* discard */
		return WEFT_ERR_UNSUPPORTED;
	}
	e = nft_ctx_get_output_buffer(c->nft);
	*outp = e ? e : "";
	nft_ctx_get_error_buffer(c->nft);
	return 0;
}

static int nft_open(struct connector *c)
{
	if (c->nft)
		return 0;
	c->nft = nft_ctx_new(NFT_CTX_DEFAULT);
	if (!c->nft)
		return WEFT_ERR_NOMEM;
	if (nft_ctx_buffer_output(c->nft) != 0 ||
	    nft_ctx_buffer_error(c->nft) != 0) {
		nft_ctx_free(c->nft);
		c->nft = NULL;
		return WEFT_ERR_NOMEM;
	}
	nft_ctx_output_set_flags(c->nft, NFT_CTX_OUTPUT_JSON |
					 NFT_CTX_OUTPUT_HANDLE |
					 NFT_CTX_OUTPUT_ECHO);
	return 0;
}

/* Turns one forwarding setting on, logging the old and new value. A
 * setting the kernel lacks (IPv6 disabled) is logged and skipped. */
static int forwarding_on(struct fwd_setting *f, char *err, size_t errlen)
{
	char old[SYSCTL_VALUE_MAX + 1], q[300];
	int rc = sysctl_read(f->path, old, sizeof(old));

	f->value[0] = '\0';
	if (rc == -ENOENT) {
		log_warn("connector_setup", "what=sysctl key=%s changed=false "
			 "note=\"not in this kernel (no IPv6?): skipped\"",
			 f->key);
		return 0;
	}
	if (rc == 0 && strcmp(old, "1") != 0)
		rc = sysctl_write(f->path, "1");
	if (rc < 0) {
		snprintf(err, errlen, "cannot turn on %s (%s): %s", f->key,
			 f->path, weft_strerror(rc));
		return rc;
	}
	log_info("connector_setup", "what=sysctl key=%s old=%s new=1 "
		 "changed=%s", f->key, log_q(q, sizeof(q), old),
		 strcmp(old, "1") != 0 ? "true" : "false");
	snprintf(f->value, sizeof(f->value), "1");
	return 0;
}

/* Logs other tables' forward chains that drop by default: our accepts
 * cannot overrule them, so forwarding depends on the host's firewall. */
static void warn_forward_drops(struct connector *c)
{
	char list[400], err[256], q[450];
	const char *out;
	size_t n = 0;

	if (nft_run(c, "list chains", &out, err, sizeof(err)) < 0 ||
	    connector_rules_forward_drops(out, c->table, list, sizeof(list),
					  &n) < 0 || n == 0)
		return;
	log_warn("connector_forward_blocked", "chains=%s note=\"base chains "
		 "on the forward hook with policy drop: an accept in our table "
		 "does not overrule them, allow forwarding from %s there "
		 "(docs/connectors.md)\"", log_q(q, sizeof(q), list), c->tun);
}

/* Finds a table of our name (a crashed agent's) and builds the script
 * that replaces it, or creates ours. */
static int install_table(struct connector *c, char *err, size_t errlen)
{
	char script[SCRIPT_MAX], cmd[64], q[64];
	uint64_t stale = 0;
	size_t stale_rules = 0, nrules = 0;
	const char *out;
	int rc;

	snprintf(cmd, sizeof(cmd), "list table inet %s", c->table);
	/* An error here is "no such table" (or no nftables at all, which
	 * the transaction below reports). */
	if (nft_run(c, cmd, &out, err, errlen) == 0 &&
	    connector_rules_find_table(out, c->table, &stale,
				       &stale_rules) < 0)
		stale = 0;
	rc = connector_rules_script(c->tun, stale, script, sizeof(script));
	if (rc < 0) {
		snprintf(err, errlen, "cannot build the nftables script");
		return rc;
	}
	rc = nft_run(c, script, &out, err, errlen);
	if (rc < 0)
		return rc;
	rc = connector_rules_find_table(out, c->table, &c->handle, &nrules);
	if (rc < 0) {
		/* Created, but the echo did not say so: find it by name. */
		if (nft_run(c, cmd, &out, err, errlen) < 0 ||
		    connector_rules_find_table(out, c->table, &c->handle,
					       &nrules) < 0) {
			snprintf(err, errlen, "table inet %s was not found "
				 "after creating it", c->table);
			return WEFT_ERR_INTERNAL;
		}
	}
	c->replaced_stale = stale != 0;
	if (stale)
		log_warn("connector_stale_removed", "family=inet table=%s "
			 "handle=%llu rules=%zu note=\"left by an agent that "
			 "did not stop cleanly; replaced\"",
			 log_q(q, sizeof(q), c->table),
			 (unsigned long long)stale, stale_rules);
	log_info("connector_setup", "what=nft_table family=inet table=%s "
		 "handle=%llu tun=%s rules=%zu does=\"masquerade from %s, MSS "
		 "clamp, forward accepts\"", log_q(q, sizeof(q), c->table),
		 (unsigned long long)c->handle, c->tun, nrules, c->tun);
	return 0;
}

int connector_start(struct connector *c, char *err, size_t errlen)
{
	size_t i;
	int rc;

	if (c->running)
		return 0;
	err[0] = '\0';
	for (i = 0; i < 2; i++) {
		rc = forwarding_on(&c->fwd[i], err, errlen);
		if (rc < 0)
			return rc;
	}
	rc = nft_open(c);
	if (rc < 0) {
		snprintf(err, errlen, "cannot create an nftables context");
		return rc;
	}
	rc = install_table(c, err, errlen);
	if (rc < 0)
		return rc;
	c->running = true;
	warn_forward_drops(c);
	return 0;
}

void connector_stop(struct connector *c)
{
	char cmd[64], err[256], q[64], q2[300];
	const char *out;
	size_t i;

	if (!c || !c->running)
		return;
	c->running = false;
	dnat_del(c->dnat);
	c->dnat = NULL;
	snprintf(cmd, sizeof(cmd), "delete table inet handle %llu",
		 (unsigned long long)c->handle);
	if (nft_run(c, cmd, &out, err, sizeof(err)) < 0)
		log_warn("connector_teardown_failed", "what=nft_table "
			 "family=inet table=%s handle=%llu error=%s "
			 "note=\"gone already, or no CAP_NET_ADMIN; the next "
			 "start replaces it\"",
			 log_q(q, sizeof(q), c->table),
			 (unsigned long long)c->handle,
			 log_q(q2, sizeof(q2), err));
	else
		log_info("connector_teardown", "what=nft_table family=inet "
			 "table=%s handle=%llu", log_q(q, sizeof(q), c->table),
			 (unsigned long long)c->handle);
	for (i = 0; i < 2; i++)
		if (c->fwd[i].value[0])
			log_info("connector_teardown", "what=sysctl key=%s "
				 "changed=false note=\"forwarding stays on "
				 "(docs/connectors.md)\"", c->fwd[i].key);
}

int connector_apply(struct connector *c, bool want, char *err,
		    size_t errlen)
{
	if (want)
		return connector_start(c, err, errlen);
	connector_stop(c);
	return 0;
}

bool connector_running(const struct connector *c)
{
	return c && c->running;
}

/* The translator's element updates. Without echo: nothing to read back,
 * and libnftables 1.0.6 leaks two strings per element added with echo
 * on. */
static int run_script(void *ctx, const char *script, char *err,
		      size_t errlen)
{
	struct connector *c = ctx;
	unsigned int flags = nft_ctx_output_get_flags(c->nft);
	const char *out;
	int rc;

	nft_ctx_output_set_flags(c->nft, flags & ~NFT_CTX_OUTPUT_ECHO);
	rc = nft_run(c, script, &out, err, errlen);
	nft_ctx_output_set_flags(c->nft, flags);
	return rc;
}

static void on_message(void *ctx, int64_t peer, const struct ip_addr *src,
		       const uint8_t *p, size_t len)
{
	struct connector *c = ctx;

	(void)peer;
	if (c->dnat && c->map)
		dnat_on_message(c->dnat, c->map, src, p, len);
}

void connector_map(struct connector *c, const struct map *m,
		   const struct map_diff *diff, struct dataplane *dp)
{
	const struct dnat_cfg dc = {.loop = c ? c->loop : NULL,
				    .table = c ? c->table : NULL,
				    .run = run_script, .ctx = c};
	const struct map_res *v;
	size_t n;
	int rc;

	if (!c || !c->running || !c->loop)
		return;
	c->map = m;
	if (!c->dnat) {
		rc = dnat_new(&dc, &c->dnat);
		if (rc < 0) {
			log_warn_err(rc, "dns_resource_failed",
				     "reason=translator");
			return;
		}
		dataplane_set_msg(dp, WILDCARD_PORT, on_message, c);
	} else if (!diff->serves && !diff->full) {
		return;
	}
	v = map_serves(m, &n);
	dnat_set_serves(c->dnat, v, n);
}

static json_t *value_or_null(const char *v)
{
	return v[0] ? json_string(v) : json_null();
}

json_t *connector_json(const struct connector *c)
{
	if (!connector_running(c))
		return json_null();
	return json_pack("{s:s, s:s, s:I, s:s, s:o, s:o, s:b, s:o}", "family",
			 "inet", "table", c->table,
			 "handle", (json_int_t)c->handle, "tun", c->tun,
			 "ipv4_forwarding", value_or_null(c->fwd[0].value),
			 "ipv6_forwarding", value_or_null(c->fwd[1].value),
			 "replaced_stale", c->replaced_stale, "dns",
			 c->dnat ? dnat_json(c->dnat) : json_null());
}

void connector_del(struct connector *c)
{
	if (!c)
		return;
	connector_stop(c);
	if (c->nft)
		nft_ctx_free(c->nft);
	free(c);
}
