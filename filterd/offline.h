/*
 * offline - `filterd scan`, `filterd mime`, `filterd rules` and
 * `filterd learn`: the daemon's pipeline on files, without a server, with
 * the same config and state.
 */
#ifndef FILTERD_OFFLINE_H
#define FILTERD_OFFLINE_H

#include <stddef.h>
#include <stdint.h>

#include "fcore/cfg.h"

int offline_scan_main(const struct fconf *cfg, int argc, char **argv);
int offline_mime_main(const struct fconf *cfg, int argc, char **argv);
/* `filterd rules [--list]`: load (and compile or load from cache) the rules, print counts. */
int offline_rules_main(const struct fconf *cfg, int argc, char **argv);
/* `filterd learn --spam|--ham [-d user] FILE|DIR...` (offline_learn.c). */
int offline_learn_main(const struct fconf *cfg, int argc, char **argv);

/* Whole file in a malloc'ed buffer; NULL with errno set on failure. */
uint8_t *offline_read_file(const char *path, size_t *len_r);

#endif
