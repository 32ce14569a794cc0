/* Linux TUN device (/dev/net/tun) configured over rtnetlink. */
#include "agent/tun.h"

#include "agent/packet.h"
#include "agent/rtnl.h"

#include "shared/err.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <linux/virtio_net.h>
#include <sys/uio.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

struct tun {
	int fd;
	int ifindex;
	char name[IFNAMSIZ];
};

/* What the kernel takes as an interface name (dev_valid_name). */
static bool valid_ifname(const char *name)
{
	size_t n = strlen(name);

	return n > 0 && n < IFNAMSIZ && !strchr(name, '/') &&
	       strcmp(name, ".") && strcmp(name, "..");
}

int tun_new(const char *name, struct tun **out)
{
	struct tun *t = NULL;
	struct ifreq ifr;
	int rc = WEFT_ERR_INVAL;

	if (!out)
		goto out;
	if (!name || !*name)
		name = "weft%d";
	if (!valid_ifname(name))
		goto out;
	rc = WEFT_ERR_NOMEM;
	t = calloc(1, sizeof(*t));
	if (!t)
		goto out;
	t->fd = -1;
	t->fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (t->fd < 0) {
		rc = -errno;
		goto out;
	}
	memset(&ifr, 0, sizeof(ifr));
	strcpy(ifr.ifr_name, name);
	/* IFF_TUN_EXCL: never attach to somebody else's device.
	 * IFF_VNET_HDR: every packet carries a virtio_net_hdr, so that
	 * coalesced TCP runs can be written as one GSO packet (agent/gro.h)
	 * and, with TSO enabled (tun_enable_tso), TCP super-segments can be
	 * read. */
	ifr.ifr_flags = (short)(IFF_TUN | IFF_NO_PI | IFF_TUN_EXCL |
				IFF_VNET_HDR);
	if (ioctl(t->fd, TUNSETIFF, &ifr) < 0) {
		rc = errno == EBUSY ? WEFT_ERR_EXISTS : -errno;
		goto out;
	}
	memcpy(t->name, ifr.ifr_name, IFNAMSIZ);
	t->name[IFNAMSIZ - 1] = '\0';
	t->ifindex = (int)if_nametoindex(t->name);
	if (!t->ifindex) {
		rc = -errno;
		goto out;
	}
	*out = t;
	t = NULL;
	rc = 0;
out:
	tun_del(t);
	return rc;
}

void tun_del(struct tun *t)
{
	if (!t)
		return;
	if (t->fd >= 0)
		close(t->fd);
	free(t);
}

const char *tun_name(const struct tun *t)
{
	return t->name;
}

int tun_ifindex(const struct tun *t)
{
	return t->ifindex;
}

int tun_fd(const struct tun *t)
{
	return t->fd;
}

/* Changes the link: flags (with change mask) and, when mtu != 0, the MTU. */
static int set_link(struct tun *t, unsigned flags, unsigned change,
		    uint32_t mtu)
{
	struct rtnl_req r;
	struct ifinfomsg *ifi = rtnl_init(&r, RTM_NEWLINK, 0, sizeof(*ifi));

	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = t->ifindex;
	ifi->ifi_flags = flags;
	ifi->ifi_change = change;
	if (mtu)
		rtnl_attr(&r, IFLA_MTU, &mtu, sizeof(mtu));
	return rtnl_talk(&r, NULL);
}

int tun_set_mtu(struct tun *t, unsigned mtu)
{
	if (mtu < 68 || mtu > 65535)
		return WEFT_ERR_RANGE;
	return set_link(t, 0, 0, mtu);
}

int tun_set_up(struct tun *t, bool up)
{
	return set_link(t, up ? IFF_UP : 0, IFF_UP, 0);
}

static bool prefix_ok(const struct ip_prefix *p)
{
	return p && ((p->addr.family == 4 && p->len <= 32) ||
		     (p->addr.family == 6 && p->len <= 128));
}

/* local_only: never a source address for other destinations (IPv4: scope
 * host; IPv6: deprecated, preferred lifetime 0, valid forever). */
static int addr_msg(int ifindex, const struct ip_prefix *p, uint16_t type,
		    uint16_t flags, bool local_only)
{
	struct ifa_cacheinfo ci = {.ifa_prefered = 0,
				   .ifa_valid = 0xFFFFFFFFu};
	struct rtnl_req r;
	struct ifaddrmsg *ifa;
	size_t n;

	if (!prefix_ok(p))
		return WEFT_ERR_INVAL;
	n = p->addr.family == 4 ? 4 : 16;
	ifa = rtnl_init(&r, type, flags, sizeof(*ifa));
	ifa->ifa_family = p->addr.family == 4 ? AF_INET : AF_INET6;
	ifa->ifa_prefixlen = p->len;
	ifa->ifa_scope = local_only && p->addr.family == 4 ? RT_SCOPE_HOST
							  : RT_SCOPE_UNIVERSE;
	ifa->ifa_index = (unsigned)ifindex;
	if (local_only && p->addr.family == 6 && type == RTM_NEWADDR)
		rtnl_attr(&r, IFA_CACHEINFO, &ci, sizeof(ci));
	if (p->addr.family == 6)
		ifa->ifa_flags = IFA_F_NODAD;
	else
		rtnl_attr(&r, IFA_LOCAL, p->addr.b, n);
	rtnl_attr(&r, IFA_ADDRESS, p->addr.b, n);
	return rtnl_talk(&r, NULL);
}

int tun_add_addr(struct tun *t, const struct ip_prefix *p)
{
	return addr_msg(t->ifindex, p, RTM_NEWADDR,
			NLM_F_CREATE | NLM_F_REPLACE, false);
}

int tun_addr_local_only(int ifindex, const struct ip_prefix *p, bool add)
{
	return add ? addr_msg(ifindex, p, RTM_NEWADDR,
			      NLM_F_CREATE | NLM_F_REPLACE, true)
		   : addr_msg(ifindex, p, RTM_DELADDR, 0, true);
}

int tun_del_addr(struct tun *t, const struct ip_prefix *p)
{
	return addr_msg(t->ifindex, p, RTM_DELADDR, 0, false);
}

static int route_msg(struct tun *t, const struct ip_prefix *dst,
		     uint16_t type, uint16_t flags)
{
	struct rtnl_req r;
	struct rtmsg *rt;
	struct ip_prefix m;
	uint32_t oif = (uint32_t)t->ifindex;

	if (!prefix_ok(dst))
		return WEFT_ERR_INVAL;
	m = *dst;
	ip_prefix_mask(&m);
	rt = rtnl_init(&r, type, flags, sizeof(*rt));
	rt->rtm_family = m.addr.family == 4 ? AF_INET : AF_INET6;
	rt->rtm_dst_len = m.len;
	rt->rtm_table = RT_TABLE_MAIN;
	rt->rtm_protocol = RTPROT_STATIC;
	rt->rtm_scope = RT_SCOPE_LINK;
	rt->rtm_type = RTN_UNICAST;
	if (m.len)
		rtnl_attr(&r, RTA_DST, m.addr.b, m.addr.family == 4 ? 4 : 16);
	rtnl_attr(&r, RTA_OIF, &oif, sizeof(oif));
	return rtnl_talk(&r, NULL);
}

int tun_add_route(struct tun *t, const struct ip_prefix *dst)
{
	return route_msg(t, dst, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL);
}

int tun_del_route(struct tun *t, const struct ip_prefix *dst)
{
	return route_msg(t, dst, RTM_DELROUTE, 0);
}

/* Asks the kernel where a packet to a would go; true when a is local. */
static bool is_local(const struct ip_addr *a)
{
	struct rtnl_req r;
	struct rtmsg *rt, got;

	memset(&got, 0, sizeof(got));
	rt = rtnl_init(&r, RTM_GETROUTE, 0, sizeof(*rt));
	rt->rtm_family = a->family == 4 ? AF_INET : AF_INET6;
	rt->rtm_dst_len = a->family == 4 ? 32 : 128;
	rtnl_attr(&r, RTA_DST, a->b, a->family == 4 ? 4 : 16);
	return rtnl_talk(&r, &got) == 0 && got.rtm_type == RTN_LOCAL;
}

int tun_wait_local(struct tun *t, const struct ip_addr *a, int timeout_ms)
{
	struct timespec ts = {.tv_nsec = 5 * 1000 * 1000};
	int waited = 0;

	(void)t;
	if (!a || (a->family != 4 && a->family != 6) || timeout_ms < 0)
		return WEFT_ERR_INVAL;
	for (;;) {
		if (is_local(a))
			return 0;
		if (waited >= timeout_ms)
			return WEFT_ERR_TIMEOUT;
		nanosleep(&ts, NULL);
		waited += 5;
	}
}

/* Completes a checksum the kernel left partial (VIRTIO_NET_HDR_F_NEEDS_CSUM:
 * the field holds the pseudo-header sum). */
static int finish_csum(uint8_t *p, size_t n, size_t start, size_t off)
{
	uint16_t s;

	if (start >= n || off + 2 > n - start)
		return -EPROTO;
	s = packet_csum_fold(packet_csum_add(0, p + start, n - start));
	p[start + off] = (uint8_t)(s >> 8);
	p[start + off + 1] = (uint8_t)s;
	return 0;
}

int tun_read_gso(struct tun *t, uint8_t *buf, size_t cap, size_t *len,
		 size_t *mss)
{
	struct virtio_net_hdr h;
	struct iovec iov[2] = {{&h, sizeof(h)}, {buf, cap}};
	ssize_t n;

	do
		n = readv(t->fd, iov, 2);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	if ((size_t)n < sizeof(h))
		return -EPROTO;
	*len = (size_t)n - sizeof(h);
	*mss = 0;
	if ((h.gso_type == VIRTIO_NET_HDR_GSO_TCPV4 ||
	     h.gso_type == VIRTIO_NET_HDR_GSO_TCPV6) && h.gso_size) {
		/* The TCP checksum stays partial: segmenting computes it. */
		*mss = h.gso_size;
		return 0;
	}
	if (h.gso_type != VIRTIO_NET_HDR_GSO_NONE)
		return -EPROTO;
	if (h.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM)
		return finish_csum(buf, *len, h.csum_start, h.csum_offset);
	return 0;
}

int tun_read(struct tun *t, uint8_t *buf, size_t cap, size_t *len)
{
	size_t mss;
	int rc = tun_read_gso(t, buf, cap, len, &mss);

	return rc == 0 && mss ? -EPROTO : rc;
}

int tun_enable_tso(struct tun *t, bool *tso6)
{
	*tso6 = true;
	if (ioctl(t->fd, TUNSETOFFLOAD,
		  TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6) == 0)
		return 0;
	/* A kernel that does not know TSO6 refuses the whole set: IPv4
	 * super-segments alone are still worth having. */
	*tso6 = false;
	if (ioctl(t->fd, TUNSETOFFLOAD, TUN_F_CSUM | TUN_F_TSO4) < 0)
		return -errno;
	return 0;
}

static int write_hdr(struct tun *t, const struct virtio_net_hdr *h,
		     const uint8_t *pkt, size_t len)
{
	struct iovec iov[2] = {{(void *)h, sizeof(*h)},
			       {(void *)pkt, len}};
	ssize_t n;

	do
		n = writev(t->fd, iov, 2);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	return (size_t)n == sizeof(*h) + len ? 0 : -EIO;
}

int tun_write(struct tun *t, const uint8_t *pkt, size_t len)
{
	static const struct virtio_net_hdr none = {0};

	return write_hdr(t, &none, pkt, len);
}

int tun_write_tcp_gso(struct tun *t, const uint8_t *pkt, size_t len,
		      bool v6, uint16_t hdr_len, uint16_t seg_size,
		      uint16_t csum_start, uint16_t csum_offset)
{
	struct virtio_net_hdr h = {
		.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
		.gso_type = v6 ? VIRTIO_NET_HDR_GSO_TCPV6
			       : VIRTIO_NET_HDR_GSO_TCPV4,
		.hdr_len = hdr_len,
		.gso_size = seg_size,
		.csum_start = csum_start,
		.csum_offset = csum_offset,
	};

	return write_hdr(t, &h, pkt, len);
}

int tun_cleanup_stale(const char *name)
{
	struct ifreq ifr;
	int fd = -1, rc = WEFT_ERR_INVAL;

	if (!name || !valid_ifname(name) || strchr(name, '%'))
		goto out;
	rc = WEFT_ERR_NOTFOUND;
	if (!if_nametoindex(name))
		goto out;
	fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		goto out;
	}
	/* Attaching works only for an idle TUN device: a TAP or any other
	 * kind of device gives EINVAL, one still in use EBUSY. */
	memset(&ifr, 0, sizeof(ifr));
	strcpy(ifr.ifr_name, name);
	ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		rc = errno == EBUSY  ? WEFT_ERR_BUSY :
		     errno == EINVAL ? WEFT_ERR_CONFLICT :
				       -errno;
		goto out;
	}
	/* Not persistent any more: closing our descriptor deletes it. */
	if (ioctl(fd, TUNSETPERSIST, 0) < 0) {
		rc = -errno;
		goto out;
	}
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	return rc;
}
