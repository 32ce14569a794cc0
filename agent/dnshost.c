/* The host side of the agent's DNS: see dnshost.h. */
#include "agent/dnshost.h"

#include "agent/dataplane.h"
#include "agent/dnsbus.h"
#include "agent/dnsfile.h"
#include "agent/dnsstub.h"
#include "agent/filter.h"
#include "agent/map.h"
#include "agent/state.h"
#include "agent/tun.h"
#include "shared/err.h"
#include "shared/log.h"
#include "shared/loop.h"
#include "shared/rand.h"

#include <limits.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define HOST_UPSTREAMS_MAX 8
#define RETRY_MIN_MS 1000
#define RETRY_MAX_MS 60000

struct dnshost {
	struct loop *loop;
	enum dns_mode requested, mode;
	char reason[160];
	char path[PATH_MAX], backup[PATH_MAX];
	char tun[IF_NAMESIZE];
	int ifindex;
	struct dnsfile *file;
	struct dnsbus *bus;
	struct dnsplan plan;        /* the last plan built */
	bool have_plan, installed;
	char error[256];
	struct ip_addr stub[DNSPLAN_MAX_NS]; /* on the TUN */
	size_t nstub;
	struct dnsstub *stubd;      /* told whether loopback upstreams loop */
	struct loop_timer *retry;   /* a failed install, tried again */
	struct state_backoff backoff;
	unsigned long long retries;
	size_t nupstreams;          /* the map's global upstreams */
};

static void retry_install(struct loop_timer *t, void *ctx);

static void set_mode(struct dnshost *h, enum dns_mode m, const char *why)
{
	h->mode = m;
	snprintf(h->reason, sizeof(h->reason), "%s", why);
}

/* auto: resolved, else the file, else nothing. */
static void choose(struct dnshost *h)
{
	if (dnsbus_resolved_running())
		set_mode(h, DNS_MODE_RESOLVED, "org.freedesktop.resolve1 is "
			 "on the system bus");
	else if (dnsfile_usable(h->path))
		set_mode(h, DNS_MODE_FILE, "no systemd-resolved; the "
			 "resolv.conf is writable");
	else
		set_mode(h, DNS_MODE_OFF, "neither systemd-resolved nor a "
			 "writable resolv.conf");
}

/* The installer of the mode; off when it cannot start. */
static int start(struct dnshost *h)
{
	char why[160];
	int rc = 0;

	if (h->mode == DNS_MODE_RESOLVED)
		rc = dnsbus_new(h->loop, h->ifindex, &h->bus);
	else if (h->mode == DNS_MODE_FILE)
		rc = dnsfile_new(h->loop, h->path, h->backup, &h->file);
	if (rc == WEFT_ERR_NOMEM)
		return rc;
	if (rc < 0) {
		log_warn_err(rc, "dns_not_installed", "mode=%s",
			     dnsplan_mode_name(h->mode));
		snprintf(why, sizeof(why), "%s failed: %s",
			 dnsplan_mode_name(h->mode), weft_strerror(rc));
		set_mode(h, DNS_MODE_OFF, why);
	}
	return 0;
}

int dnshost_new(struct loop *loop, const struct dnshost_cfg *cfg,
		struct dnshost **out)
{
	struct dnshost *h;
	char q[PATH_MAX + 8], r[400];
	int rc;

	h = calloc(1, sizeof(*h));
	if (!h)
		return WEFT_ERR_NOMEM;
	h->loop = loop;
	h->requested = cfg->mode;
	state_backoff_init(&h->backoff, RETRY_MIN_MS, RETRY_MAX_MS);
	if ((size_t)snprintf(h->path, sizeof(h->path), "%s",
			     cfg->resolv_conf ? cfg->resolv_conf
					      : DNSHOST_RESOLV_CONF) >=
		    sizeof(h->path) ||
	    (size_t)snprintf(h->backup, sizeof(h->backup), "%s/%s",
			     cfg->state_dir, DNSHOST_BACKUP_NAME) >=
		    sizeof(h->backup)) {
		free(h);
		return WEFT_ERR_INVAL;
	}
	rc = dnsfile_recover(h->path, h->backup);
	if (rc > 0)
		log_info("dns_file_recovered", "path=%s note=\"the last run "
			 "did not stop cleanly\"", log_q(q, sizeof(q), h->path));
	else if (rc < 0)
		log_warn_err(rc, "dns_file_not_recovered", "path=%s backup=%s",
			     log_q(q, sizeof(q), h->path), h->backup);
	if (cfg->tun)
		snprintf(h->tun, sizeof(h->tun), "%s", cfg->tun);
	h->ifindex = cfg->tun ? (int)if_nametoindex(cfg->tun) : 0;
	if (!h->ifindex)
		set_mode(h, DNS_MODE_OFF, "no TUN device");
	else if (cfg->mode == DNS_MODE_AUTO)
		choose(h);
	else
		set_mode(h, cfg->mode, cfg->mode == DNS_MODE_OFF
					       ? "--dns off" : "as asked");
	rc = loop_timer_new(loop, retry_install, h, &h->retry);
	if (rc == 0)
		rc = start(h);
	if (rc < 0) {
		loop_timer_del(h->retry);
		free(h);
		return rc;
	}
	log_info("dns_mode", "requested=%s mode=%s reason=%s",
		 dnsplan_mode_name(h->requested), dnsplan_mode_name(h->mode),
		 log_q(r, sizeof(r), h->reason));
	*out = h;
	return 0;
}

/* The stub addresses on the TUN and in the receive filter. */
static void set_stub(struct dnshost *h, const struct dnsplan *p,
		     struct dataplane *dp)
{
	struct ip_prefix pr;
	char a[IP_ADDR_STRLEN];
	size_t i;
	int rc;

	if (h->nstub == p->nns &&
	    memcmp(h->stub, p->ns, p->nns * sizeof(p->ns[0])) == 0)
		return;
	filter_set_local_only(dataplane_filter(dp), p->ns, p->nns);
	for (i = 0; h->ifindex && i < h->nstub; i++) {
		pr.addr = h->stub[i];
		pr.len = h->stub[i].family == 4 ? 32 : 128;
		tun_addr_local_only(h->ifindex, &pr, false);
	}
	h->nstub = 0;
	for (i = 0; h->ifindex && i < p->nns; i++) {
		pr.addr = p->ns[i];
		pr.len = p->ns[i].family == 4 ? 32 : 128;
		ip_addr_format(&p->ns[i], a, sizeof(a));
		rc = tun_addr_local_only(h->ifindex, &pr, true);
		if (rc < 0) {
			log_warn_err(rc, "dns_stub_addr_failed", "addr=%s "
				     "tun=%s", a, h->tun);
			continue;
		}
		h->stub[h->nstub++] = p->ns[i];
		log_info("dns_stub_addr", "addr=%s tun=%s", a, h->tun);
	}
}

/* Whether the host's own resolvers (what the stub falls back to without
 * global upstreams) would send names back to the stub. */
static bool host_loops(struct dnshost *h, const struct dnsplan *p,
		       size_t nupstreams)
{
	struct ip_addr ups[HOST_UPSTREAMS_MAX];
	char *text;
	size_t n;

	if (nupstreams)
		return false;
	text = dnsfile_read(dnshost_original(h));
	n = text ? dnsplan_nameservers(text, ups, HOST_UPSTREAMS_MAX) : 0;
	free(text);
	return dnsplan_loops(p, h->mode, ups, n, h->error, sizeof(h->error));
}

bool dnshost_loopback_loops(const struct dnshost *h)
{
	return h->installed &&
	       (h->mode == DNS_MODE_FILE ||
		(h->mode == DNS_MODE_RESOLVED && h->plan.default_route));
}

/* Applies h->plan in the mode in effect. A failure is tried again after
 * a back-off (1 s doubling to 60 s, jittered) until it works or the plan
 * changes; a plan that would loop is not. */
static void install(struct dnshost *h)
{
	char text[DNSPLAN_RESOLV_MAX], q[400];
	uint64_t rnd = 0;
	int64_t ms;
	int rc;

	h->installed = false;
	if (host_loops(h, &h->plan, h->nupstreams)) {
		log_warn("dns_loop_refused", "reason=%s",
			 log_q(q, sizeof(q), h->error));
		dnsstub_set_loopback_loops(h->stubd, false);
		return;
	}
	h->error[0] = '\0';
	if (h->mode == DNS_MODE_RESOLVED) {
		rc = dnsbus_apply(h->bus, &h->plan);
	} else {
		rc = dnsplan_resolv_conf(&h->plan, h->backup, text,
					 sizeof(text));
		if (rc >= 0)
			rc = dnsfile_apply(h->file, text);
	}
	h->installed = rc == 0;
	dnsstub_set_loopback_loops(h->stubd, dnshost_loopback_loops(h));
	if (rc == 0) {
		if (h->retries)
			log_info("dns_installed", "mode=%s retries=%llu",
				 dnsplan_mode_name(h->mode), h->retries);
		state_backoff_reset(&h->backoff);
		return;
	}
	snprintf(h->error, sizeof(h->error), "%s", weft_strerror(rc));
	rand_u64(&rnd);
	ms = state_backoff_next(&h->backoff, rnd);
	log_warn_err(rc, "dns_install_failed", "mode=%s retry_ms=%lld",
		     dnsplan_mode_name(h->mode), (long long)ms);
	loop_timer_start(h->retry, ms * 1000);
}

static void retry_install(struct loop_timer *t, void *ctx)
{
	struct dnshost *h = ctx;

	(void)t;
	h->retries++;
	install(h);
}

void dnshost_update(struct dnshost *h, const struct map *m,
		    struct dataplane *dp, struct dnsstub *stub, bool exit_on)
{
	const struct map_dns *dns = map_dns(m);
	char q[400];
	struct dnsplan p;

	h->stubd = stub;
	if (!dns)
		return;
	if (dnsplan_build(dns, exit_on, &p, h->error, sizeof(h->error)) < 0) {
		log_warn("dns_plan_refused", "reason=%s",
			 log_q(q, sizeof(q), h->error));
		/* Nothing goes to the host, but the stub keeps its addresses
		 * and answers: it leaves a looping upstream out itself. */
		if (p.nns)
			set_stub(h, &p, dp);
		return;
	}
	set_stub(h, &p, dp);
	if (h->have_plan && dnsplan_eq(&p, &h->plan) &&
	    h->nupstreams == dns->nupstreams)
		return;
	h->plan = p;
	h->have_plan = true;
	h->nupstreams = dns->nupstreams;
	if (h->mode == DNS_MODE_OFF)
		return;
	loop_timer_stop(h->retry);
	state_backoff_reset(&h->backoff);
	install(h);
}

const char *dnshost_original(const struct dnshost *h)
{
	return h->mode == DNS_MODE_FILE && access(h->backup, F_OK) == 0
		       ? h->backup : h->path;
}

void dnshost_del(struct dnshost *h)
{
	if (!h)
		return;
	loop_timer_del(h->retry);
	dnsbus_del(h->bus);
	dnsfile_del(h->file);
	free(h);
}

json_t *dnshost_json(const struct dnshost *h)
{
	json_t *j = json_pack("{s:s, s:s, s:s, s:b, s:[], s:[], s:s, s:b, "
			      "s:s, s:I, s:b}", "mode",
			      dnsplan_mode_name(h->mode), "requested",
			      dnsplan_mode_name(h->requested), "reason",
			      h->reason, "installed", h->installed,
			      "nameservers", "domains", "search",
			      h->plan.search, "default_route",
			      h->plan.default_route, "error", h->error,
			      "install_retries", (json_int_t)h->retries,
			      "loopback_loops", dnshost_loopback_loops(h));
	char a[IP_ADDR_STRLEN];
	size_t i;

	if (!j)
		return NULL;
	for (i = 0; i < h->nstub; i++) {
		ip_addr_format(&h->stub[i], a, sizeof(a));
		json_array_append_new(json_object_get(j, "nameservers"),
				      json_string(a));
	}
	for (i = 0; h->have_plan && i < h->plan.ndomains; i++)
		json_array_append_new(json_object_get(j, "domains"),
				      json_string(h->plan.domains[i]));
	if (h->file)
		json_object_set_new(j, "resolv_conf", dnsfile_json(h->file));
	if (h->bus)
		json_object_set_new(j, "resolved", dnsbus_json(h->bus));
	return j;
}
