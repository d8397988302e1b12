/*
 * offline - `filterd scan` and `filterd mime`: the daemon's pipeline on
 * files, without a server, with the same config and state.
 */
#ifndef FILTERD_OFFLINE_H
#define FILTERD_OFFLINE_H

#include "fcore/cfg.h"

int offline_scan_main(const struct fconf *cfg, int argc, char **argv);
int offline_mime_main(const struct fconf *cfg, int argc, char **argv);

#endif
