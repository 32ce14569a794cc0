#include "controller/ctl.h"

#include "controller/store.h"
#include "shared/err.h"
#include "shared/log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

void ctl_common_opts(struct ctl_common *c, struct conf_opt *out)
{
	out[0] = (struct conf_opt){
		"data-dir", CONF_STRING, &c->data_dir, "/var/lib/weft",
		"directory for the default SQLite database", 0, 0};
	out[1] = (struct conf_opt){
		"db", CONF_STRING, &c->db, NULL,
		"database URL: sqlite:///path.db, postgres://... "
		"(default: sqlite://<data-dir>/weft.db)", 0, 0};
	out[2] = (struct conf_opt){
		"log-level", CONF_STRING, &c->log_level, NULL,
		"debug, info, warn or error (default info)", 0, 0};
}

static const char *const common_names[] = {"data-dir", "db", "log-level",
					    NULL};

int ctl_parse(const char *usage_line, const struct conf_opt *opts, size_t n,
	      int argc, char **argv, bool common_only_outside,
	      struct conf **cf, char ***pos, int *npos)
{
	struct conf_err err = {{0}};
	int rc;

	rc = conf_new(cf);
	if (rc < 0) {
		fprintf(stderr, "weft-controller: out of memory\n");
		return -1;
	}
	if (common_only_outside)
		conf_limit_sources(*cf, common_names);
	rc = conf_parse(*cf, opts, n, argc, argv, pos, npos, &err);
	if (rc == CONF_HELP) {
		printf("usage: weft-controller %s\n\n", usage_line);
		conf_usage_for(*cf, opts, n, stdout);
		return 1;
	}
	if (rc < 0) {
		fprintf(stderr, "weft-controller %s: %s\n", argv[0], err.message);
		fprintf(stderr, "usage: weft-controller %s (see --help)\n",
			usage_line);
		return -1;
	}
	return 0;
}

static int mkdir_private(const char *dir)
{
	struct stat sb;

	if (mkdir(dir, 0700) == 0)
		return 0;
	if (errno == EEXIST && stat(dir, &sb) == 0 && S_ISDIR(sb.st_mode))
		return 0;
	return -errno;
}

int ctl_open_store(const struct ctl_common *c, struct store **st)
{
	char url[4096], errmsg[512];
	enum log_level lvl;
	int rc;

	log_init_from_env();
	if (c->log_level) {
		if (log_level_parse(c->log_level, &lvl) < 0) {
			fprintf(stderr,
				"weft-controller: unknown log level \"%s\"\n",
				c->log_level);
			return WEFT_ERR_INVAL;
		}
		log_set_level(lvl);
	}
	if (c->db && *c->db) {
		snprintf(url, sizeof(url), "%s", c->db);
	} else {
		rc = mkdir_private(c->data_dir);
		if (rc < 0) {
			fprintf(stderr,
				"weft-controller: cannot create data directory %s: %s\n",
				c->data_dir, strerror(-rc));
			return rc;
		}
		if (snprintf(url, sizeof(url), "sqlite://%s/weft.db",
			     c->data_dir) >= (int)sizeof(url))
			return WEFT_ERR_TOOBIG;
	}
	rc = store_open(url, st, errmsg, sizeof(errmsg));
	if (rc < 0) {
		fprintf(stderr, "weft-controller: %s\n", errmsg);
		return rc;
	}
	return 0;
}
