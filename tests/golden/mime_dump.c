/*
 * mime_dump - prints mime_to_json(mime_parse(FILE)) as indented JSON; the
 * golden test diffs this against tests/golden/mime/NAME.json.
 */
#include <stdio.h>
#include <stdlib.h>

#include "fcore/arena.h"
#include "fcore/mime.h"
#include "fcore/mime_json.h"

static unsigned char *
slurp(const char *path, size_t *len_r)
{
	FILE *f = fopen(path, "rb");
	unsigned char *b = NULL;
	size_t cap = 0, len = 0, n;

	if (f == NULL)
		return NULL;
	do {
		if (len == cap) {
			cap = cap ? cap * 2 : 65536;
			unsigned char *nb = realloc(b, cap);
			if (nb == NULL) {
				free(b);
				fclose(f);
				return NULL;
			}
			b = nb;
		}
		n = fread(b + len, 1, cap - len, f);
		len += n;
	} while (n > 0);
	fclose(f);
	*len_r = len;
	return b;
}

int
main(int argc, char **argv)
{
	size_t len;
	unsigned char *data;

	if (argc != 2) {
		fprintf(stderr, "usage: mime_dump FILE\n");
		return 2;
	}
	if ((data = slurp(argv[1], &len)) == NULL) {
		perror(argv[1]);
		return 1;
	}
	struct arena *a = arena_new(0);
	struct mime_message *m = mime_parse(a, span_make(data, len), NULL);
	if (m == NULL) {
		fprintf(stderr, "%s: parse failed\n", argv[1]);
		return 1;
	}
	json_t *j = mime_to_json(m);
	json_dumpf(j, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_ENSURE_ASCII);
	putchar('\n');
	json_decref(j);
	arena_free(&a);
	free(data);
	return 0;
}
