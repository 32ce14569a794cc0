/* agent/ifwatch: which rtnetlink reads count as an interface change. */
#include "agent/ifwatch.h"
#include "check.h"

#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <string.h>

/* Appends a message of type with plen payload bytes at *off in buf. */
static void put(uint8_t *buf, size_t *off, uint16_t type, size_t plen)
{
	struct nlmsghdr h = {.nlmsg_len = (uint32_t)(sizeof(h) + plen),
			     .nlmsg_type = type};

	memcpy(buf + *off, &h, sizeof(h));
	memset(buf + *off + sizeof(h), 0, plen);
	*off += NLMSG_ALIGN(h.nlmsg_len);
}

static void address_and_link_messages_count(void)
{
	static const uint16_t yes[] = {RTM_NEWADDR, RTM_DELADDR, RTM_NEWLINK,
				       RTM_DELLINK};
	uint8_t buf[256];
	size_t off;

	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		off = 0;
		put(buf, &off, yes[i], 8);
		CHECK(ifwatch_relevant(buf, off));
	}
}

static void other_messages_do_not(void)
{
	uint8_t buf[256];
	size_t off = 0;

	put(buf, &off, RTM_NEWROUTE, 12);
	put(buf, &off, NLMSG_DONE, 4);
	CHECK(!ifwatch_relevant(buf, off));
	CHECK(!ifwatch_relevant(buf, 0));
}

static void a_change_after_other_messages_counts(void)
{
	uint8_t buf[256];
	size_t off = 0;

	put(buf, &off, RTM_NEWROUTE, 13); /* padded to 4 bytes */
	put(buf, &off, RTM_DELROUTE, 12);
	put(buf, &off, RTM_NEWADDR, 8);
	CHECK(ifwatch_relevant(buf, off));
}

static void broken_headers_stop_the_walk(void)
{
	uint8_t buf[256];
	struct nlmsghdr h;
	size_t off = 0;

	put(buf, &off, RTM_NEWADDR, 8);
	/* Truncated: the header says more than was read. */
	CHECK(!ifwatch_relevant(buf, off - 1));
	CHECK(!ifwatch_relevant(buf, sizeof(h) - 1));
	/* A length below the header's own size. */
	memcpy(&h, buf, sizeof(h));
	h.nlmsg_len = 4;
	memcpy(buf, &h, sizeof(h));
	CHECK(!ifwatch_relevant(buf, off));
	/* A broken second message after a route message: nothing found. */
	off = 0;
	put(buf, &off, RTM_NEWROUTE, 8);
	h.nlmsg_len = 1000;
	h.nlmsg_type = RTM_NEWADDR;
	memcpy(buf + off, &h, sizeof(h));
	CHECK(!ifwatch_relevant(buf, off + sizeof(h)));
}

static const struct check_case cases[] = {
	CHECK_CASE(address_and_link_messages_count),
	CHECK_CASE(other_messages_do_not),
	CHECK_CASE(a_change_after_other_messages_counts),
	CHECK_CASE(broken_headers_stop_the_walk),
	{0},
};

int main(int argc, char **argv)
{
	return check_main(argc, argv, cases);
}
