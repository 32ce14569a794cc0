/* Limits and fixed addresses of the map's "dns" part (docs/dns.md): the
 * controller checks its DNS settings against them and the agent refuses a
 * map part beyond them, so both sides agree on what fits. */
#ifndef WEFT_DNSLIMITS_H
#define WEFT_DNSLIMITS_H

/* The default mesh domain, reserved for Weft (docs/dns.md). */
#define DNS_DEFAULT_SUFFIX "weft.internal"
/* Split domains, upstreams per split domain and global, extra records. */
#define DNS_MAX_SPLIT 64
#define DNS_MAX_UPSTREAMS 8
#define DNS_MAX_RECORDS 512
/* The default port of an upstream given as a bare address. */
#define DNS_PORT 53
/* The agent's stub resolver: this IPv4 address, and the deployment's ULA
 * /48 with these low 32 bits (<ula48>::6464:6464). ipam never gives
 * either to a node. */
#define DNS_STUB_IPV4 "100.100.100.100"
#define DNS_STUB_V6_LOW 0x64646464u

#endif
