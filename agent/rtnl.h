/* rtnetlink requests, the way the agent changes the kernel's links,
 * addresses, routes and policy-routing rules (agent/tun_linux.c,
 * agent/exitroute.c) without running external tools: a request is built
 * in one fixed buffer (rtnl_init, rtnl_attr: pure), sent on a fresh
 * NETLINK_ROUTE socket and answered by the kernel's ack (rtnl_talk), or
 * a dump is read message by message (rtnl_dump).
 *
 * Linux only. Every change needs CAP_NET_ADMIN; dumps need nothing.
 * Never logs. */
#ifndef WEFT_AGENT_RTNL_H
#define WEFT_AGENT_RTNL_H

#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <stddef.h>
#include <stdint.h>

/* One request: header, family message, then attributes. Requests the
 * agent makes are a few small attributes long. */
#define RTNL_REQ_MAX 512

struct rtnl_req {
	union {
		struct nlmsghdr h;
		uint8_t buf[RTNL_REQ_MAX];
	} u;
};

/* Starts a request of type with NLM_F_REQUEST | NLM_F_ACK | flags and a
 * zeroed family message of body bytes, which it returns. */
void *rtnl_init(struct rtnl_req *r, uint16_t type, uint16_t flags,
		size_t body);

/* Appends an attribute. Returns 0, or WEFT_ERR_TOOBIG (r unchanged) when
 * it does not fit RTNL_REQ_MAX. */
int rtnl_attr(struct rtnl_req *r, uint16_t type, const void *data,
	      size_t len);

/* Sends r and waits for its ack (at most 5 s). When route is not NULL,
 * the rtmsg of an RTM_NEWROUTE answer is copied there. Returns 0, the
 * kernel's -errno, WEFT_ERR_TIMEOUT or WEFT_ERR_PROTO. */
int rtnl_talk(struct rtnl_req *r, struct rtmsg *route);

/* Called for each message of a dump (type as asked: RTM_NEWROUTE for
 * RTM_GETROUTE, ...), h->nlmsg_len bytes, checked to lie inside what the
 * kernel sent. A negative return ends the dump with that code. */
typedef int rtnl_dump_fn(const struct nlmsghdr *h, void *ctx);

/* Dumps the kernel's table of type (RTM_GETROUTE, RTM_GETRULE, ...) for
 * family (AF_INET, AF_INET6), calling fn for each entry. Returns 0, fn's
 * negative code, the kernel's -errno, WEFT_ERR_TIMEOUT, WEFT_ERR_PROTO
 * or WEFT_ERR_NOMEM. */
int rtnl_dump(uint16_t type, uint8_t family, rtnl_dump_fn *fn, void *ctx);

/* The attributes of a message whose family part is body bytes long:
 * tb[type] points at each one (the last of a type wins; types above max
 * are skipped), NULL where absent. Returns 0, or WEFT_ERR_PARSE when the
 * message is shorter than its body or an attribute runs past its end. */
int rtnl_parse(const struct nlmsghdr *h, size_t body, struct rtattr **tb,
	       unsigned max);

#endif
