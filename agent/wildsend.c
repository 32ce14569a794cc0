/* Wildcard names to their connector: see wildsend.h. */
#include "agent/wildsend.h"

#include "shared/err.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct wildsend {
	int fd; /* -1 until the first send */
};

int wildsend_new(struct wildsend **out)
{
	struct wildsend *ws = malloc(sizeof(*ws));

	if (!ws)
		return WEFT_ERR_NOMEM;
	ws->fd = -1;
	*out = ws;
	return 0;
}

void wildsend_del(struct wildsend *ws)
{
	if (!ws)
		return;
	if (ws->fd >= 0)
		close(ws->fd);
	free(ws);
}

int wildsend_send(struct wildsend *ws, const struct map_peer *to,
		  const struct wildcard_entry *e, size_t n)
{
	uint8_t buf[WILDCARD_MSG_MAX];
	struct sockaddr_in sa;
	size_t i, k;
	int len;

	if (!to || to->ipv4.family != 4)
		return WEFT_ERR_NOTFOUND;
	if (ws->fd < 0) {
		ws->fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK |
					 SOCK_CLOEXEC, 0);
		if (ws->fd < 0)
			return -errno;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons(WILDCARD_PORT);
	memcpy(&sa.sin_addr, to->ipv4.b, 4);
	for (i = 0; i < n; i += k) {
		k = n - i < WILDCARD_MSG_ENTRIES ? n - i
						 : WILDCARD_MSG_ENTRIES;
		len = wildcard_msg_build(e + i, k, buf, sizeof(buf));
		if (len < 0)
			return len;
		if (sendto(ws->fd, buf, (size_t)len, 0,
			   (const struct sockaddr *)&sa, sizeof(sa)) < 0)
			return -errno;
	}
	return 0;
}
