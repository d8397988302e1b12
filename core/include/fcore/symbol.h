/*
 * symbol - the registry of every symbol a check can insert: name, weight,
 * group, description. Built once per configuration generation, read-only
 * while scanning. A symbol inserted without registration scores 0.
 */
#ifndef FCORE_SYMBOL_H
#define FCORE_SYMBOL_H

#include <stdbool.h>
#include <stddef.h>

struct symbol_def {
	const char *name;
	double weight;
	const char *group;
	const char *description;
	unsigned id;
};

struct symtab;

struct symtab *symtab_new(void);
void symtab_free(struct symtab **tp);
/* Adds or, for an existing name, updates weight/group/description (NULL keeps). */
const struct symbol_def *symtab_add(struct symtab *t, const char *name, double weight,
    const char *group, const char *description);
const struct symbol_def *symtab_find(const struct symtab *t, const char *name);
bool symtab_set_weight(struct symtab *t, const char *name, double weight);
size_t symtab_count(const struct symtab *t);
const struct symbol_def *symtab_at(const struct symtab *t, size_t i);

#endif
