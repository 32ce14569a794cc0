#include "controller/http.h"

#include "shared/err.h"
#include "shared/jsonx.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct http_hold {
	pthread_mutex_t lock;
	int refs;
	bool answered;
	bool taken;
	struct http_resp answer;
	void (*resume)(void *arg);
	void *arg;
};

void http_resp_free(struct http_resp *r)
{
	if (!r)
		return;
	http_hold_unref(r->hold);
	r->hold = NULL;
	json_decref(r->json);
	free(r->text);
	r->json = NULL;
	r->text = NULL;
	r->text_len = 0;
}

void http_resp_json(struct http_resp *r, int status, json_t *body)
{
	http_resp_free(r);
	if (!body) {
		r->status = 500;
		r->json = jsonx_error_body("no_memory", "out of memory", NULL);
		return;
	}
	r->status = status;
	r->json = body;
}

void http_resp_error(struct http_resp *r, int status, const char *code,
		     const char *message, const char *field)
{
	http_resp_json(r, status, jsonx_error_body(code, message, field));
}

int http_status_for(int err)
{
	switch (err) {
	case 0:
		return 200;
	case WEFT_ERR_INVAL:
	case WEFT_ERR_PARSE:
	case WEFT_ERR_TYPE:
	case WEFT_ERR_RANGE:
		return 400;
	case WEFT_ERR_AUTH:
	case WEFT_ERR_EXPIRED:
		return 401;
	case WEFT_ERR_FORBIDDEN:
		return 403;
	case WEFT_ERR_NOTFOUND:
		return 404;
	case WEFT_ERR_EXISTS:
	case WEFT_ERR_CONFLICT:
		return 409;
	case WEFT_ERR_TOOBIG:
		return 413;
	case WEFT_ERR_BUSY:
	case WEFT_ERR_EXHAUSTED:
	case WEFT_ERR_DB:
		return 503;
	case WEFT_ERR_UNSUPPORTED:
		return 501;
	default:
		return 500;
	}
}

void http_resp_err(struct http_resp *r, int err, const char *message,
		   const char *field)
{
	http_resp_error(r, http_status_for(err), weft_errname(err),
			message ? message : weft_strerror(err), field);
}

const char *http_query(const struct http_req *req, const char *key)
{
	if (!req->query)
		return NULL;
	return req->query(req->query_ctx, key);
}

int http_hold_new(struct http_hold **out)
{
	struct http_hold *h = calloc(1, sizeof(*h));

	if (!h)
		return WEFT_ERR_NOMEM;
	pthread_mutex_init(&h->lock, NULL);
	h->refs = 1;
	*out = h;
	return 0;
}

void http_hold_ref(struct http_hold *h)
{
	pthread_mutex_lock(&h->lock);
	h->refs++;
	pthread_mutex_unlock(&h->lock);
}

void http_hold_unref(struct http_hold *h)
{
	int left;

	if (!h)
		return;
	pthread_mutex_lock(&h->lock);
	left = --h->refs;
	pthread_mutex_unlock(&h->lock);
	if (left)
		return;
	http_resp_free(&h->answer);
	pthread_mutex_destroy(&h->lock);
	free(h);
}

bool http_hold_answer(struct http_hold *h, struct http_resp *r)
{
	pthread_mutex_lock(&h->lock);
	if (h->answered) {
		pthread_mutex_unlock(&h->lock);
		return false;
	}
	h->answered = true;
	h->answer = *r;
	h->answer.hold = NULL;
	memset(r, 0, sizeof(*r));
	/* Resuming under the lock pairs with parking under it: the server
	 * cannot be between "no answer yet" and "suspended" right now. */
	if (h->resume)
		h->resume(h->arg);
	pthread_mutex_unlock(&h->lock);
	return true;
}

bool http_hold_park(struct http_hold *h, void (*suspend)(void *arg),
		    void (*resume)(void *arg), void *arg)
{
	bool ready;

	pthread_mutex_lock(&h->lock);
	ready = h->answered;
	if (!ready) {
		suspend(arg);
		h->resume = resume;
		h->arg = arg;
	}
	pthread_mutex_unlock(&h->lock);
	return ready;
}

bool http_hold_take(struct http_hold *h, struct http_resp *out)
{
	bool ok;

	pthread_mutex_lock(&h->lock);
	ok = h->answered && !h->taken;
	if (ok) {
		*out = h->answer;
		memset(&h->answer, 0, sizeof(h->answer));
		h->taken = true;
		h->resume = NULL;
	}
	pthread_mutex_unlock(&h->lock);
	return ok;
}
