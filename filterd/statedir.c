#include "statedir.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "fcore/log.h"

int
state_dir_ensure(const char *dir)
{
	char path[4096];
	if (snprintf(path, sizeof(path), "%s", dir) >= (int)sizeof(path)) {
		log_error("state_dir %s: path too long", dir);
		return -1;
	}
	for (char *s = path + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		mkdir(path, 0755);
		*s = '/';
	}
	if (mkdir(path, 0750) != 0 && errno != EEXIST) {
		log_error("state_dir %s: %s", dir, strerror(errno));
		return -1;
	}
	return 0;
}
