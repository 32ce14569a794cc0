#include "controller/ctl.h"
#include "controller/ipam.h"

#include "controller/kek.h"
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

/* DNS and wildcard resources converted by migration 006 get their mapped
 * prefixes at the first start after it (a no-op afterwards). */
static int backfill(struct store *st)
{
	struct store_tx *tx = NULL;
	int rc, n = 0;

	rc = store_begin(st, STORE_WRITE, &tx);
	if (rc == 0)
		rc = ipam_resource_backfill(tx, &n);
	if (rc == 0 && n)
		rc = store_commit(tx);
	else
		store_rollback(tx);
	if (rc == 0 && n)
		log_info("resources_mapped", "count=%d", n);
	return rc;
}

int ctl_db_url(const struct ctl_common *c, char *url, size_t cap)
{
	int rc;

	if (c->db && *c->db) {
		if (snprintf(url, cap, "%s", c->db) >= (int)cap)
			return WEFT_ERR_TOOBIG;
		return 0;
	}
	rc = mkdir_private(c->data_dir);
	if (rc < 0) {
		fprintf(stderr,
			"weft-controller: cannot create data directory %s: %s\n",
			c->data_dir, strerror(-rc));
		return rc;
	}
	if (snprintf(url, cap, "sqlite://%s/weft.db", c->data_dir) >= (int)cap)
		return WEFT_ERR_TOOBIG;
	return 0;
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
	rc = ctl_db_url(c, url, sizeof(url));
	if (rc < 0)
		return rc;
	rc = store_open(url, st, errmsg, sizeof(errmsg));
	if (rc < 0) {
		fprintf(stderr, "weft-controller: %s\n", errmsg);
		return rc;
	}
	rc = backfill(*st);
	if (rc < 0) {
		fprintf(stderr, "weft-controller: cannot give DNS resources "
			"their mapped addresses: %s (%s)\n", weft_strerror(rc),
			store_errmsg());
		store_close(*st);
		*st = NULL;
		return rc;
	}
	return 0;
}

/* The directory of the SQLite database the common options name ("" for
 * another backend). */
static int sqlite_dir(const struct ctl_common *c, char *dir, size_t cap)
{
	const char *url = c->db && *c->db ? c->db : NULL;
	const char *slash;

	dir[0] = '\0';
	if (!url) {
		snprintf(dir, cap, "%s", c->data_dir);
		return 0;
	}
	if (strncmp(url, "sqlite://", 9) != 0)
		return 0;
	url += 9;
	slash = strrchr(url, '/');
	if (!slash)
		snprintf(dir, cap, ".");
	else if ((size_t)(slash - url) + 1 > cap)
		return WEFT_ERR_TOOBIG;
	else
		snprintf(dir, cap, "%.*s", slash == url ? 1 : (int)(slash - url),
			 url);
	return 0;
}

int ctl_load_kek(const struct ctl_common *c, const char *kek_file,
		 bool generate, struct kek *out)
{
	const char *env = getenv("WEFT_KEK");
	char dir[2048], path[2100];
	int rc;

	if (kek_file && *kek_file) {
		rc = kek_load_file(kek_file, out);
		if (rc < 0)
			fprintf(stderr, "weft-controller: cannot read the "
					"key-encryption key %s: %s%s\n",
				kek_file, weft_strerror(rc),
				rc == WEFT_ERR_PARSE
					? " (want one line: base64 of 32 "
					  "random bytes)"
					: "");
		return rc;
	}
	if (env && *env) {
		rc = kek_parse(env, out);
		if (rc < 0)
			fprintf(stderr, "weft-controller: WEFT_KEK is not a "
					"key-encryption key (want base64 of 32 "
					"random bytes)\n");
		return rc;
	}
	rc = sqlite_dir(c, dir, sizeof(dir));
	if (rc == 0 && !dir[0]) {
		fprintf(stderr,
			"weft-controller: a shared database needs the "
			"key-encryption key every replica uses to seal the "
			"relay signing key: pass --kek-file FILE or set "
			"WEFT_KEK. Make one with\n"
			"    (umask 077; head -c 32 /dev/urandom | base64 > FILE)\n"
			"and give the same one to every replica "
			"(docs/operations.md).\n");
		return WEFT_ERR_INVAL;
	}
	if (rc < 0 || snprintf(path, sizeof(path), "%s/" CTL_KEK_FILE, dir) >=
			      (int)sizeof(path))
		return WEFT_ERR_TOOBIG;
	rc = kek_load_file(path, out);
	if (rc == -ENOENT && generate) {
		rc = kek_generate_file(path, out);
		if (rc == 0)
			fprintf(stderr, "weft-controller: created the "
					"key-encryption key %s (id %s); back it "
					"up with the database\n",
				path, out->id);
	}
	if (rc < 0)
		fprintf(stderr, "weft-controller: cannot %s the key-encryption "
				"key %s: %s\n",
			rc == -ENOENT ? "find" : "use", path, weft_strerror(rc));
	return rc;
}
