/* Reading and writing one kernel setting under /proc/sys (the agent's
 * connector turns IP forwarding on). The path is given in full, so tests
 * can point it at a plain file. Never logs. */
#ifndef WEFT_AGENT_SYSCTL_H
#define WEFT_AGENT_SYSCTL_H

#include <stddef.h>

/* Longest value read (forwarding settings are "0" or "1"). */
#define SYSCTL_VALUE_MAX 64

/* The first line of path, without its newline, into out (cap bytes).
 * Returns 0, -errno from open/read, or WEFT_ERR_TOOBIG when the value
 * does not fit. */
int sysctl_read(const char *path, char *out, size_t cap);

/* Writes value and a newline to path (which must exist: no O_CREAT).
 * Returns 0 or -errno (EACCES/EPERM without CAP_NET_ADMIN in the
 * setting's network namespace, ENOENT where the kernel lacks it). */
int sysctl_write(const char *path, const char *value);

#endif
