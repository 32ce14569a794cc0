/* Fuzzes agent/paths: the input is a script of events (candidates, probes
 * with valid or forged txids, replies to probes the manager really sent,
 * migration results, PTOs, acks, relay flaps, timer runs, time jumps,
 * backwards too) fed to a client and a server manager. Invariants, checked
 * after every call: the wake-up time is never before `now`; a side never
 * has more than one migration outstanding (a MIGRATE action while one
 * awaits its result aborts); the server never migrates; one call's actions
 * always fit the queue; a direct or migrating manager has a usable
 * address. */
#include "agent/paths.h"
#include "shared/err.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint8_t key[PATHS_KEY_LEN] = {0x42};

static const char *const addrs[] = {
	"203.0.113.1:4000", "198.51.100.2:5000", "198.51.100.2:6000",
	"192.168.1.20:5000", "10.0.0.5:5000",    "[2001:db8::1]:5000",
	"[fd00::2]:5000",    "169.254.1.1:5000", "127.0.0.1:5000",
	"192.168.1.10:4000", "[::ffff:1.2.3.4]:7", "100.64.0.1:9",
};
#define NADDR (sizeof(addrs) / sizeof(addrs[0]))

struct side {
	struct paths *p;
	uint64_t id, peer;
	bool client;
	bool outstanding;
	uint8_t last_probe[WIRE_TXID_LEN];
	bool have_probe;
	uint64_t now;  /* the fuzzer's clock */
	uint64_t last; /* the largest `now` the manager was given */
};

struct in {
	const uint8_t *d;
	size_t n;
};

static uint8_t byte(struct in *in)
{
	uint8_t b = 0;

	if (in->n > 0) {
		b = in->d[0];
		in->d++;
		in->n--;
	}
	return b;
}

static struct ip_endpoint addr(struct in *in)
{
	struct ip_endpoint e;

	if (ip_endpoint_parse(addrs[byte(in) % NADDR], &e) != 0)
		abort();
	return e;
}

static void check(struct side *s)
{
	struct paths_action a;
	struct ip_endpoint d;
	enum paths_state st;

	if (paths_next_wakeup(s->p) < s->last)
		abort();
	while (paths_next_action(s->p, &a)) {
		switch (a.type) {
		case PATHS_MIGRATE_DIRECT:
		case PATHS_MIGRATE_RELAY:
			if (!s->client || s->outstanding)
				abort();
			s->outstanding = true;
			break;
		case PATHS_SEND_PROBE:
			memcpy(s->last_probe, a.txid, WIRE_TXID_LEN);
			s->have_probe = true;
			break;
		case PATHS_SIGNAL_USE:
		case PATHS_SIGNAL_LOST:
			if (s->client)
				abort();
			break;
		}
	}
	if (paths_dropped_actions(s->p) != 0)
		abort();
	if (s->outstanding != paths_migration_pending(s->p))
		abort();
	memset(&d, 0, sizeof(d));
	st = paths_state(s->p, &d, NULL);
	if ((st == PATHS_DIRECT || st == PATHS_MIGRATING) &&
	    ((d.addr.family != 4 && d.addr.family != 6) || d.port == 0))
		abort();
}

static void step(struct side *s, struct in *in)
{
	struct ip_endpoint e[4], f, o;
	uint8_t op = byte(in), txid[WIRE_TXID_LEN];
	size_t n;
	bool called = true; /* the manager was handed s->now */

	switch (op % 16) {
	case 0:
		s->now += byte(in) * 10u;
		called = false;
		break;
	case 1:
		s->now += (uint64_t)byte(in) * 1000u;
		called = false;
		break;
	case 2:
		n = byte(in) % 5;
		for (size_t i = 0; i < n; i++)
			e[i] = addr(in);
		paths_set_remote(s->p, e, n, s->now);
		break;
	case 3:
		n = byte(in) % 5;
		for (size_t i = 0; i < n; i++)
			e[i] = addr(in);
		paths_on_call(s->p, e, n, s->now);
		break;
	case 4:
		n = byte(in) % 5;
		for (size_t i = 0; i < n; i++)
			e[i] = addr(in);
		paths_set_local(s->p, e, n);
		called = false;
		break;
	case 5: /* a probe, valid unless the fuzzer flips a bit */
		f = addr(in);
		paths_txid(key, s->peer, s->id, byte(in), txid);
		txid[byte(in) % WIRE_TXID_LEN] ^= byte(in) & 1;
		paths_on_probe(s->p, &f, txid, s->peer, s->now);
		break;
	case 6: /* a reply to the last probe we saw this side send */
		if (!s->have_probe) {
			called = false;
			break;
		}
		f = addr(in);
		o = addr(in);
		paths_on_reply(s->p, &f, s->last_probe, s->peer, &o, s->now);
		break;
	case 7: /* a reply with arbitrary bytes */
		f = addr(in);
		o = addr(in);
		for (size_t i = 0; i < WIRE_TXID_LEN; i++)
			txid[i] = byte(in);
		paths_on_reply(s->p, &f, txid, byte(in) % 3, &o, s->now);
		break;
	case 8:
		/* Whatever was outstanding has its result now. */
		s->outstanding = false;
		paths_on_migrated(s->p, byte(in) & 1, s->now);
		break;
	case 9:
		f = addr(in);
		paths_on_peer_migrated(s->p, byte(in) & 1, &f, s->now);
		break;
	case 10:
		paths_on_pto(s->p, byte(in) % 6, s->now);
		break;
	case 11:
		paths_on_ack(s->p, s->now);
		break;
	case 12:
		paths_on_relay(s->p, byte(in) & 1, s->now);
		break;
	case 13:
		f = addr(in);
		paths_on_use(s->p, &f, s->now);
		break;
	case 14:
		if (byte(in) & 1)
			paths_on_lost(s->p, s->now);
		else
			paths_set_key(s->p, key, s->now);
		break;
	default:
		/* Time going backwards must not break the clock. */
		if (byte(in) & 1) {
			s->now = paths_next_wakeup(s->p);
			if (s->now == UINT64_MAX)
				s->now = 1000000;
		} else if (s->now > 100) {
			paths_on_timer(s->p, s->now - 100);
			if (s->now - 100 > s->last)
				s->last = s->now - 100;
			check(s);
		}
		paths_on_timer(s->p, s->now);
		break;
	}
	/* The manager keeps the largest `now` it saw. */
	if (called && s->now > s->last)
		s->last = s->now;
	check(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct side s[2] = {
		{.id = 1, .peer = 2, .client = true, .now = 1000000, .last = 1000000},
		{.id = 2, .peer = 1, .client = false, .now = 1000000, .last = 1000000},
	};
	struct in in = {data, size};

	if (paths_new(1, 2, s[0].now, &s[0].p) != 0 ||
	    paths_new(2, 1, s[1].now, &s[1].p) != 0)
		abort();
	paths_set_key(s[0].p, key, s[0].now);
	paths_set_key(s[1].p, key, s[1].now);
	check(&s[0]);
	check(&s[1]);
	while (in.n > 0) {
		struct side *x = &s[byte(&in) & 1];

		step(x, &in);
	}
	paths_del(s[0].p);
	paths_del(s[1].p);
	return 0;
}
