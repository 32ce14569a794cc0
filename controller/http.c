#include "controller/http.h"

#include "controller/gz.h"
#include "shared/err.h"
#include "shared/jsonx.h"

#include <strings.h>

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
	http_shared_unref(r->splice);
	r->splice = NULL;
	r->splice_at = 0;
	json_decref(r->json);
	free(r->text);
	r->json = NULL;
	r->text = NULL;
	r->text_len = 0;
	free(r->set_cookie);
	r->set_cookie = NULL;
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

/* --- shared bytes and compression --- */

struct http_shared {
	pthread_mutex_t lock;  /* refs and gz */
	int refs;
	bool has_gz;
	struct gz_seg gz;      /* made on first use by a gzip client */
	size_t len;
	char bytes[];
};

int http_shared_new(const void *p, size_t n, struct http_shared **out)
{
	struct http_shared *s = malloc(sizeof(*s) + n);

	if (!s)
		return WEFT_ERR_NOMEM;
	memset(s, 0, sizeof(*s));
	pthread_mutex_init(&s->lock, NULL);
	s->refs = 1;
	s->len = n;
	memcpy(s->bytes, p, n);
	*out = s;
	return 0;
}

void http_shared_ref(struct http_shared *s)
{
	pthread_mutex_lock(&s->lock);
	s->refs++;
	pthread_mutex_unlock(&s->lock);
}

void http_shared_unref(struct http_shared *s)
{
	int left;

	if (!s)
		return;
	pthread_mutex_lock(&s->lock);
	left = --s->refs;
	pthread_mutex_unlock(&s->lock);
	if (left)
		return;
	gz_seg_free(&s->gz);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

/* s's compressed segment, made once for every response that shares s. */
static const struct gz_seg *shared_gz(struct http_shared *s)
{
	const struct gz_seg *g = NULL;

	pthread_mutex_lock(&s->lock);
	if (!s->has_gz && gz_seg_make(s->bytes, s->len, &s->gz) == 0)
		s->has_gz = true;
	if (s->has_gz)
		g = &s->gz;
	pthread_mutex_unlock(&s->lock);
	return g;
}

bool http_accepts_gzip(const char *v)
{
	while (v && *v) {
		const char *tok, *end;
		size_t n;
		double q = 1;

		while (*v == ' ' || *v == '\t' || *v == ',')
			v++;
		tok = v;
		while (*v && *v != ',' && *v != ';' && *v != ' ' && *v != '\t')
			v++;
		n = (size_t)(v - tok);
		end = strchr(v, ',');
		/* Parameters: only q matters. */
		for (const char *p = v; *p && (!end || p < end); p++) {
			if ((*p == 'q' || *p == 'Q') && p[1] == '=' &&
			    (p == v || p[-1] == ';' || p[-1] == ' ')) {
				q = strtod(p + 2, NULL);
				break;
			}
		}
		if (q > 0 && ((n == 4 && strncasecmp(tok, "gzip", 4) == 0) ||
			      (n == 6 && strncasecmp(tok, "x-gzip", 6) == 0) ||
			      (n == 1 && *tok == '*')))
			return true;
		v = end ? end + 1 : v + strlen(v);
	}
	return false;
}

int http_resp_body(const struct http_resp *r, bool gzip_ok, char **body,
		   size_t *len, bool *gzipped)
{
	const char *head = NULL, *tail = NULL;
	size_t hlen = 0, tlen = 0, slen = 0, at;
	char *dumped = NULL, *b = NULL;
	struct gz_seg segs[2] = {{0}};
	const struct gz_seg *parts[3];
	size_t nparts = 0;
	int rc = WEFT_ERR_NOMEM;

	*body = NULL;
	*len = 0;
	*gzipped = false;
	if (r->json) {
		if (!(dumped = json_dumps(r->json, JSON_COMPACT)))
			return WEFT_ERR_NOMEM;
		head = dumped;
		hlen = strlen(dumped);
	} else if (r->text) {
		at = r->splice && r->splice_at <= r->text_len ? r->splice_at
							       : r->text_len;
		head = r->text;
		hlen = at;
		tail = r->text + at;
		tlen = r->text_len - at;
		slen = r->splice ? r->splice->len : 0;
	} else {
		return 0;
	}
	if (gzip_ok && hlen + slen + tlen >= HTTP_GZIP_MIN) {
		const struct gz_seg *shared = NULL;

		if (gz_seg_make(head, hlen, &segs[0]) < 0)
			goto out;
		parts[nparts++] = &segs[0];
		if (slen) {
			if (!(shared = shared_gz(r->splice)))
				goto out;
			parts[nparts++] = shared;
		}
		if (tlen) {
			if (gz_seg_make(tail, tlen, &segs[1]) < 0)
				goto out;
			parts[nparts++] = &segs[1];
		}
		if (gz_join(parts, nparts, (unsigned char **)body, len) < 0)
			goto out;
		*gzipped = true;
		rc = 0;
		goto out;
	}
	if (dumped && !slen) {
		*body = dumped;
		*len = hlen;
		dumped = NULL;
		rc = 0;
		goto out;
	}
	b = malloc(hlen + slen + tlen + 1);
	if (!b)
		goto out;
	memcpy(b, head, hlen);
	if (slen)
		memcpy(b + hlen, r->splice->bytes, slen);
	memcpy(b + hlen + slen, tail ? tail : "", tlen);
	b[hlen + slen + tlen] = '\0';
	*body = b;
	*len = hlen + slen + tlen;
	rc = 0;
out:
	gz_seg_free(&segs[0]);
	gz_seg_free(&segs[1]);
	free(dumped);
	return rc;
}
