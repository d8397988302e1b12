#include "fcore/symbol.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fcore/xalloc.h"

/* Open-addressing index over a growing array of heap-owned definitions. */
struct symtab {
	struct symbol_def **defs;
	size_t n;
	size_t cap;
	uint32_t *slots; /* def index + 1; 0 = empty */
	size_t nslots;
};

static uint32_t
name_hash(const char *s)
{
	uint32_t h = 2166136261u;
	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 16777619u;
	return h;
}

struct symtab *
symtab_new(void)
{
	struct symtab *t = xcalloc(1, sizeof(*t));
	t->nslots = 256;
	t->slots = xcalloc(t->nslots, sizeof(*t->slots));
	return t;
}

void
symtab_free(struct symtab **tp)
{
	struct symtab *t = *tp;
	if (t == NULL)
		return;
	for (size_t i = 0; i < t->n; i++) {
		free((char *)t->defs[i]->name);
		free((char *)t->defs[i]->group);
		free((char *)t->defs[i]->description);
		free(t->defs[i]);
	}
	free(t->defs);
	free(t->slots);
	free(t);
	*tp = NULL;
}

static size_t
find_slot(const struct symtab *t, const char *name)
{
	size_t mask = t->nslots - 1;
	size_t i = name_hash(name) & mask;
	while (t->slots[i] != 0 && strcmp(t->defs[t->slots[i] - 1]->name, name) != 0)
		i = (i + 1) & mask;
	return i;
}

static void
rehash(struct symtab *t)
{
	free(t->slots);
	t->nslots *= 2;
	t->slots = xcalloc(t->nslots, sizeof(*t->slots));
	for (size_t k = 0; k < t->n; k++)
		t->slots[find_slot(t, t->defs[k]->name)] = (uint32_t)(k + 1);
}

static void
replace_str(const char **dst, const char *src)
{
	if (src == NULL)
		return;
	free((char *)*dst);
	*dst = xstrdup(src);
}

const struct symbol_def *
symtab_add(struct symtab *t, const char *name, double weight, const char *group,
    const char *description)
{
	size_t slot = find_slot(t, name);
	struct symbol_def *d;
	if (t->slots[slot] != 0) {
		d = t->defs[t->slots[slot] - 1];
		d->weight = weight;
		replace_str(&d->group, group);
		replace_str(&d->description, description);
		return d;
	}
	if (t->n == t->cap) {
		t->cap = t->cap ? t->cap * 2 : 64;
		t->defs = xreallocarray(t->defs, t->cap, sizeof(*t->defs));
	}
	d = xcalloc(1, sizeof(*d));
	d->name = xstrdup(name);
	d->weight = weight;
	d->group = xstrdup(group ? group : "default");
	d->description = description ? xstrdup(description) : NULL;
	d->id = (unsigned)t->n;
	t->defs[t->n++] = d;
	t->slots[slot] = (uint32_t)t->n;
	if (t->n * 2 > t->nslots)
		rehash(t);
	return d;
}

const struct symbol_def *
symtab_find(const struct symtab *t, const char *name)
{
	size_t slot = find_slot(t, name);
	return t->slots[slot] ? t->defs[t->slots[slot] - 1] : NULL;
}

bool
symtab_set_weight(struct symtab *t, const char *name, double weight)
{
	struct symbol_def *d = (struct symbol_def *)symtab_find(t, name);
	if (d == NULL)
		return false;
	d->weight = weight;
	return true;
}

size_t
symtab_count(const struct symtab *t)
{
	return t->n;
}

const struct symbol_def *
symtab_at(const struct symtab *t, size_t i)
{
	return i < t->n ? t->defs[i] : NULL;
}
