/* Private to stream mode (agent/streams*.c): the splice and table
 * bodies and the functions the stream files call across each other.
 * Nothing outside agent/streams*.c includes this.
 *
 *   streams.c       the splice core (both directions between the TCP
 *                   socket and the stream, the ends), the tunnel
 *                   callbacks, the idle tick, and the table
 *   streams_open.c  the opening side: our streams, their wait for the
 *                   peer's connection and its open reply, the hook
 *   streams_recv.c  the receiving side: the peer's streams, their
 *                   header, the verdict and the dial */
#ifndef WEFT_AGENT_STREAMS_INTERNAL_H
#define WEFT_AGENT_STREAMS_INTERNAL_H

#include "agent/streamcount.h"
#include "agent/streamgate.h"
#include "agent/streamhdr.h"
#include "agent/streams.h"
#include "shared/idmap.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct dataplane;
struct loop;
struct loop_io;
struct loop_timer;
struct map;
struct quic_conn;
struct streamname;
struct streamname_op;
struct tunnels;

#define UP_BUF 16384

enum sstate {
	S_NONE,       /* being set up or torn down */
	S_WAIT_CONN,  /* ours: waiting for the peer connection */
	S_HEADER,     /* theirs: reading the header */
	S_RESOLVING,  /* theirs: resolving a resource's name */
	S_CONNECTING, /* theirs: connecting to the service or resource */
	S_OPEN,       /* splicing */
};

struct splice {
	struct streams *s;
	struct splice *prev, *next; /* all splices */
	int64_t peer;
	struct quic_conn *c; /* NULL while waiting, and once it is gone */
	int64_t sid;         /* -1 until opened */
	bool remote;         /* the peer opened it */
	enum sstate st;
	int fd;              /* -1 once the TCP side is done */
	struct loop_io *io;
	/* ours: for the connection and the reply; theirs: S_RESOLVING and
	 * S_CONNECTING */
	int64_t deadline_us;
	/* ours: no open reply yet (counted in the table's nwaiting) */
	bool awaiting;
	streams_reply_fn on_reply; /* the hook, until it is called */
	void *reply_ctx;
	int reply_code;      /* the outcome it gets if the stream ends */
	char host[STREAMHDR_HOST_MAX + 1];
	uint16_t port;
	bool to_res;         /* theirs: to a resource we serve */
	struct streamname_op *lookup; /* S_RESOLVING */
	bool quic_done;      /* closed, reset, or its connection ended */
	bool any_data;       /* a stream byte arrived */
	int64_t active_us;   /* the last byte either way (or the start) */
	/* TCP -> stream */
	uint8_t up[UP_BUF];
	size_t up_len;
	bool tcp_eof, fin_sent;
	/* stream -> TCP: held stream bytes (at most the stream window) */
	uint8_t *down;
	size_t down_len, down_cap;
	bool rx_fin, wr_shut;
	/* header bytes (S_HEADER) */
	uint8_t hdr[STREAMHDR_MAX];
	size_t hlen;
	struct streamcount *counts; /* its forward's, or NULL */
	bool opened;  /* counted as opened with its peer */
	bool failed;  /* ours, refused by the peer after it opened */
};

/* Streams of one peer by stream id, and how many the peer has. */
struct speer {
	struct idmap bysid; /* sid + 1 -> struct splice */
	unsigned n;
};

struct streams {
	struct loop *loop;
	struct dataplane *dp;
	struct tunnels *t;
	const struct map *map;
	struct idmap peers; /* peer id -> struct speer */
	struct streamcount_peers pc;
	struct splice *all;
	struct loop_timer *wait_tm;
	unsigned nwaiting; /* splices awaiting their reply */
	struct streams_limits lim;
	struct loop_timer *idle_tm;
	struct streamname *names; /* resources' names we resolve */
	/* Inside our own call into a connection (not from its callbacks),
	 * which may end it at once (a failed write): splices its end
	 * (on_conn_gone) takes are swept afterwards, not freed under us. */
	int busy;
	struct streams_stats st;
	struct streamgate gate;
};

/* streams.c */

/* The peer's streams, made if make (NULL: out of memory), or NULL. */
struct speer *streams_speer(struct streams *s, int64_t peer, bool make);
/* Counts sp as opened with its peer (and its forward's). */
void splice_count_open(struct splice *sp);
/* Counts ours as failed. */
void splice_count_failed(struct splice *sp);
/* A new splice with TCP socket fd (-1: none yet), or NULL: out of
 * memory, or over a limit (counted). */
struct splice *splice_new(struct streams *s, int64_t peer, int fd);
void splice_free(struct splice *sp);
/* Ends the TCP side: a reset or an orderly close, or the hook. */
void splice_tcp_close(struct splice *sp, bool reset);
/* Resets both sides; returns whether sp was freed. */
bool splice_abort(struct splice *sp, uint64_t code);
/* The socket's events for sp's state. */
void splice_io_update(struct splice *sp);
/* Held stream bytes to the socket; false when sp was freed. */
bool splice_push_down(struct splice *sp);
/* Closes a TCP side done both ways, frees sp once all is done. */
void splice_maybe_done(struct splice *sp);
/* Holds stream bytes for the socket: 0 or WEFT_ERR_NOMEM. */
int splice_down_append(struct splice *sp, const uint8_t *d, size_t len);
/* Watches sp's socket (no events until splice_io_update). */
int splice_watch(struct splice *sp);
/* TCP keepalives on a splice's socket. */
void splice_keepalive(int fd);
/* Entering and leaving our own calls into connections (see busy). */
void streams_enter(struct streams *s);
void streams_leave(struct streams *s);

/* streams_open.c */

/* The peer's open reply to ours; false when sp was freed. */
bool splice_reply_input(struct splice *sp, uint8_t b);
/* The wait timer (ctx is the table): opens waiting streams, times out
 * their connections and replies. */
void streams_wait_tick(struct loop_timer *tm, void *ctx);

/* streams_recv.c */

/* Header bytes of a stream the peer opened. */
void splice_header_input(struct splice *sp, const uint8_t *d, size_t len);
/* The dial's socket connected (or failed). */
void splice_connected(struct splice *sp);
/* A dial that failed, or took longer than STREAMS_DIAL_MS. */
void splice_dial_fail(struct splice *sp);

#endif
