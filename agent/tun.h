/* The agent's TUN device: a layer-3 interface whose packets the agent reads
 * and writes (no link header, no packet-info prefix). Configuration goes
 * through rtnetlink, never through external tools. The Linux version is
 * agent/tun_linux.c; other systems get their own file behind this header.
 *
 * The device exists exactly as long as the struct tun: it is not made
 * persistent, so the kernel removes it (with its addresses and routes)
 * when the descriptor closes, also when the process crashes. Every call
 * needs CAP_NET_ADMIN. See docs/internals/dataplane.md for the MTU and
 * address/route layout the agent uses. */
#ifndef WEFT_AGENT_TUN_H
#define WEFT_AGENT_TUN_H

#include "shared/ip.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The default MTU: IPv6's minimum link MTU, so the mesh IPv6 address can
 * live on the device at all (Linux drops IPv6 from links below 1280). One
 * packet of this size needs a 1320-byte QUIC UDP payload; PMTUD gets there
 * on any path with a 1400-byte MTU or more. */
#define TUN_MTU_DEFAULT 1280

/* The largest IP packet that fits one DATAGRAM frame before PMTUD: 1200
 * (QUIC's minimum UDP payload) minus the short header (1 + 16-byte DCID +
 * up to 4 packet-number bytes), the AEAD tag (16) and the DATAGRAM frame's
 * type and length (1 + 2): 1200 - 40. Equal to quic_conn_datagram_max()
 * of a fresh connection. */
#define TUN_MTU_QUIC_MIN 1160

struct tun;

/* Creates a TUN device called name (at most 15 bytes; NULL or "" lets the
 * kernel pick "weft%d") and opens it non-blocking and close-on-exec. The
 * device starts down, without addresses. Returns 0, WEFT_ERR_INVAL for a
 * bad name, WEFT_ERR_EXISTS when a device of that name exists (see
 * tun_cleanup_stale), WEFT_ERR_NOMEM, or -errno (-EPERM without
 * CAP_NET_ADMIN, -ENOENT without /dev/net/tun). */
int tun_new(const char *name, struct tun **out);

/* Closes the device, which the kernel then deletes with its addresses and
 * routes. Accepts NULL. */
void tun_del(struct tun *t);

/* The device's name (valid while t lives), interface index, and the
 * descriptor to poll for reading (owned by t). */
const char *tun_name(const struct tun *t);
int tun_ifindex(const struct tun *t);
int tun_fd(const struct tun *t);

/* Sets the MTU (68..65535). Returns 0, WEFT_ERR_RANGE, or -errno. */
int tun_set_mtu(struct tun *t, unsigned mtu);

/* Brings the device up or down. Returns 0 or -errno. */
int tun_set_up(struct tun *t, bool up);

/* Adds (or refreshes) address p->addr with prefix length p->len; IPv6
 * addresses skip duplicate address detection so they work at once.
 * Returns 0, WEFT_ERR_INVAL for a bad prefix, or -errno (-EINVAL for IPv6
 * when the MTU is below 1280). */
int tun_add_addr(struct tun *t, const struct ip_prefix *p);

/* Waits until a (an address of the device) is a usable local address:
 * the kernel installs the local route of an IPv6 address from a work
 * queue after the device is up, so packets written to the TUN right after
 * tun_set_up can be dropped for a moment. Blocks (polls every 5 ms), so
 * call it while setting up, not from the event loop. Returns 0,
 * WEFT_ERR_TIMEOUT after timeout_ms, WEFT_ERR_INVAL. */
int tun_wait_local(struct tun *t, const struct ip_addr *a, int timeout_ms);

/* Removes an address. Returns 0, WEFT_ERR_INVAL, or -errno
 * (-EADDRNOTAVAIL when it is not there). */
int tun_del_addr(struct tun *t, const struct ip_prefix *p);

/* Adds (add) or removes an address for the host's own use on the device
 * with index ifindex (agent/dnshost.c: the DNS stub's): the kernel never
 * picks it as the source of packets to other destinations, which keep
 * the mesh address (IPv4: scope host; IPv6: deprecated, preferred
 * lifetime 0, valid forever). Returns as tun_add_addr. */
int tun_addr_local_only(int ifindex, const struct ip_prefix *p, bool add);

/* Adds a route for dst (host bits are ignored) through the device in the
 * main table. The device must be up. Returns 0, WEFT_ERR_INVAL, or -errno
 * (-EEXIST when that route exists already, through any device: routes
 * are never taken over silently). */
int tun_add_route(struct tun *t, const struct ip_prefix *dst);

/* Removes the route for dst through the device. Returns 0,
 * WEFT_ERR_INVAL, or -errno (-ESRCH when there is no such route). */
int tun_del_route(struct tun *t, const struct ip_prefix *dst);

/* Reads one packet into buf (cap bytes; at least the MTU, or the packet is
 * cut short). Returns 0 with *len set, -EAGAIN when none is waiting,
 * -EPROTO for a packet the device should not have produced (GSO, bad
 * checksum offsets: skip it), or another -errno. */
int tun_read(struct tun *t, uint8_t *buf, size_t cap, size_t *len);

/* Lets the kernel hand over TCP super-segments (TSO) over IPv4 and IPv6
 * and packets with a partial checksum: read them with tun_read_gso. A
 * kernel that refuses IPv6 TSO gets IPv4 TSO alone: *tso6 says which.
 * Returns 0 or -errno (the device then stays without offloads). */
int tun_enable_tso(struct tun *t, bool *tso6);

/* Like tun_read, but a TCP super-segment over IPv4 or IPv6 (after
 * tun_enable_tso) is returned as it is with *mss > 0: its TCP checksum
 * field holds the pseudo-header sum, and gro_split_tcp turns it into
 * packets. *mss is 0 for an ordinary packet (whose checksum is
 * complete). Other GSO types (UDP, TCP with ECN) give -EPROTO. */
int tun_read_gso(struct tun *t, uint8_t *buf, size_t cap, size_t *len,
		 size_t *mss);

/* Writes one IP packet to the kernel, as if it arrived on the device.
 * Returns 0, or -errno (-EAGAIN when the kernel is out of buffers, -EINVAL
 * for a packet it cannot take). */
int tun_write(struct tun *t, const uint8_t *pkt, size_t len);

/* Writes a TCP GSO packet (a coalesced run, agent/gro.h), over IPv6 when
 * v6, else over IPv4: the kernel treats it as segments of seg_size
 * payload bytes after hdr_len header bytes, with the TCP checksum to be
 * completed from csum_start (the field at csum_start + csum_offset holds
 * the pseudo-header sum). Returns like tun_write. */
int tun_write_tcp_gso(struct tun *t, const uint8_t *pkt, size_t len,
		      bool v6, uint16_t hdr_len, uint16_t seg_size,
		      uint16_t csum_start, uint16_t csum_offset);

/* Removes a TUN device called name that an earlier run left behind (a
 * persistent one, e.g. from an older version or a crash with an inherited
 * descriptor). Only TUN devices are touched. Returns 0 when it was
 * removed, WEFT_ERR_NOTFOUND when there is no such device, WEFT_ERR_BUSY
 * when a running process still holds it, WEFT_ERR_CONFLICT when the name
 * belongs to a device that is not a TUN, WEFT_ERR_INVAL, or -errno. */
int tun_cleanup_stale(const char *name);

#endif
