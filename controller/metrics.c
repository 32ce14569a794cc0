#include "controller/metrics.h"

#include "controller/store.h"
#include "shared/err.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* Route patterns are static strings from the route tables, so a series is
 * keyed by pointer identity plus method and status. The number of series is
 * bounded by routes × methods × statuses actually seen; MAX_SERIES caps it
 * anyway so that a flood of odd requests cannot grow memory. */
#define MAX_SERIES 512
#define MAX_ROUTES 128

static const double buckets[] = {0.001, 0.005, 0.01, 0.025, 0.05, 0.1,
				 0.25,  0.5,   1,    2.5,   5,    10};
#define NBUCKETS (sizeof(buckets) / sizeof(buckets[0]))

struct series {
	const char *route;
	const char *method;
	int status;
	uint64_t count;
};

struct hist {
	const char *route;
	uint64_t counts[NBUCKETS]; /* cumulative at render time */
	uint64_t total;
	double sum;
};

struct metrics {
	pthread_mutex_t lock;
	struct series series[MAX_SERIES];
	size_t nseries;
	uint64_t dropped_series;
	struct hist hists[MAX_ROUTES];
	size_t nhists;
	uint64_t counters[METRICS_COUNTER_END];
};

int metrics_new(struct metrics **out)
{
	struct metrics *m = calloc(1, sizeof(*m));

	if (!m)
		return WEFT_ERR_NOMEM;
	pthread_mutex_init(&m->lock, NULL);
	*out = m;
	return 0;
}

void metrics_del(struct metrics *m)
{
	if (!m)
		return;
	pthread_mutex_destroy(&m->lock);
	free(m);
}

static const char *known_method(const char *method)
{
	static const char *const methods[] = {"GET",    "POST",   "PUT",
					      "PATCH",  "DELETE", "HEAD",
					      "OPTIONS"};

	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
		if (strcmp(method, methods[i]) == 0)
			return methods[i];
	return "other";
}

void metrics_request(struct metrics *m, const char *route, const char *method,
		     int status, double seconds)
{
	struct series *s = NULL;
	struct hist *h = NULL;

	if (!m)
		return;
	method = known_method(method ? method : "");
	if (!route)
		route = "other";
	pthread_mutex_lock(&m->lock);
	for (size_t i = 0; i < m->nseries; i++) {
		struct series *c = &m->series[i];

		if (c->route == route && c->method == method &&
		    c->status == status) {
			s = c;
			break;
		}
	}
	if (!s && m->nseries < MAX_SERIES) {
		s = &m->series[m->nseries++];
		*s = (struct series){route, method, status, 0};
	}
	if (s)
		s->count++;
	else
		m->dropped_series++;
	for (size_t i = 0; i < m->nhists; i++) {
		if (m->hists[i].route == route) {
			h = &m->hists[i];
			break;
		}
	}
	if (!h && m->nhists < MAX_ROUTES) {
		h = &m->hists[m->nhists++];
		memset(h, 0, sizeof(*h));
		h->route = route;
	}
	if (h) {
		for (size_t b = 0; b < NBUCKETS; b++) {
			if (seconds <= buckets[b]) {
				h->counts[b]++;
				break;
			}
		}
		h->total++;
		h->sum += seconds;
	}
	pthread_mutex_unlock(&m->lock);
}

void metrics_inc(struct metrics *m, enum metrics_counter which)
{
	if (!m || which >= METRICS_COUNTER_END)
		return;
	pthread_mutex_lock(&m->lock);
	m->counters[which]++;
	pthread_mutex_unlock(&m->lock);
}

static int node_counts(struct store *st, int64_t *total, int64_t *online)
{
	struct store_tx *tx;
	int rc;

	rc = store_begin(st, STORE_READ, &tx);
	if (rc < 0)
		return rc;
	rc = store_node_count(tx, -1, total);
	if (rc == 0)
		rc = store_node_count(tx, 1, online);
	store_rollback(tx);
	return rc;
}

int metrics_render(struct metrics *m, struct store *st, struct buf *out)
{
	int64_t total = 0, online = 0;
	int rc = 0, db_ok = 1;

	if (st && node_counts(st, &total, &online) < 0)
		db_ok = 0;
	pthread_mutex_lock(&m->lock);
	rc |= buf_append_str(out,
		"# HELP weft_http_requests_total HTTP requests by route, method and status.\n"
		"# TYPE weft_http_requests_total counter\n");
	for (size_t i = 0; i < m->nseries; i++) {
		const struct series *s = &m->series[i];

		rc |= buf_appendf(out,
			"weft_http_requests_total{route=\"%s\",method=\"%s\",status=\"%d\"} %" PRIu64 "\n",
			s->route, s->method, s->status, s->count);
	}
	rc |= buf_append_str(out,
		"# HELP weft_http_request_duration_seconds Time to answer HTTP requests.\n"
		"# TYPE weft_http_request_duration_seconds histogram\n");
	for (size_t i = 0; i < m->nhists; i++) {
		const struct hist *h = &m->hists[i];
		uint64_t cum = 0;

		for (size_t b = 0; b < NBUCKETS; b++) {
			cum += h->counts[b];
			rc |= buf_appendf(out,
				"weft_http_request_duration_seconds_bucket{route=\"%s\",le=\"%g\"} %" PRIu64 "\n",
				h->route, buckets[b], cum);
		}
		rc |= buf_appendf(out,
			"weft_http_request_duration_seconds_bucket{route=\"%s\",le=\"+Inf\"} %" PRIu64 "\n"
			"weft_http_request_duration_seconds_sum{route=\"%s\"} %.6f\n"
			"weft_http_request_duration_seconds_count{route=\"%s\"} %" PRIu64 "\n",
			h->route, h->total, h->route, h->sum, h->route, h->total);
	}
	rc |= buf_appendf(out,
		"# HELP weft_http_series_dropped_total Requests not counted because the series limit was reached.\n"
		"# TYPE weft_http_series_dropped_total counter\n"
		"weft_http_series_dropped_total %" PRIu64 "\n"
		"# HELP weft_registrations_total Successful node registrations.\n"
		"# TYPE weft_registrations_total counter\n"
		"weft_registrations_total %" PRIu64 "\n"
		"# HELP weft_auth_failures_total Requests refused for missing or bad credentials.\n"
		"# TYPE weft_auth_failures_total counter\n"
		"weft_auth_failures_total %" PRIu64 "\n",
		m->dropped_series, m->counters[METRICS_REGISTRATIONS],
		m->counters[METRICS_AUTH_FAILURES]);
	pthread_mutex_unlock(&m->lock);
	rc |= buf_appendf(out,
		"# HELP weft_database_up Whether the last metrics scrape could read the database.\n"
		"# TYPE weft_database_up gauge\n"
		"weft_database_up %d\n",
		db_ok);
	if (db_ok && st)
		rc |= buf_appendf(out,
			"# HELP weft_nodes Registered nodes.\n"
			"# TYPE weft_nodes gauge\n"
			"weft_nodes %" PRId64 "\n"
			"# HELP weft_nodes_online Nodes currently online.\n"
			"# TYPE weft_nodes_online gauge\n"
			"weft_nodes_online %" PRId64 "\n",
			total, online);
	return rc ? WEFT_ERR_TOOBIG : 0;
}
