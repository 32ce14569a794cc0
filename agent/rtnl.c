/* rtnetlink requests and dumps: see rtnl.h. */
#include "agent/rtnl.h"

#include "shared/err.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#define RTNL_TIMEOUT_S 5
#define RTNL_RX 32768 /* the kernel's dump messages fit (NLMSG_GOODSIZE) */

void *rtnl_init(struct rtnl_req *r, uint16_t type, uint16_t flags,
		size_t body)
{
	memset(r, 0, sizeof(*r));
	r->u.h.nlmsg_len = (uint32_t)NLMSG_LENGTH(body);
	r->u.h.nlmsg_type = type;
	r->u.h.nlmsg_flags = (uint16_t)(NLM_F_REQUEST | NLM_F_ACK | flags);
	return NLMSG_DATA(&r->u.h);
}

int rtnl_attr(struct rtnl_req *r, uint16_t type, const void *data,
	      size_t len)
{
	size_t off = NLMSG_ALIGN(r->u.h.nlmsg_len);
	struct rtattr *a;

	if (off > sizeof(r->u.buf) || RTA_SPACE(len) > sizeof(r->u.buf) - off)
		return WEFT_ERR_TOOBIG;
	a = (struct rtattr *)(r->u.buf + off);
	a->rta_type = type;
	a->rta_len = (uint16_t)RTA_LENGTH(len);
	if (len)
		memcpy(RTA_DATA(a), data, len);
	r->u.h.nlmsg_len = (uint32_t)(off + RTA_ALIGN(a->rta_len));
	return 0;
}

static int open_socket(void)
{
	struct timeval tv = {.tv_sec = RTNL_TIMEOUT_S};
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);

	if (fd < 0)
		return -errno;
	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0) {
		int rc = -errno;

		close(fd);
		return rc;
	}
	return fd;
}

static int send_req(int fd, const void *buf, size_t len)
{
	struct sockaddr_nl sa = {.nl_family = AF_NETLINK};

	if (sendto(fd, buf, len, 0, (const struct sockaddr *)&sa,
		   sizeof(sa)) < 0)
		return -errno;
	return 0;
}

/* Reads one batch: its length, or a negative code. */
static ssize_t recv_batch(int fd, uint8_t *buf, size_t cap)
{
	ssize_t n;

	do
		n = recv(fd, buf, cap, 0);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == EAGAIN ? WEFT_ERR_TIMEOUT : -errno;
	return n;
}

/* The error code of an NLMSG_ERROR message: 0 (an ack) or -errno. */
static int msg_error(const struct nlmsghdr *h)
{
	const struct nlmsgerr *e;

	if (h->nlmsg_len < NLMSG_LENGTH(sizeof(*e)))
		return WEFT_ERR_PROTO;
	e = NLMSG_DATA(h);
	return e->error;
}

/* Walks the messages of one batch with sequence number 1, calling fn
 * for each; *done is set at the ack, the error or NLMSG_DONE. */
static int walk(const uint8_t *buf, size_t n, bool *done,
		int (*fn)(const struct nlmsghdr *h, void *ctx), void *ctx)
{
	const struct nlmsghdr *h;
	size_t off;
	int rc;

	for (off = 0; off < n && n - off >= sizeof(*h);
	     off += NLMSG_ALIGN(h->nlmsg_len)) {
		h = (const struct nlmsghdr *)(buf + off);
		if (h->nlmsg_len < sizeof(*h) || h->nlmsg_len > n - off)
			return WEFT_ERR_PROTO;
		if (h->nlmsg_seq != 1)
			continue;
		if (h->nlmsg_type == NLMSG_DONE) {
			*done = true;
			return 0;
		}
		if (h->nlmsg_type == NLMSG_ERROR) {
			*done = true;
			return msg_error(h);
		}
		rc = fn(h, ctx);
		if (rc < 0)
			return rc;
	}
	return 0;
}

struct talk_ctx {
	struct rtmsg *route;
};

static int talk_msg(const struct nlmsghdr *h, void *ctx)
{
	struct talk_ctx *t = ctx;

	if (t->route && h->nlmsg_type == RTM_NEWROUTE &&
	    h->nlmsg_len >= NLMSG_LENGTH(sizeof(*t->route)))
		memcpy(t->route, NLMSG_DATA(h), sizeof(*t->route));
	return 0;
}

int rtnl_talk(struct rtnl_req *r, struct rtmsg *route)
{
	struct talk_ctx t = {.route = route};
	union {
		struct nlmsghdr h;
		uint8_t b[8192];
	} rx;
	bool done = false;
	ssize_t n;
	int fd, rc;

	fd = open_socket();
	if (fd < 0)
		return fd;
	r->u.h.nlmsg_seq = 1;
	rc = send_req(fd, r->u.buf, r->u.h.nlmsg_len);
	while (rc == 0 && !done) {
		n = recv_batch(fd, rx.b, sizeof(rx.b));
		if (n < 0)
			rc = (int)n;
		else
			rc = walk(rx.b, (size_t)n, &done, talk_msg, &t);
	}
	close(fd);
	return rc;
}

int rtnl_dump(uint16_t type, uint8_t family, rtnl_dump_fn *fn, void *ctx)
{
	struct rtnl_req r;
	/* rtmsg and fib_rule_hdr both start with the family; the kernel
	 * reads a dump request's family from the first byte. */
	struct rtmsg *m = rtnl_init(&r, type, NLM_F_DUMP, sizeof(*m));
	uint8_t *buf;
	bool done = false;
	ssize_t n;
	int fd, rc;

	r.u.h.nlmsg_flags &= (uint16_t)~NLM_F_ACK;
	r.u.h.nlmsg_seq = 1;
	m->rtm_family = family;
	buf = malloc(RTNL_RX);
	if (!buf)
		return WEFT_ERR_NOMEM;
	fd = open_socket();
	if (fd < 0) {
		free(buf);
		return fd;
	}
	rc = send_req(fd, r.u.buf, r.u.h.nlmsg_len);
	while (rc == 0 && !done) {
		n = recv_batch(fd, buf, RTNL_RX);
		if (n < 0)
			rc = (int)n;
		else if (n == 0)
			rc = WEFT_ERR_PROTO;
		else
			rc = walk(buf, (size_t)n, &done, fn, ctx);
	}
	close(fd);
	free(buf);
	return rc;
}

int rtnl_parse(const struct nlmsghdr *h, size_t body, struct rtattr **tb,
	       unsigned max)
{
	const uint8_t *p, *end;
	size_t off;

	memset(tb, 0, ((size_t)max + 1) * sizeof(*tb));
	if (h->nlmsg_len < NLMSG_LENGTH(body))
		return WEFT_ERR_PARSE;
	p = (const uint8_t *)h;
	end = p + h->nlmsg_len;
	off = NLMSG_LENGTH(NLMSG_ALIGN(body));
	while (off < h->nlmsg_len) {
		struct rtattr *a = (struct rtattr *)(uintptr_t)(p + off);

		if ((size_t)(end - (p + off)) < sizeof(*a) ||
		    a->rta_len < sizeof(*a) ||
		    a->rta_len > (size_t)(end - (p + off)))
			return WEFT_ERR_PARSE;
		if ((a->rta_type & NLA_TYPE_MASK) <= max)
			tb[a->rta_type & NLA_TYPE_MASK] = a;
		off += RTA_ALIGN(a->rta_len);
	}
	return 0;
}
