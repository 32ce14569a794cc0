/* IPv4/IPv6 addresses, prefixes (CIDR) and endpoints (address + port).
 *
 * These are plain value types: copy them, compare them, keep them in
 * arrays. Parsers are strict because their input is untrusted (API request
 * bodies, agent reports): no leading zeros in IPv4 octets, no zone ids, no
 * surrounding spaces, nothing after the value. Formatters write the
 * canonical form (RFC 5952 for IPv6), so format(parse(x)) is a stable key.
 *
 * Every parsed or formatted address has its unused bytes zeroed (b[4..15]
 * for IPv4), so memcmp on whole structs is safe for values produced here. */
#ifndef WEFT_IP_H
#define WEFT_IP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* Buffer sizes including the terminating NUL. */
#define IP_ADDR_STRLEN 46     /* ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255 */
#define IP_PREFIX_STRLEN 50   /* address + "/128" */
#define IP_ENDPOINT_STRLEN 54 /* "[" address "]:65535" */

struct ip_addr {
	uint8_t family; /* 4 or 6 */
	uint8_t b[16];  /* network byte order; IPv4 in b[0..3] */
};

struct ip_prefix {
	struct ip_addr addr;
	uint8_t len; /* 0..32 or 0..128 */
};

struct ip_endpoint {
	struct ip_addr addr;
	uint16_t port; /* host byte order */
};

/* ip_prefix_parse flags. */
#define IP_PREFIX_STRICT 0x1u    /* reject host bits set ("10.0.0.1/8") */
#define IP_PREFIX_BARE_ADDR 0x2u /* accept "10.0.0.1" as 10.0.0.1/32 */

/* Parses a dotted-quad IPv4 or an IPv6 address (with "::" and a trailing
 * embedded IPv4 such as "::ffff:1.2.3.4"). Returns 0, or WEFT_ERR_PARSE
 * for anything else, including leading zeros in an IPv4 octet, zone ids
 * ("fe80::1%eth0") and trailing characters. IPv4-mapped IPv6 stays IPv6
 * (see ip_addr_unmap). */
int ip_addr_parse(const char *s, struct ip_addr *out);

/* Writes the canonical text of a into buf (n bytes, IP_ADDR_STRLEN is
 * always enough). IPv6 follows RFC 5952: lower case, no leading zeros, the
 * longest run of two or more zero groups as "::", IPv4-mapped addresses in
 * mixed notation. Returns 0, WEFT_ERR_INVAL for an unknown family, or
 * WEFT_ERR_TOOBIG when buf is too small (buf then untouched). */
int ip_addr_format(const struct ip_addr *a, char *buf, size_t n);

/* Total order: all IPv4 before all IPv6, then numerically. Returns <0, 0
 * or >0. Only the bytes of the family are compared. */
int ip_addr_cmp(const struct ip_addr *a, const struct ip_addr *b);

/* True when a and b are the same address of the same family. */
bool ip_addr_eq(const struct ip_addr *a, const struct ip_addr *b);

/* Turns an IPv4-mapped IPv6 address (::ffff:a.b.c.d) into the IPv4 address
 * in place; leaves any other address alone. */
void ip_addr_unmap(struct ip_addr *a);

/* a + 1 into *out. Returns 0, WEFT_ERR_RANGE when a is the last address of
 * its family, WEFT_ERR_INVAL for an unknown family. */
int ip_addr_next(const struct ip_addr *a, struct ip_addr *out);

/* RFC 1918, CGNAT 100.64.0.0/10 and IPv6 ULA fc00::/7. IPv4-mapped IPv6
 * addresses are judged by their IPv4 address (same for the two below). */
bool ip_addr_is_private(const struct ip_addr *a);

/* 127.0.0.0/8 and ::1. */
bool ip_addr_is_loopback(const struct ip_addr *a);

/* 169.254.0.0/16 and fe80::/10. */
bool ip_addr_is_link_local(const struct ip_addr *a);

/* Parses "address/len". The length is decimal without leading zeros and at
 * most 32 or 128. Without IP_PREFIX_STRICT host bits are kept as written
 * (ip_prefix_mask clears them). Returns 0, WEFT_ERR_PARSE for bad syntax,
 * WEFT_ERR_RANGE for a length beyond the family's size, WEFT_ERR_INVAL for
 * host bits set under IP_PREFIX_STRICT. */
int ip_prefix_parse(const char *s, struct ip_prefix *out, unsigned flags);

/* Writes "address/len" (IP_PREFIX_STRLEN is always enough). Returns 0,
 * WEFT_ERR_INVAL for a bad family or length, WEFT_ERR_TOOBIG when buf is
 * too small (buf then untouched). */
int ip_prefix_format(const struct ip_prefix *p, char *buf, size_t n);

/* Clears the host bits of p (10.1.2.3/8 becomes 10.0.0.0/8). */
void ip_prefix_mask(struct ip_prefix *p);

/* True when a lies in p. False when the families differ or p is invalid.
 * Host bits set in p are ignored. */
bool ip_prefix_contains(const struct ip_prefix *p, const struct ip_addr *a);

/* True when every address of inner lies in outer (equal prefixes count). */
bool ip_prefix_contains_prefix(const struct ip_prefix *outer,
			       const struct ip_prefix *inner);

/* True when a and b share at least one address. */
bool ip_prefix_overlaps(const struct ip_prefix *a, const struct ip_prefix *b);

/* The n-th address of p (n = 0 is the network address) into *out.
 * Returns 0, WEFT_ERR_RANGE when n is not below the prefix's size,
 * WEFT_ERR_INVAL for an invalid prefix. */
int ip_prefix_nth(const struct ip_prefix *p, uint64_t n, struct ip_addr *out);

/* Finds a free address in pool: the first address after `after` (NULL, or
 * an address outside the usable range, means the start of the pool) for
 * which in_use(address, ctx) returns false, wrapping around once. The
 * network address is never handed out, nor the IPv4 broadcast address,
 * except in pools of one or two addresses (/32, /31, /128, /127) where
 * every address is usable. At most max_probe candidates are tried. Returns
 * 0 with *out set, WEFT_ERR_EXHAUSTED when no free address was found,
 * WEFT_ERR_INVAL for an invalid pool, a NULL in_use or max_probe 0. */
int ip_alloc_next(const struct ip_prefix *pool, const struct ip_addr *after,
		  bool (*in_use)(const struct ip_addr *a, void *ctx), void *ctx,
		  uint64_t max_probe, struct ip_addr *out);

/* Parses len bytes of a port range: "443" (lo = hi) or "8000-8100",
 * decimal ports 1..65535 without sign or leading zeros, lo <= hi.
 * Returns 0 (lo and hi set), WEFT_ERR_PARSE for bad syntax, WEFT_ERR_RANGE
 * for a port outside 1..65535 or lo > hi. */
int ip_port_range_parse(const char *s, size_t len, uint16_t *lo,
			uint16_t *hi);

/* Parses "1.2.3.4:51820" or "[2001:db8::1]:443". IPv6 needs brackets,
 * IPv4 must not have them. The port is decimal without leading zeros.
 * Returns 0, WEFT_ERR_PARSE for bad syntax, WEFT_ERR_RANGE for a port
 * outside 1..65535. */
int ip_endpoint_parse(const char *s, struct ip_endpoint *out);

/* Like ip_endpoint_parse, but a bare address ("10.1.0.53", "fd00::53",
 * no brackets) is also accepted and gets port def (e.g. 53 for a DNS
 * upstream). Same return values. */
int ip_endpoint_parse_port(const char *s, uint16_t def,
			   struct ip_endpoint *out);

/* Writes "1.2.3.4:80" or "[::1]:80" (IP_ENDPOINT_STRLEN is always enough).
 * Returns 0, WEFT_ERR_INVAL for an unknown family, WEFT_ERR_TOOBIG when
 * buf is too small (buf then untouched). */
int ip_endpoint_format(const struct ip_endpoint *e, char *buf, size_t n);

/* Converts an AF_INET or AF_INET6 socket address; IPv4-mapped IPv6 becomes
 * IPv4, and an IPv6 scope id is dropped. Port 0 is passed through.
 * Returns 0, WEFT_ERR_INVAL when len is too short for the family,
 * WEFT_ERR_UNSUPPORTED for other families. */
int ip_endpoint_from_sockaddr(const struct sockaddr *sa, socklen_t len,
			      struct ip_endpoint *out);

/* Fills *ss (zeroed first) and *len for e. Returns 0, or WEFT_ERR_INVAL
 * for an unknown family. */
int ip_endpoint_to_sockaddr(const struct ip_endpoint *e,
			    struct sockaddr_storage *ss, socklen_t *len);

#endif
