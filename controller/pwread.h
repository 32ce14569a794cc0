/* Reading a new password for `weft-controller users set-password`: from a
 * terminal with echo off, asked twice; else one line of standard input
 * (scripts: `printf '%s\n' "$pw" | weft-controller users set-password x`). */
#ifndef WEFT_PWREAD_H
#define WEFT_PWREAD_H

#include <stddef.h>
#include <stdio.h>

/* Reads one password into buf (cap bytes) from in: when in is a terminal,
 * prompts on it with echo off and asks again to confirm; otherwise reads
 * the first line, without its line end. Prints a reason to stderr and
 * returns -1 on failure (end of input, mismatch, too long); 0 otherwise.
 * buf is wiped on failure. */
int pwread(FILE *in, char *buf, size_t cap);

#endif
