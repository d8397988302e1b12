/*
 * fuzz-cf.c - the .cf reader: lines, conditionals, rule definitions,
 * ReplaceTags, and the meta expressions, regex delimiters, gate runs
 * (re_gate.c) and unrolled sizes (re_unroll.c) of whatever rules the input
 * defines (compilation with
 * Hyperscan is left out: it is the library's, and too slow for fuzzing).
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "fcore/arena.h"
#include "../../rules/rules-private.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct arena *a = arena_new(0);
	char err[256];
	struct cf cf;
	cf_init(&cf, a, err, sizeof(err));
	if (cf_read_buffer(&cf, "fuzz.cf", (const char *)data, size) == 0) {
		cf_finish(&cf);
		for (size_t i = 0; i < cf.nrules; i++) {
			struct rule *r = cf.rules[i];
			if (r->type == RT_META && r->src != NULL) {
				char merr[128];
				struct meta_prog *p = meta_compile(a, r->src, merr, sizeof(merr));
				if (p != NULL)
					(void)meta_eval(p, NULL);
			}
			if (r->re != NULL) {
				struct re_translation t;
				re_translate_gate_only(a, r->re, r->re_flags, &t);
				(void)re_unrolled_size(r->re);
				/* the required-run splitter; Hyperscan only checks each
				 * run, kept short so an input stays fast */
				if (strlen(r->re) < 128)
					(void)re_gate_run(a, r->re, 0);
			}
		}
	}
	cf_deinit(&cf);
	arena_free(&a);
	return 0;
}
