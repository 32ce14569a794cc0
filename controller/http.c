#include "controller/http.h"

#include "shared/err.h"
#include "shared/jsonx.h"

#include <stdlib.h>

void http_resp_free(struct http_resp *r)
{
	if (!r)
		return;
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
