/* stubd: the agent's DNS stub (agent/dnsstub.h) alone on an event loop,
 * for tests/bench/dns/run.sh: an empty map (so every name is forwarded),
 * the host resolver given on the command line.
 *
 *   stubd LISTEN_ADDR:PORT UPSTREAM_ADDR:PORT
 *
 * Runs until SIGTERM or SIGINT. */
#include "agent/dnsstub.h"
#include "agent/map.h"
#include "shared/loop.h"

#include <signal.h>
#include <stdio.h>

static void on_signal(int signo, void *ctx)
{
	(void)signo;
	loop_stop(ctx);
}

int main(int argc, char **argv)
{
	struct ip_endpoint listen, up;
	struct loop *loop = NULL;
	struct map *map = NULL;
	struct dnsstub *stub = NULL;
	struct dnsstub_cfg cfg = {.listen = &listen, .nlisten = 1,
				  .host = &up, .nhost = 1};
	int rc = 1;

	if (argc != 3 || ip_endpoint_parse(argv[1], &listen) < 0 ||
	    ip_endpoint_parse(argv[2], &up) < 0) {
		fprintf(stderr, "usage: stubd LISTEN:PORT UPSTREAM:PORT\n");
		return 2;
	}
	if (loop_new(&loop) < 0 || map_new(&map) < 0)
		goto out;
	cfg.loop = loop;
	cfg.map = map;
	if (dnsstub_new(&cfg, &stub) < 0) {
		perror("stubd: listen");
		goto out;
	}
	loop_signal(loop, SIGTERM, on_signal, loop);
	loop_signal(loop, SIGINT, on_signal, loop);
	printf("listening\n");
	fflush(stdout);
	rc = loop_run(loop) < 0;
out:
	dnsstub_del(stub);
	map_del(map);
	loop_del(loop);
	return rc;
}
