#ifndef FILTERD_STATEDIR_H
#define FILTERD_STATEDIR_H
/* Creates state_dir (and its parents) if missing; -1 with a log line if it cannot. */
int state_dir_ensure(const char *dir);
#endif
