/* The controller URLs an agent may use (`--controller`, repeatable or
 * comma-separated) and which one it uses now.
 *
 * Failover without flapping: the agent stays on the URL that works; a
 * failure (no answer, 5xx, a garbled answer) moves it to the next URL in
 * the list, round-robin, and only when every URL failed in a row since
 * the last success does the caller back off. A URL that comes back is
 * not preferred over the one in use: there is no "primary".
 *
 * Pure logic: no I/O, no locking (the control thread owns its set). */
#ifndef WEFT_AGENT_CTLSET_H
#define WEFT_AGENT_CTLSET_H

#include <stdbool.h>
#include <stddef.h>

#define CTLSET_MAX 8

struct ctlset;

/* Parses spec: URLs separated by commas (blanks around them and trailing
 * '/' dropped, duplicates dropped). Each must pass control_check_url
 * (plain http only to loopback unless insecure_http). Returns 0 and *out
 * (with *plain_http true when some URL is plain http to another host;
 * plain_http may be NULL), WEFT_ERR_INVAL (no URL, more than CTLSET_MAX,
 * one too long or malformed: msg says which), WEFT_ERR_FORBIDDEN (plain
 * http elsewhere without insecure_http; msg is that URL) or
 * WEFT_ERR_NOMEM. */
int ctlset_parse(const char *spec, bool insecure_http, bool *plain_http,
		 struct ctlset **out, char *msg, size_t msglen);

void ctlset_del(struct ctlset *s);

size_t ctlset_count(const struct ctlset *s);

/* The i-th URL (i < count), borrowed for s's lifetime. */
const char *ctlset_url(const struct ctlset *s, size_t i);

/* The URL in use now. */
const char *ctlset_current(const struct ctlset *s);

/* Is url (exactly, after the same trimming) one of s's? */
bool ctlset_has(const struct ctlset *s, const char *url);

/* The URL in use failed: moves to the next one. Returns true when every
 * URL has failed in a row since the last success (the caller backs off
 * before trying again), false when an untried one is next (the caller
 * may try it at once). */
bool ctlset_failed(struct ctlset *s);

/* The URL in use answered: it stays in use, the failure count restarts. */
void ctlset_ok(struct ctlset *s);

#endif
