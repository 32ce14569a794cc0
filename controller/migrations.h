/* Schema migrations embedded into the controller at build time from
 * schema/<dialect>/NNN_name.sql (see cmake/embed_schema.cmake). */
#ifndef WEFT_MIGRATIONS_H
#define WEFT_MIGRATIONS_H

struct migration {
	int version;      /* NNN from the file name, strictly increasing */
	const char *name; /* the file name's _name part */
	const char *sql;  /* the whole file, one or more statements */
};

/* Each table ends with an entry whose version is 0. */
extern const struct migration migrations_sqlite[];
extern const struct migration migrations_postgres[];

#endif
