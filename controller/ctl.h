/* What `weft-controller serve` and the admin subcommands share: the
 * database flags, opening the store, and flag parsing with uniform help and
 * error output. These functions print to stdout/stderr: they are the
 * command-line front end, not a library module. */
#ifndef WEFT_CTL_H
#define WEFT_CTL_H

#include "shared/conf.h"

#include <stdbool.h>
#include <stddef.h>

struct store;
struct kek;

/* The key-encryption key file made next to a SQLite database. */
#define CTL_KEK_FILE "relay-kek"

struct ctl_common {
	const char *data_dir;  /* --data-dir, default /var/lib/weft */
	const char *db;        /* --db URL; default sqlite://<data-dir>/weft.db */
	const char *log_level; /* --log-level */
};

#define CTL_COMMON_NOPTS 3

/* Fills out[0..CTL_COMMON_NOPTS) with the common options writing into c. */
void ctl_common_opts(struct ctl_common *c, struct conf_opt *out);

/* Parses argv (argv[0] = the command's name) against opts. Prints usage and
 * returns 1 on --help, prints the error and returns -1 on bad flags,
 * returns 0 otherwise. usage_line is printed first ("users create NAME").
 * With common_only_outside, only the common options (data dir, database,
 * log level) come from WEFT_* variables and the config file; the command's
 * own flags are read from the command line only, and config-file keys meant
 * for other commands are ignored.
 * *cf owns the values; the caller frees it with conf_del even on failure. */
int ctl_parse(const char *usage_line, const struct conf_opt *opts, size_t n,
	      int argc, char **argv, bool common_only_outside,
	      struct conf **cf, char ***pos, int *npos);

/* Applies the log level and opens the store the common options name,
 * creating the data directory (0700) for the default SQLite file. Prints
 * the reason to stderr and returns negative on failure. */
int ctl_open_store(const struct ctl_common *c, struct store **st);

/* The database URL the common options name (creating the default data
 * directory when they name none). Prints the reason and returns negative
 * on failure. */
int ctl_db_url(const struct ctl_common *c, char *url, size_t cap);

/* Loads the key-encryption key (kek.h) that seals the relay signing key:
 * from kek_file when given, else from WEFT_KEK (the base64 text itself),
 * else, for SQLite only, from CTL_KEK_FILE in the database's directory,
 * created (0600) when absent and generate is true. PostgreSQL has no
 * default: every replica must be given the same key. Prints the reason
 * and returns negative on failure. */
int ctl_load_kek(const struct ctl_common *c, const char *kek_file,
		 bool generate, struct kek *out);

#endif
