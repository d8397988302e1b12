#ifndef FILTERD_VERSION_H
#define FILTERD_VERSION_H
const char *filterd_version(void);
#endif
