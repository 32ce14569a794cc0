/* Back-off of a listening socket that cannot take its connections: when
 * accept4 fails for want of descriptors or memory (EMFILE, ENFILE,
 * ENOBUFS, ENOMEM), the connection stays queued and the level-triggered
 * listener would wake the loop again at once, spinning a core until a
 * descriptor frees up. Instead the listener is not watched for
 * LISTENPAUSE_MIN_MS, then tried again; each further failure doubles the
 * pause up to LISTENPAUSE_MAX_MS. The first pause of an episode (until an
 * accept or a retry finds the queue empty) is logged once
 * (event=listener_paused listen=... err="..."), its end too
 * (event=listener_resumed pauses=N); every pause is counted.
 *
 * Runs on the loop thread. */
#ifndef WEFT_AGENT_LISTENPAUSE_H
#define WEFT_AGENT_LISTENPAUSE_H

#include <stdint.h>

#define LISTENPAUSE_MIN_MS 100
#define LISTENPAUSE_MAX_MS 1000

struct loop;
struct loop_io;
struct listenpause;

/* A back-off for the listener io on socket fd (borrowed: they outlive
 * p; io is watched for LOOP_READ when not paused), named what in the
 * logs (copied). Returns 0 and *out or WEFT_ERR_NOMEM. */
int listenpause_new(struct loop *l, struct loop_io *io, int fd,
		    const char *what, struct listenpause **out);

/* Stops the timer and frees p. NULL is fine. */
void listenpause_del(struct listenpause *p);

/* The next connection on the listener (non-blocking, close-on-exec), or
 * -1 when there is none to take now: the queue is empty (an episode
 * ends), or accept4 failed otherwise and the listener is paused. EINTR
 * and ECONNABORTED (a connection reset in the queue) are tried again.
 * Call it until -1 from the listener's callback. */
int listenpause_accept(struct listenpause *p);

/* Pauses so far. NULL p: 0. */
uint64_t listenpause_count(const struct listenpause *p);

#endif
