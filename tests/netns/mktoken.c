/* mktoken: controller token keys and relay tokens for tests and
 * benchmarks that run weft-relay without a controller.
 *
 *   mktoken keygen PRIV PUB        write a fresh ES256 key pair (PEM; the
 *                                  private key 0600)
 *   mktoken sign PRIV NODE [TTL]   print a relay token for node NODE,
 *                                  valid TTL seconds (default 3600)
 *
 * Exit status: 0 done, 1 error, 2 usage. */
#include "shared/err.h"
#include "shared/token.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int write_file(const char *path, const char *text, mode_t mode)
{
	size_t len = strlen(text);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);

	if (fd < 0)
		return -errno;
	if (write(fd, text, len) != (ssize_t)len) {
		close(fd);
		return -EIO;
	}
	return close(fd) == 0 ? 0 : -errno;
}

static int read_file(const char *path, char **out)
{
	FILE *f = fopen(path, "re");
	char *buf;
	long n;

	if (!f)
		return -errno;
	if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 ||
	    fseek(f, 0, SEEK_SET) != 0) {
		fclose(f);
		return -EIO;
	}
	buf = calloc(1, (size_t)n + 1);
	if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n) {
		free(buf);
		fclose(f);
		return buf ? -EIO : WEFT_ERR_NOMEM;
	}
	fclose(f);
	*out = buf;
	return 0;
}

static int keygen(const char *priv_path, const char *pub_path)
{
	char *priv = NULL, *pub = NULL;
	int r;

	r = token_keygen(&priv, &pub);
	if (r == 0)
		r = write_file(priv_path, priv, 0600);
	if (r == 0)
		r = write_file(pub_path, pub, 0644);
	token_key_free(priv);
	free(pub);
	return r;
}

static int sign(const char *priv_path, const char *node, const char *ttl)
{
	struct token_claims c = {0};
	char *priv = NULL, *tok = NULL, *end;
	int r;

	c.node_id = strtoll(node, &end, 10);
	if (*end || c.node_id <= 0)
		return WEFT_ERR_INVAL;
	c.iat = (int64_t)time(NULL);
	c.exp = c.iat + (ttl ? strtoll(ttl, NULL, 10) : 3600);
	r = read_file(priv_path, &priv);
	if (r == 0)
		r = token_sign(priv, &c, &tok);
	if (r == 0)
		printf("%s\n", tok);
	token_key_free(priv);
	free(tok);
	return r;
}

int main(int argc, char **argv)
{
	int r;

	if (argc == 4 && strcmp(argv[1], "keygen") == 0)
		r = keygen(argv[2], argv[3]);
	else if ((argc == 4 || argc == 5) && strcmp(argv[1], "sign") == 0)
		r = sign(argv[2], argv[3], argc == 5 ? argv[4] : NULL);
	else {
		fprintf(stderr, "usage: mktoken keygen PRIV PUB | "
				"mktoken sign PRIV NODE [TTL]\n");
		return 2;
	}
	if (r < 0) {
		fprintf(stderr, "mktoken: %s\n", weft_strerror(r));
		return 1;
	}
	return 0;
}
