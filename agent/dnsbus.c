/* `--dns resolved`: see dnsbus.h. */
#include "agent/dnsbus.h"

#include "agent/state.h"
#include "shared/err.h"
#include "shared/log.h"
#include "shared/loop.h"
#include "shared/rand.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <systemd/sd-bus.h>

#define RESOLVE1 "org.freedesktop.resolve1"
#define RESOLVE1_PATH "/org/freedesktop/resolve1"
#define RESOLVE1_MANAGER "org.freedesktop.resolve1.Manager"
#define OWNER_MATCH                                                        \
	"type='signal',sender='org.freedesktop.DBus',"                     \
	"path='/org/freedesktop/DBus',interface='org.freedesktop.DBus',"   \
	"member='NameOwnerChanged',arg0='" RESOLVE1 "'"

struct dnsbus {
	struct loop *loop;
	sd_bus *bus;
	sd_bus_slot *match;
	struct loop_io *io;
	struct loop_timer *again;  /* re-apply after resolved (re)started,
				    * and again after a back-off while
				    * that fails */
	struct state_backoff backoff;
	int ifindex;
	struct dnsplan plan;
	bool have_plan;
	bool applied;              /* the required calls succeeded */
	unsigned long long calls_failed, reapplied;
	char last_error[256];
};

bool dnsbus_resolved_running(void)
{
	sd_bus_error err = SD_BUS_ERROR_NULL;
	sd_bus_message *m = NULL, *reply = NULL;
	sd_bus *bus = NULL;
	int has = 0;

	if (sd_bus_open_system(&bus) < 0)
		return false;
	if (sd_bus_message_new_method_call(bus, &m, "org.freedesktop.DBus",
					   "/org/freedesktop/DBus",
					   "org.freedesktop.DBus",
					   "NameHasOwner") >= 0 &&
	    sd_bus_message_append(m, "s", RESOLVE1) >= 0 &&
	    sd_bus_call(bus, m, DNSBUS_TIMEOUT_US, &err, &reply) >= 0 &&
	    sd_bus_message_read(reply, "b", &has) < 0)
		has = 0;
	sd_bus_error_free(&err);
	sd_bus_message_unref(reply);
	sd_bus_message_unref(m);
	sd_bus_flush_close_unref(bus);
	return has != 0;
}

/* Runs what sd-bus has queued (signals read during a call included). */
static void drain(struct dnsbus *b)
{
	int rc;

	while ((rc = sd_bus_process(b->bus, NULL)) > 0)
		;
	if (rc < 0 && b->io) {
		log_warn_err(rc, "dns_bus_lost", "note=\"resolved's settings "
			     "are no longer watched\"");
		loop_io_close(b->io, false);
		b->io = NULL;
	}
}

static void on_bus(struct loop_io *io, int fd, uint32_t ev, void *ctx)
{
	(void)io;
	(void)fd;
	(void)ev;
	drain(ctx);
}

static int on_owner(sd_bus_message *m, void *ctx, sd_bus_error *e)
{
	struct dnsbus *b = ctx;
	const char *name, *old, *new;

	(void)e;
	if (sd_bus_message_read(m, "sss", &name, &old, &new) < 0 ||
	    strcmp(name, RESOLVE1) != 0)
		return 0;
	if (!*new) {
		log_info("dns_resolved_gone", NULL);
		b->applied = false;
	} else if (b->have_plan) {
		/* Not from inside sd-bus's dispatch: the calls go out on the
		 * next iteration. */
		loop_timer_start(b->again, 0);
	}
	return 0;
}

static void on_again(struct loop_timer *t, void *ctx)
{
	struct dnsbus *b = ctx;
	uint64_t rnd = 0;
	int64_t ms;

	(void)t;
	if (dnsbus_apply(b, &b->plan) == 0) {
		b->reapplied++;
		state_backoff_reset(&b->backoff);
		log_info("dns_resolved_reapplied", "ifindex=%d", b->ifindex);
		return;
	}
	rand_u64(&rnd);
	ms = state_backoff_next(&b->backoff, rnd);
	log_warn("dns_resolved_retry", "ifindex=%d retry_ms=%lld", b->ifindex,
		 (long long)ms);
	loop_timer_start(b->again, ms * 1000);
}

int dnsbus_new(struct loop *loop, int ifindex, struct dnsbus **out)
{
	struct dnsbus *b = calloc(1, sizeof(*b));
	int rc;

	if (!b)
		return WEFT_ERR_NOMEM;
	b->loop = loop;
	b->ifindex = ifindex;
	state_backoff_init(&b->backoff, 1000, 60000);
	rc = sd_bus_open_system(&b->bus);
	if (rc >= 0)
		rc = sd_bus_add_match(b->bus, &b->match, OWNER_MATCH, on_owner,
				      b);
	if (rc >= 0)
		rc = loop_timer_new(loop, on_again, b, &b->again);
	if (rc >= 0)
		rc = loop_io_add(loop, sd_bus_get_fd(b->bus), LOOP_READ,
				 on_bus, b, &b->io);
	if (rc < 0) {
		loop_timer_del(b->again);
		sd_bus_slot_unref(b->match);
		sd_bus_flush_close_unref(b->bus);
		free(b);
		return rc;
	}
	*out = b;
	return 0;
}

/* One Manager call on our link, args appended by add (may be NULL). */
static int call(struct dnsbus *b, const char *method, bool optional,
		int (*add)(sd_bus_message *m, const struct dnsplan *p),
		const struct dnsplan *p)
{
	sd_bus_error err = SD_BUS_ERROR_NULL;
	sd_bus_message *m = NULL;
	int rc;

	rc = sd_bus_message_new_method_call(b->bus, &m, RESOLVE1,
					     RESOLVE1_PATH, RESOLVE1_MANAGER,
					     method);
	if (rc >= 0)
		rc = sd_bus_message_append(m, "i", (int32_t)b->ifindex);
	if (rc >= 0 && add)
		rc = add(m, p);
	if (rc >= 0)
		rc = sd_bus_call(b->bus, m, DNSBUS_TIMEOUT_US, &err, NULL);
	if (rc < 0) {
		b->calls_failed++;
		snprintf(b->last_error, sizeof(b->last_error), "%s: %s",
			 method, err.message ? err.message : strerror(-rc));
		log_warn("dns_resolved_call_failed", "method=%s optional=%s "
			 "error=%s message=\"%.160s\"", method,
			 optional ? "true" : "false",
			 err.name ? err.name : "-",
			 err.message ? err.message : strerror(-rc));
	}
	sd_bus_error_free(&err);
	sd_bus_message_unref(m);
	return rc < 0 ? rc : 0;
}

static int add_dns(sd_bus_message *m, const struct dnsplan *p)
{
	size_t i;
	int rc = sd_bus_message_open_container(m, 'a', "(iay)");

	for (i = 0; rc >= 0 && i < p->nns; i++) {
		bool v4 = p->ns[i].family == 4;

		rc = sd_bus_message_open_container(m, 'r', "iay");
		if (rc >= 0)
			rc = sd_bus_message_append(m, "i", v4 ? AF_INET
							      : AF_INET6);
		if (rc >= 0)
			rc = sd_bus_message_append_array(
				m, 'y', p->ns[i].b,
				v4 ? 4 : 16);
		if (rc >= 0)
			rc = sd_bus_message_close_container(m);
	}
	return rc < 0 ? rc : sd_bus_message_close_container(m);
}

/* The suffix is a search domain (routing too) when search is on; every
 * other domain routing-only. */
static int add_domains(sd_bus_message *m, const struct dnsplan *p)
{
	size_t i;
	int rc = sd_bus_message_open_container(m, 'a', "(sb)");

	for (i = 0; rc >= 0 && i < p->ndomains; i++)
		rc = sd_bus_message_append(
			m, "(sb)", p->domains[i],
			!(i == 0 && strcmp(p->search, p->domains[0]) == 0));
	return rc < 0 ? rc : sd_bus_message_close_container(m);
}

static int add_default_route(sd_bus_message *m, const struct dnsplan *p)
{
	return sd_bus_message_append(m, "b", (int)p->default_route);
}

static int add_no(sd_bus_message *m, const struct dnsplan *p)
{
	(void)p;
	return sd_bus_message_append(m, "s", "no");
}

int dnsbus_apply(struct dnsbus *b, const struct dnsplan *p)
{
	static const char *const optional[] = {"SetLinkDNSOverTLS",
					       "SetLinkLLMNR",
					       "SetLinkMulticastDNS"};
	size_t i;
	int rc;

	if (p != &b->plan)
		b->plan = *p;
	b->have_plan = true;
	rc = call(b, "SetLinkDNS", false, add_dns, p);
	if (rc == 0)
		rc = call(b, "SetLinkDomains", false, add_domains, p);
	if (rc == 0)
		rc = call(b, "SetLinkDefaultRoute", false, add_default_route,
			  p);
	for (i = 0; rc == 0 && i < sizeof(optional) / sizeof(optional[0]);
	     i++)
		call(b, optional[i], true, add_no, p);
	b->applied = rc == 0;
	if (rc == 0) {
		b->last_error[0] = '\0';
		log_info("dns_resolved_applied", "ifindex=%d domains=%zu "
			 "default_route=%s", b->ifindex, p->ndomains,
			 p->default_route ? "true" : "false");
	}
	drain(b);
	return rc;
}

void dnsbus_del(struct dnsbus *b)
{
	if (!b)
		return;
	if (b->have_plan && call(b, "RevertLink", false, NULL, NULL) == 0)
		log_info("dns_resolved_reverted", "ifindex=%d", b->ifindex);
	loop_io_close(b->io, false);
	loop_timer_del(b->again);
	sd_bus_slot_unref(b->match);
	sd_bus_flush_close_unref(b->bus);
	free(b);
}

json_t *dnsbus_json(const struct dnsbus *b)
{
	return json_pack("{s:i, s:b, s:I, s:s, s:I}", "ifindex", b->ifindex,
			 "applied", b->applied, "calls_failed",
			 (json_int_t)b->calls_failed, "last_error",
			 b->last_error, "reapplied", (json_int_t)b->reapplied);
}
