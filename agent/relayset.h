/* The relays of the map as the agent uses them.
 *
 * relayset_target turns a map relay into a relay client target (the
 * address resolved, the pin checked). */
#ifndef WEFT_AGENT_RELAYSET_H
#define WEFT_AGENT_RELAYSET_H

#include "agent/map.h"
#include "agent/relayc.h"

/* Fills *t for r. Names are looked up with a blocking getaddrinfo (IPv4):
 * relay lists change rarely, and an address literal needs no lookup.
 * Returns 0, WEFT_ERR_INVAL (no name, no pin, no "host:port") or
 * WEFT_ERR_NOTFOUND (the name does not resolve). */
int relayset_target(const struct map_relay *r, struct relayc_target *t);

#endif
