#include <stdio.h>
#include <string.h>

#include "version.h"

int
main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "--version") == 0) {
		printf("filterd %s\n", filterd_version());
		return 0;
	}
	fprintf(stderr, "filterd: not yet\n");
	return 1;
}
