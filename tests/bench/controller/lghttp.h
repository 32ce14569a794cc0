/* Helpers of the controller benchmark's load program (loadgen.c). */
#ifndef WEFT_BENCH_LGHTTP_H
#define WEFT_BENCH_LGHTTP_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Largest answer either client takes. */
#define RESP_MAX (64u * 1024 * 1024)

/* CLOCK_MONOTONIC in microseconds. */
int64_t now_us(void);
/* Prints "loadgen: ..." and exits 1. */
void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
/* calloc or die. */
void *xcalloc(size_t n, size_t sz);

/* The q-quantile (nearest rank) of v[0..n), which it sorts; NAN for n 0. */
double quantile(double *v, size_t n, double q);
/* VmRSS of pid in KB, or -1. */
long rss_kb(int pid);
/* utime + stime of pid in ms, or -1. */
double cpu_ms(int pid);

/* Looks for a complete response in buf[0..len): 1 with *status, *body
 * (offset) and *total, 0 when more bytes are needed, -1 when it is not a
 * response we understand. */
int http_parse(const char *buf, size_t len, int *status, size_t *body,
	       size_t *total, bool *close_after, bool *gz);
/* Writes a request head (and Content-Length for body) into out; returns
 * its length or -1. */
int fmt_request(char *out, size_t cap, const char *method, const char *path,
		const char *token, const char *body, bool gzip);
/* A TCP connection to 127.0.0.1:port; the fd or -errno. */
int connect_local(int port, bool nonblock);
/* send() all of p or -1. */
int write_all(int fd, const char *p, size_t n);

/* A blocking keep-alive client. */
struct hc {
	int port;
	int fd;
	char *buf;
	size_t cap;
};
void hc_init(struct hc *c, int port);
void hc_free(struct hc *c);
/* One request; *resp points into the client's buffer until the next
 * call. 0 or -1. */
int hc_call(struct hc *c, const char *method, const char *path,
	    const char *token, const char *body, int *status,
	    const char **resp);
/* hc_call that dies unless the status is want; the JSON answer or NULL. */
json_t *hc_json(struct hc *c, const char *method, const char *path,
		const char *token, json_t *body, int want);
/* The map version at the start of a map answer. */
int64_t map_version(const char *body);

#endif
