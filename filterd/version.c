#include "version.h"

const char *
filterd_version(void)
{
	return FILTERD_VERSION;
}
