/* Controller URL failover: see ctlset.h. */
#include "agent/ctlset.h"

#include "agent/control.h"
#include "agent/statedir.h"
#include "shared/err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct ctlset {
	char urls[CTLSET_MAX][STATEDIR_URL_SIZE];
	size_t n;
	size_t cur;
	size_t failed; /* failures in a row since the last success */
};

/* Copies the item [p, end) into dst without surrounding blanks and
 * trailing '/'. Returns its length, or -1 when it does not fit. */
static int trimmed(const char *p, const char *end, char *dst, size_t cap)
{
	size_t n;

	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	while (end > p && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	while (end > p && end[-1] == '/')
		end--;
	n = (size_t)(end - p);
	if (n >= cap)
		return -1;
	memcpy(dst, p, n);
	dst[n] = '\0';
	return (int)n;
}

int ctlset_parse(const char *spec, bool insecure_http, bool *plain_http,
		 struct ctlset **out, char *msg, size_t msglen)
{
	struct ctlset *s = calloc(1, sizeof(*s));
	bool plain_any = false;
	const char *p = spec ? spec : "";
	int rc = 0;

	if (!s)
		return WEFT_ERR_NOMEM;
	msg[0] = '\0';
	for (;;) {
		const char *end = strchr(p, ',');
		char url[STATEDIR_URL_SIZE];
		bool plain = false, dup = false;
		int len;

		if (!end)
			end = p + strlen(p);
		len = trimmed(p, end, url, sizeof(url));
		if (len < 0) {
			snprintf(msg, msglen, "a controller URL is longer than "
				 "%d characters", STATEDIR_URL_SIZE - 1);
			rc = WEFT_ERR_INVAL;
			goto out;
		}
		if (len > 0) {
			rc = control_check_url(url, insecure_http, &plain);
			if (rc < 0) {
				snprintf(msg, msglen, "%s%s", url,
					 rc == WEFT_ERR_FORBIDDEN
						 ? ""
						 : ": not an http(s) URL "
						   "without a path");
				goto out;
			}
			for (size_t i = 0; i < s->n; i++)
				dup |= strcmp(s->urls[i], url) == 0;
			if (!dup && s->n == CTLSET_MAX) {
				snprintf(msg, msglen, "more than %d controller "
					 "URLs", CTLSET_MAX);
				rc = WEFT_ERR_INVAL;
				goto out;
			}
			if (!dup)
				memcpy(s->urls[s->n++], url, (size_t)len + 1);
			plain_any |= plain;
		}
		if (!*end)
			break;
		p = end + 1;
	}
	if (!s->n) {
		snprintf(msg, msglen, "no controller URL");
		rc = WEFT_ERR_INVAL;
	}
out:
	if (rc < 0) {
		free(s);
		return rc;
	}
	if (plain_http)
		*plain_http = plain_any;
	*out = s;
	return 0;
}

void ctlset_del(struct ctlset *s)
{
	free(s);
}

size_t ctlset_count(const struct ctlset *s)
{
	return s->n;
}

const char *ctlset_url(const struct ctlset *s, size_t i)
{
	return s->urls[i];
}

const char *ctlset_current(const struct ctlset *s)
{
	return s->urls[s->cur];
}

bool ctlset_has(const struct ctlset *s, const char *url)
{
	char u[STATEDIR_URL_SIZE];

	if (trimmed(url, url + strlen(url), u, sizeof(u)) < 0)
		return false;
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->urls[i], u) == 0)
			return true;
	return false;
}

bool ctlset_failed(struct ctlset *s)
{
	s->cur = (s->cur + 1) % s->n;
	if (s->failed < s->n)
		s->failed++;
	return s->failed >= s->n;
}

void ctlset_ok(struct ctlset *s)
{
	s->failed = 0;
}
