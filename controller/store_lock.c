/* Cross-process locks (store.h store_lock_*): the backend's, if any. */
#include "controller/store.h"
#include "controller/store_backend.h"
#include "controller/store_internal.h"
#include "shared/err.h"

#include <stdlib.h>

struct store_lock {
	const struct store_ops *ops;
	struct store_lock_be *be;
};

int store_lock_open(struct store *st, const char *dsn, int64_t key,
		    struct store_lock **out)
{
	const struct store_ops *ops = store_ops_of(st);
	struct store_lock *l;
	int rc;

	if (!ops->lock_open)
		return WEFT_ERR_UNSUPPORTED;
	l = calloc(1, sizeof(*l));
	if (!l)
		return WEFT_ERR_NOMEM;
	l->ops = ops;
	rc = ops->lock_open(store_be_of(st), dsn, key, &l->be);
	if (rc) {
		free(l);
		return rc;
	}
	*out = l;
	return 0;
}

bool store_lock_supported(const struct store *st)
{
	return store_ops_of(st)->lock_open != NULL;
}

int store_lock_try(struct store_lock *l)
{
	return l->ops->lock_try(l->be);
}

void store_lock_close(struct store_lock *l)
{
	if (!l)
		return;
	l->ops->lock_close(l->be);
	free(l);
}
