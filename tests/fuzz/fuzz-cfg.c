/*
 * fuzz-cfg.c - the YAML configuration loader on arbitrary bytes. A loaded
 * config is walked so that every string it owns is read (ASan then catches
 * a dangling or short one); an error must be a NUL-terminated message
 * naming the input.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fcore/cfg.h"

static size_t
touch_list(const struct cfg_strlist *l)
{
	size_t n = 0;
	for (size_t i = 0; i < l->n; i++)
		n += strlen(l->v[i]);
	return n;
}

static size_t
touch(const struct fconf *c)
{
	size_t n = strlen(c->path) + strlen(c->hash) + strlen(c->state_dir) + strlen(c->log_level);
	n += touch_list(&c->scan.listen) + touch_list(&c->controller.listen);
	n += touch_list(&c->controller.secure_ip) + touch_list(&c->milter.listen);
	n += touch_list(&c->rules.paths) + touch_list(&c->rules.local);
	n += touch_list(&c->rbl.trusted_networks);
	n += strlen(c->stats.db) + strlen(c->greylist.db) + strlen(c->subject_template);
	for (size_t i = 0; i < c->rbl.nzones; i++) {
		const struct cfg_rbl_zone *z = &c->rbl.zones[i];
		n += strlen(z->symbol) + strlen(z->zone) + touch_list(&z->checks);
		for (size_t j = 0; j < z->ncodes; j++)
			n += strlen(z->codes[j].symbol) + (z->codes[j].pattern ? strlen(z->codes[j].pattern) : 0);
	}
	for (size_t i = 0; i < c->nsymbols; i++) {
		const struct cfg_symbol_override *o = &c->symbols[i];
		n += strlen(o->name) + (o->description ? strlen(o->description) : 0) +
		    (o->group ? strlen(o->group) : 0);
	}
	return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[256];
	err[0] = '\0';
	struct fconf *c = cfg_load_buffer("fuzz.yaml", (const char *)data, size, err, sizeof(err));
	if (c != NULL) {
		volatile size_t n = touch(c);
		(void)n;
		cfg_free(&c);
	} else if (strncmp(err, "fuzz.yaml:", 10) != 0 || strlen(err) >= sizeof(err)) {
		abort();
	}
	return 0;
}
