/* Node-list watchers (see watch.h). The held watchers are few (bounded by
 * WATCH_MAX), so a plain array is scanned for deadlines and callers. */
#include "controller/watch.h"

#include "shared/err.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

struct watcher {
	int64_t caller;
	int64_t deadline_ms;
	struct http_hold *hold; /* our reference */
};

struct watch {
	pthread_mutex_t lock;
	int64_t version;
	bool stopping;
	struct watcher *v;
	size_t n, cap;
};

int watch_new(struct watch **out)
{
	struct watch *w = calloc(1, sizeof(*w));

	if (!w)
		return WEFT_ERR_NOMEM;
	pthread_mutex_init(&w->lock, NULL);
	*out = w;
	return 0;
}

static void answer_body(struct http_resp *r, int64_t version, bool changed)
{
	http_resp_json(r, 200,
		       json_pack("{s:I, s:b}", "version", (json_int_t)version,
				 "changed", changed));
}

/* Answers and forgets watcher i (under lock); the last one takes its
 * place. */
static void answer_at(struct watch *w, size_t i, struct http_resp *r)
{
	http_hold_answer(w->v[i].hold, r);
	http_resp_free(r);
	http_hold_unref(w->v[i].hold);
	w->v[i] = w->v[--w->n];
}

void watch_request(struct watch *w, int64_t caller, int64_t since,
		   int64_t wait_ms, int64_t now_ms, struct http_resp *resp)
{
	struct http_hold *hold = NULL;
	size_t mine = 0;

	pthread_mutex_lock(&w->lock);
	if (w->stopping) {
		http_resp_error(resp, 503, "shutting_down",
				"the controller is shutting down", NULL);
		goto out;
	}
	if (since < w->version || wait_ms <= 0) {
		answer_body(resp, w->version, since < w->version);
		goto out;
	}
	for (size_t i = 0; i < w->n; i++)
		mine += w->v[i].caller == caller;
	if (mine >= WATCH_PER_CALLER || w->n >= WATCH_MAX) {
		http_resp_error(resp, 429, "too_many_watches",
				mine >= WATCH_PER_CALLER
					? "too many node watches of this user are open; close one"
					: "too many node watches are open; try again later",
				NULL);
		resp->retry_after = 5;
		goto out;
	}
	if (w->n == w->cap) {
		size_t cap = w->cap ? w->cap * 2 : 16;
		struct watcher *nv = realloc(w->v, cap * sizeof(*nv));

		if (!nv)
			goto nomem;
		w->v = nv;
		w->cap = cap;
	}
	if (http_hold_new(&hold) < 0)
		goto nomem;
	w->v[w->n++] = (struct watcher){caller, now_ms + wait_ms, hold};
	http_hold_ref(hold);
	resp->hold = hold;
	goto out;
nomem:
	http_resp_err(resp, WEFT_ERR_NOMEM, NULL, NULL);
out:
	pthread_mutex_unlock(&w->lock);
}

void watch_advance(struct watch *w, int64_t version)
{
	pthread_mutex_lock(&w->lock);
	if (version > w->version) {
		w->version = version;
		while (w->n) {
			struct http_resp r = {0};

			answer_body(&r, version, true);
			answer_at(w, w->n - 1, &r);
		}
	}
	pthread_mutex_unlock(&w->lock);
}

void watch_expire(struct watch *w, int64_t now_ms)
{
	pthread_mutex_lock(&w->lock);
	for (size_t i = 0; i < w->n;) {
		struct http_resp r = {0};

		if (w->v[i].deadline_ms > now_ms) {
			i++;
			continue;
		}
		answer_body(&r, w->version, false);
		answer_at(w, i, &r);
	}
	pthread_mutex_unlock(&w->lock);
}

void watch_drain(struct watch *w)
{
	pthread_mutex_lock(&w->lock);
	w->stopping = true;
	while (w->n) {
		struct http_resp r = {0};

		http_resp_error(&r, 503, "shutting_down",
				"the controller is shutting down", NULL);
		answer_at(w, w->n - 1, &r);
	}
	pthread_mutex_unlock(&w->lock);
}

size_t watch_held(struct watch *w)
{
	size_t n;

	pthread_mutex_lock(&w->lock);
	n = w->n;
	pthread_mutex_unlock(&w->lock);
	return n;
}

void watch_free(struct watch *w)
{
	if (!w)
		return;
	watch_drain(w);
	free(w->v);
	pthread_mutex_destroy(&w->lock);
	free(w);
}
