/* rtnetlink change events; see ifwatch.h. */
#include "agent/ifwatch.h"

#include "shared/err.h"

#include <errno.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct ifwatch {
	struct loop_io *io;
	ifwatch_fn *cb;
	void *ctx;
};

bool ifwatch_relevant(const void *buf, size_t len)
{
	const uint8_t *p = buf;
	size_t off = 0;

	while (len - off >= sizeof(struct nlmsghdr)) {
		struct nlmsghdr h;

		memcpy(&h, p + off, sizeof(h));
		if (h.nlmsg_len < sizeof(h) || h.nlmsg_len > len - off)
			return false;
		switch (h.nlmsg_type) {
		case RTM_NEWLINK:
		case RTM_DELLINK:
		case RTM_NEWADDR:
		case RTM_DELADDR:
			return true;
		}
		if (NLMSG_ALIGN(h.nlmsg_len) >= len - off)
			break;
		off += NLMSG_ALIGN(h.nlmsg_len);
	}
	return false;
}

static void on_readable(struct loop_io *io, int fd, uint32_t revents,
			void *ctx)
{
	struct ifwatch *w = ctx;
	uint8_t buf[8192];
	bool changed = false;
	ssize_t n;

	(void)io;
	(void)revents;
	for (;;) {
		n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == ENOBUFS) {
			/* The kernel dropped messages: assume a change. */
			changed = true;
			continue;
		}
		if (n <= 0)
			break;
		changed |= ifwatch_relevant(buf, (size_t)n);
	}
	if (changed)
		w->cb(w->ctx);
}

int ifwatch_new(struct loop *l, ifwatch_fn *cb, void *ctx,
		struct ifwatch **out)
{
	struct sockaddr_nl sa = {
		.nl_family = AF_NETLINK,
		.nl_groups = RTMGRP_LINK | RTMGRP_IPV4_IFADDR |
			     RTMGRP_IPV6_IFADDR,
	};
	struct ifwatch *w = calloc(1, sizeof(*w));
	int fd, rc;

	if (!w)
		return WEFT_ERR_NOMEM;
	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC,
		    NETLINK_ROUTE);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		rc = -errno;
		if (fd >= 0)
			close(fd);
		free(w);
		return rc;
	}
	w->cb = cb;
	w->ctx = ctx;
	rc = loop_io_add(l, fd, LOOP_READ, on_readable, w, &w->io);
	if (rc < 0) {
		close(fd);
		free(w);
		return rc;
	}
	*out = w;
	return 0;
}

void ifwatch_del(struct ifwatch *w)
{
	if (!w)
		return;
	loop_io_close(w->io, true);
	free(w);
}
