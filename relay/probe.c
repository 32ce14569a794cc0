/* weft-relay-probe: a test and diagnostic client for weft-relay.
 *
 * It connects to a relay with a relay token and the relay's pinned key,
 * authenticates, and reports what happens as one JSON object per line on
 * stdout ("event" names the kind): the QAD address, AUTH_OK, frames and
 * signals sent and received, PEER_GONE notices, STUN answers, and how the
 * connection closed. Flags script what it does once authenticated:
 *
 *   --send-frames N --to NODE   send N relay frames (8-byte sequence
 *                               number + filler), one per --interval-us
 *   --recv-frames N             wait for N relay frames, check their order
 *   --signal-to NODE --signal-text TEXT   send one SIGNAL
 *   --expect-signals N          wait for N SIGNAL_FROM messages
 *   --stun                      ask the relay's STUN service from the same
 *                               socket and print the mapped address
 *   --stay                      stay connected when done, until the relay
 *                               closes or --timeout passes
 *   --reconnect                 reconnect with back-off after a close
 *
 * Exit status: 0 when every task completed, 3 when the connection closed
 * first, 4 on timeout, 2 for bad flags, 1 for other errors. */
#include "shared/clock.h"
#include "shared/conf.h"
#include "shared/err.h"
#include "shared/ident.h"
#include "shared/log.h"
#include "shared/loop.h"
#include "shared/quic.h"
#include "shared/rand.h"
#include "shared/relayconn.h"
#include "shared/stun.h"
#include "shared/token.h"
#include "shared/wire.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TICK_US 1000
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 2000
#define GONE_PRINT_MAX 5

struct flags {
	const char *relay, *pin, *token, *token_file, *bind, *key;
	const char *signal_text;
	int64_t send_frames, to, interval_us, frame_size, recv_frames;
	int64_t signal_to, expect_signals, timeout_ms;
	bool stun, stay, reconnect, no_auth;
};

struct probe {
	struct flags f;
	struct loop *loop;
	struct quic_endpoint *ep;
	struct relayconn *rc;
	struct ip_endpoint relay;
	uint8_t pin[IDENT_KEY_LEN];
	char *token;
	struct loop_timer *tick, *timeout, *retry, *finish;
	int64_t node;
	bool authed, tasks_started, signal_sent, stun_done, done;
	unsigned attempts;
	uint8_t stun_txid[STUN_TXID_LEN];
	/* sending */
	int64_t sent;
	int64_t send_start_us;
	uint64_t send_errors;
	/* receiving */
	int64_t received, lost, reordered;
	uint64_t next_seq;
	bool recv_reported;
	int64_t signals;
	uint64_t gone;
	int status;
};

static void emit(json_t *o)
{
	char *s;

	if (!o)
		return;
	s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	if (s) {
		printf("%s\n", s);
		fflush(stdout);
		free(s);
	}
	json_decref(o);
}

static json_t *event(const char *name)
{
	json_t *o = json_object();

	json_object_set_new(o, "event", json_string(name));
	return o;
}

static void set_int(json_t *o, const char *k, int64_t v)
{
	json_object_set_new(o, k, json_integer(v));
}

static void set_addr(json_t *o, const char *k, const struct ip_endpoint *e)
{
	char t[IP_ENDPOINT_STRLEN] = "?";

	ip_endpoint_format(e, t, sizeof(t));
	json_object_set_new(o, k, json_string(t));
}

static const char *close_name(uint64_t code)
{
	switch (code) {
	case WIRE_CLOSE_AUTH_REQUIRED: return "AUTH_REQUIRED";
	case WIRE_CLOSE_AUTH_FAILED: return "AUTH_FAILED";
	case WIRE_CLOSE_TOKEN_EXPIRED: return "TOKEN_EXPIRED";
	case WIRE_CLOSE_PROTOCOL_ERROR: return "PROTOCOL_ERROR";
	case WIRE_CLOSE_RATE_LIMITED: return "RATE_LIMITED";
	case WIRE_CLOSE_SHUTTING_DOWN: return "SHUTTING_DOWN";
	case WIRE_CLOSE_REPLACED: return "REPLACED";
	default: return "";
	}
}

static bool all_done(const struct probe *p)
{
	return p->sent >= p->f.send_frames &&
	       p->received >= p->f.recv_frames &&
	       p->signals >= p->f.expect_signals &&
	       (!p->f.signal_to || p->signal_sent) &&
	       (!p->f.stun || p->stun_done);
}

static void report_received(struct probe *p)
{
	json_t *o;

	if (p->recv_reported || !p->f.recv_frames)
		return;
	p->recv_reported = true;
	o = event("frames_received");
	set_int(o, "count", p->received);
	set_int(o, "lost", p->lost);
	set_int(o, "reordered", p->reordered);
	emit(o);
}

static void check_done(struct probe *p)
{
	if (p->done || !p->authed || !all_done(p))
		return;
	p->done = true;
	p->status = 0;
	emit(event("done"));
	if (!p->f.stay) {
		relayconn_close(p->rc, 0, "probe done");
		loop_timer_start(p->finish, 100000);
	}
}

static void send_frames(struct probe *p)
{
	uint8_t payload[WIRE_PAYLOAD_MAX];
	int64_t now = loop_now_us(p->loop), due;

	if (p->sent >= p->f.send_frames)
		return;
	memset(payload, 0xab, sizeof(payload));
	due = p->f.interval_us
		      ? (now - p->send_start_us) / p->f.interval_us + 1
		      : p->f.send_frames;
	/* Paced, not catching up: after a stall (a slow loop iteration) the
	 * sender falls behind instead of bursting into the relay's socket
	 * buffer. */
	if (p->f.interval_us) {
		int64_t cap = p->sent + TICK_US / p->f.interval_us + 1;

		if (due > cap) {
			p->send_start_us += (due - cap) * p->f.interval_us;
			due = cap;
		}
	}
	while (p->sent < p->f.send_frames && p->sent < due) {
		uint64_t seq = (uint64_t)p->sent;
		int i, r;

		for (i = 7; i >= 0; i--, seq >>= 8)
			payload[i] = (uint8_t)seq;
		r = relayconn_send_frame(p->rc, (uint64_t)p->f.to, payload,
					 (size_t)p->f.frame_size);
		if (r == -EAGAIN || r == -ENOBUFS)
			break; /* socket full: try again next tick */
		if (r < 0)
			p->send_errors++;
		p->sent++;
	}
	if (p->sent >= p->f.send_frames) {
		json_t *o = event("frames_sent");

		set_int(o, "count", p->sent);
		set_int(o, "errors", (int64_t)p->send_errors);
		emit(o);
		check_done(p);
	}
}

static void on_tick(struct loop_timer *t, void *ctx)
{
	struct probe *p = ctx;

	if (relayconn_active(p->rc) && p->authed)
		send_frames(p);
	if (p->sent < p->f.send_frames)
		loop_timer_start(t, TICK_US);
}

static void start_tasks(struct probe *p)
{
	uint8_t buf[STUN_REQUEST_LEN];

	if (p->f.signal_to && !p->signal_sent) {
		struct wire_msg m = {
			.type = WIRE_MSG_SIGNAL,
			.node = (uint64_t)p->f.signal_to,
			.data = (const uint8_t *)p->f.signal_text,
			.len = strlen(p->f.signal_text),
		};

		if (relayconn_send_msg(p->rc, &m) == 0) {
			json_t *o = event("signal_sent");

			set_int(o, "to", p->f.signal_to);
			emit(o);
			p->signal_sent = true;
		}
	}
	if (p->f.stun && !p->stun_done &&
	    rand_bytes(p->stun_txid, sizeof(p->stun_txid)) == 0 &&
	    stun_binding_request_build(p->stun_txid, buf, sizeof(buf)) > 0)
		quic_endpoint_send_raw(p->ep, &p->relay, buf, sizeof(buf));
	if (p->sent < p->f.send_frames && !p->tasks_started) {
		p->send_start_us = loop_now_us(p->loop);
		loop_timer_start(p->tick, 0);
	}
	p->tasks_started = true;
	check_done(p);
}

static void on_msg(const struct wire_msg *m, void *ctx)
{
	struct probe *p = ctx;
	json_t *o;

	switch (m->type) {
	case WIRE_MSG_AUTH_OK:
		p->node = (int64_t)m->node;
		o = event("auth_ok");
		set_int(o, "node", p->node);
		set_int(o, "time", (int64_t)m->time);
		emit(o);
		break;
	case WIRE_MSG_QAD:
		o = event("qad");
		set_addr(o, "addr", &m->addr);
		emit(o);
		if (!p->authed) {
			p->authed = true;
			p->attempts = 0;
			start_tasks(p);
		}
		break;
	case WIRE_MSG_SIGNAL_FROM:
		o = event("signal");
		set_int(o, "from", (int64_t)m->node);
		json_object_set_new(o, "text",
				    json_stringn_nocheck((const char *)m->data,
							 m->len));
		emit(o);
		p->signals++;
		check_done(p);
		break;
	case WIRE_MSG_PEER_GONE:
		o = event("peer_gone");
		set_int(o, "node", (int64_t)m->node);
		set_int(o, "reason", m->reason);
		json_object_set_new(o, "via", json_string("control"));
		emit(o);
		break;
	default:
		break;
	}
}

static void on_protocol_error(void *ctx)
{
	(void)ctx;
	emit(event("protocol_error"));
}

static void on_established(void *ctx)
{
	struct probe *p = ctx;

	emit(event("established"));
	if (p->f.no_auth)
		return;
	if (relayconn_auth(p->rc, p->token) < 0)
		relayconn_close(p->rc, WIRE_CLOSE_PROTOCOL_ERROR,
				"bad token text");
}

static void connect_relay(struct probe *p);

static void on_closed(const struct quic_close_info *i, bool silent,
		      void *ctx)
{
	struct probe *p = ctx;
	json_t *o = event("closed");
	bool again;

	set_int(o, "code", (int64_t)i->code);
	json_object_set_new(o, "name", json_string(i->app ? close_name(i->code)
							   : ""));
	json_object_set_new(o, "app", json_boolean(i->app));
	json_object_set_new(o, "remote", json_boolean(i->remote));
	json_object_set_new(o, "err", json_string(weft_errname(i->err)));
	json_object_set_new(o, "reason", json_string(i->reason));
	emit(o);
	(void)silent; /* no keep-alive here */
	p->authed = false;
	again = p->f.reconnect && (!p->done || p->f.stay) &&
		!(i->app && (i->code == WIRE_CLOSE_REPLACED ||
			     i->code == WIRE_CLOSE_AUTH_FAILED));
	if (again) {
		loop_timer_start(p->retry,
				 relayconn_backoff_ms(p->attempts++,
						      BACKOFF_MIN_MS,
						      BACKOFF_MAX_MS) * 1000);
		return;
	}
	if (!p->done)
		p->status = 3;
	loop_timer_start(p->finish, 0);
}

static void on_retry(struct loop_timer *t, void *ctx)
{
	connect_relay(ctx);
}

static void on_finish(struct loop_timer *t, void *ctx)
{
	struct probe *p = ctx;

	loop_stop(p->loop);
}

static void on_timeout(struct loop_timer *t, void *ctx)
{
	struct probe *p = ctx;
	json_t *o = event("timeout");

	set_int(o, "sent", p->sent);
	set_int(o, "received", p->received);
	set_int(o, "lost", p->lost);
	set_int(o, "reordered", p->reordered);
	set_int(o, "signals", p->signals);
	emit(o);
	if (!p->done)
		p->status = 4;
	loop_stop(p->loop);
}

static const struct relayconn_callbacks conn_cbs = {
	.on_established = on_established,
	.on_msg = on_msg,
	.on_protocol_error = on_protocol_error,
	.on_closed = on_closed,
};

static void connect_relay(struct probe *p)
{
	json_t *o;
	int r = relayconn_connect(p->rc);

	if (r < 0) {
		o = event("connect_failed");
		json_object_set_new(o, "err", json_string(weft_errname(r)));
		emit(o);
		p->status = 1;
		loop_stop(p->loop);
		return;
	}
	o = event("connecting");
	set_addr(o, "relay", &p->relay);
	set_int(o, "attempt", p->attempts);
	emit(o);
}

static void on_frame(struct probe *p, const struct wire_frame *f)
{
	uint64_t seq = 0;
	json_t *o;
	size_t i;

	if (f->type == WIRE_PEER_GONE) {
		if (++p->gone <= GONE_PRINT_MAX) {
			o = event("peer_gone");
			set_int(o, "node", (int64_t)f->node);
			set_int(o, "reason", f->reason);
			json_object_set_new(o, "via", json_string("frame"));
			emit(o);
		}
		return;
	}
	if (f->type != WIRE_RELAY_RECV)
		return;
	if (f->payload_len >= 8) {
		for (i = 0; i < 8; i++)
			seq = seq << 8 | f->payload[i];
	}
	if (seq == p->next_seq) {
		p->next_seq++;
	} else if (seq > p->next_seq) {
		p->lost += (int64_t)(seq - p->next_seq);
		p->next_seq = seq + 1;
	} else {
		p->reordered++;
	}
	p->received++;
	if (p->f.recv_frames && p->received >= p->f.recv_frames) {
		report_received(p);
		check_done(p);
	}
}

static void on_other(struct quic_endpoint *ep, const struct ip_endpoint *from,
		     const uint8_t *data, size_t len, void *ctx)
{
	struct probe *p = ctx;
	uint8_t txid[STUN_TXID_LEN];
	struct ip_endpoint mapped;
	struct wire_frame f;
	json_t *o;
	int r = relayconn_input(p->rc, from, data, len, &f);

	if (r == 1) {
		on_frame(p, &f);
		return;
	}
	/* A STUN answer from the relay: not a frame, same address. */
	if (r < 0 || wire_classify(data, len) != WIRE_KIND_STUN ||
	    stun_binding_response_parse(data, len, txid, &mapped) < 0 ||
	    memcmp(txid, p->stun_txid, sizeof(txid)) != 0 || p->stun_done)
		return;
	p->stun_done = true;
	o = event("stun");
	set_addr(o, "addr", &mapped);
	emit(o);
	check_done(p);
}

static int read_token(const char *path, char **out)
{
	char buf[TOKEN_MAX_LEN + 2];
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n < 0)
		return -EIO;
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' ||
			 buf[n - 1] == ' '))
		n--;
	if (n == 0 || n > TOKEN_MAX_LEN)
		return WEFT_ERR_PARSE;
	buf[n] = '\0';
	*out = strdup(buf);
	return *out ? 0 : WEFT_ERR_NOMEM;
}

int main(int argc, char **argv)
{
	struct probe p = {.status = 1};
	struct flags *f = &p.f;
	const struct conf_opt opts[] = {
		{"relay", CONF_STRING, &f->relay, NULL,
		 "the relay's UDP address, ADDR:PORT", 0, 0},
		{"pin", CONF_STRING, &f->pin, NULL,
		 "the relay's public key (base64, printed at relay start)", 0,
		 0},
		{"token", CONF_STRING, &f->token, NULL, "the relay token", 0,
		 0},
		{"token-file", CONF_STRING, &f->token_file, NULL,
		 "read the relay token from this file", 0, 0},
		{"key", CONF_STRING, &f->key, NULL,
		 "node key file (PEM); a fresh key when unset", 0, 0},
		{"bind", CONF_STRING, &f->bind, NULL,
		 "local UDP address (default: any address, any port)", 0, 0},
		{"send-frames", CONF_INT, &f->send_frames, "0",
		 "relay frames to send after AUTH", 0, 100000000},
		{"to", CONF_INT, &f->to, "0", "destination node of the frames",
		 0, INT64_MAX},
		{"interval-us", CONF_INT, &f->interval_us, "50",
		 "microseconds between frames (0: as fast as possible)", 0,
		 10000000},
		{"frame-size", CONF_INT, &f->frame_size, "64",
		 "payload bytes per frame", 8, WIRE_PAYLOAD_MAX},
		{"recv-frames", CONF_INT, &f->recv_frames, "0",
		 "relay frames to wait for", 0, 100000000},
		{"signal-to", CONF_INT, &f->signal_to, "0",
		 "send one SIGNAL to this node", 0, INT64_MAX},
		{"signal-text", CONF_STRING, &f->signal_text, "hello",
		 "the SIGNAL payload", 0, 0},
		{"expect-signals", CONF_INT, &f->expect_signals, "0",
		 "SIGNAL_FROM messages to wait for", 0, 1000000},
		{"stun", CONF_BOOL, &f->stun, NULL,
		 "send a STUN Binding request to the relay", 0, 0},
		{"stay", CONF_BOOL, &f->stay, NULL,
		 "stay connected when done", 0, 0},
		{"reconnect", CONF_BOOL, &f->reconnect, NULL,
		 "reconnect with back-off after a close", 0, 0},
		{"no-auth", CONF_BOOL, &f->no_auth, NULL,
		 "never send AUTH (tests the relay's auth timeout)", 0, 0},
		{"timeout", CONF_DURATION, &f->timeout_ms, "30s",
		 "give up after this long", 1, 86400000},
	};
	size_t nopts = sizeof(opts) / sizeof(opts[0]);
	struct quic_endpoint_options eo = {0};
	struct ident *id = NULL;
	struct conf *conf = NULL;
	struct conf_err cerr;
	int r;

	signal(SIGPIPE, SIG_IGN);
	log_init_from_env();
	if (conf_new(&conf) < 0)
		return 1;
	r = conf_parse(conf, opts, nopts, argc, argv, NULL, NULL, &cerr);
	if (r == CONF_HELP) {
		printf("usage: weft-relay-probe --relay ADDR:PORT --pin KEY "
		       "--token-file FILE [flags]\n\n");
		conf_usage(opts, nopts, stdout);
		p.status = 0;
		goto out;
	}
	p.status = 2;
	if (r < 0) {
		fprintf(stderr, "weft-relay-probe: %s\n", cerr.message);
		goto out;
	}
	if (!f->relay || ip_endpoint_parse(f->relay, &p.relay) < 0 ||
	    !f->pin || ident_pin_from_b64(f->pin, p.pin) < 0) {
		fprintf(stderr, "weft-relay-probe: --relay ADDR:PORT and "
				"--pin KEY are required\n");
		goto out;
	}
	if (f->send_frames && !f->to) {
		fprintf(stderr, "weft-relay-probe: --send-frames needs --to\n");
		goto out;
	}
	if (f->token_file)
		r = read_token(f->token_file, &p.token);
	else if (f->token)
		r = (p.token = strdup(f->token)) ? 0 : WEFT_ERR_NOMEM;
	else if (f->no_auth)
		r = (p.token = strdup("x")) ? 0 : WEFT_ERR_NOMEM;
	else
		r = WEFT_ERR_INVAL;
	if (r < 0) {
		fprintf(stderr, "weft-relay-probe: need a token (--token-file "
				"or --token): %s\n", weft_strerror(r));
		goto out;
	}
	if (f->bind) {
		if (ip_endpoint_parse(f->bind, &eo.bind) < 0 &&
		    ip_addr_parse(f->bind, &eo.bind.addr) < 0) {
			fprintf(stderr, "weft-relay-probe: bad --bind\n");
			goto out;
		}
	} else {
		eo.bind.addr.family = p.relay.addr.family;
	}
	p.status = 1;
	r = f->key ? ident_load(f->key, &id) : ident_generate(&id);
	if (r < 0) {
		fprintf(stderr, "weft-relay-probe: key: %s\n", weft_strerror(r));
		goto out;
	}
	if (loop_new(&p.loop) < 0)
		goto out;
	eo.id = id;
	eo.on_other = on_other;
	eo.ctx = &p;
	r = quic_endpoint_new(p.loop, &eo, &p.ep);
	if (r < 0) {
		fprintf(stderr, "weft-relay-probe: socket: %s\n",
			weft_strerror(r));
		goto out;
	}
	if (loop_timer_new(p.loop, on_tick, &p, &p.tick) < 0 ||
	    loop_timer_new(p.loop, on_timeout, &p, &p.timeout) < 0 ||
	    loop_timer_new(p.loop, on_retry, &p, &p.retry) < 0 ||
	    loop_timer_new(p.loop, on_finish, &p, &p.finish) < 0 ||
	    relayconn_new(p.loop, p.ep, false, &conn_cbs, &p, &p.rc) < 0)
		goto out;
	relayconn_set_relay(p.rc, &p.relay, p.pin);
	{
		struct ip_endpoint local;
		json_t *o = event("local");

		quic_endpoint_local(p.ep, &local);
		set_addr(o, "addr", &local);
		emit(o);
	}
	loop_timer_start(p.timeout, f->timeout_ms * 1000);
	connect_relay(&p);
	loop_run(p.loop);
	report_received(&p);
out:
	relayconn_del(p.rc);
	quic_endpoint_del(p.ep);
	loop_timer_del(p.tick);
	loop_timer_del(p.timeout);
	loop_timer_del(p.retry);
	loop_timer_del(p.finish);
	loop_del(p.loop);
	ident_del(id);
	free(p.token);
	conf_del(conf);
	return p.status;
}
