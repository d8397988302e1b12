/*
 * cfg.c - YAML loader (thin: the config issue slice replaces this with the
 * table-driven libfyaml loader).
 */
#include <stdio.h>

#include "fcore/cfg.h"

struct fconf *
cfg_load(const char *path, char *err, size_t errlen)
{
	snprintf(err, errlen, "%s:1: configuration files are not supported yet", path);
	return NULL;
}

struct fconf *
cfg_load_buffer(const char *name, const char *data, size_t len, char *err, size_t errlen)
{
	(void)data;
	(void)len;
	snprintf(err, errlen, "%s:1: configuration files are not supported yet", name);
	return NULL;
}

bool
cfg_parse_size(const char *s, uint64_t *out_r)
{
	(void)s;
	(void)out_r;
	return false;
}

bool
cfg_parse_duration(const char *s, double *out_r)
{
	(void)s;
	(void)out_r;
	return false;
}
