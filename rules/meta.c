/*
 * meta.c - meta rule expressions: rule names and numbers combined with
 * ! - (unary), * /, + -, < > <= >=, == !=, &&, || and parentheses, with
 * Perl's precedence and Perl's value rules (a rule name is its hit count;
 * && and || yield an operand, not a boolean; x / 0 is 0, never a trap).
 *
 * Compiled once, with the shunting-yard algorithm (no recursion, so the
 * nesting of a hostile expression cannot exhaust the stack), into a postfix
 * program that meta_eval() runs on a bounded value stack.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fcore/arena.h"
#include "rules-private.h"

#define META_MAX_TOKENS 4096

enum meta_op {
	MOP_NUM, MOP_VAR,
	MOP_NOT, MOP_NEG,
	MOP_MUL, MOP_DIV, MOP_ADD, MOP_SUB,
	MOP_LT, MOP_GT, MOP_LE, MOP_GE, MOP_EQ, MOP_NE,
	MOP_AND, MOP_OR,
	MOP_LPAREN, /* only on the operator stack */
};

struct meta_insn {
	uint8_t op;
	unsigned var;
	double num;
};

struct meta_prog {
	struct meta_insn *code;
	size_t ncode;
	const char **names;
	int *bound;
	size_t nnames;
	unsigned max_stack;
};

static int
prec(int op)
{
	switch (op) {
	case MOP_NOT: case MOP_NEG: return 7;
	case MOP_MUL: case MOP_DIV: return 6;
	case MOP_ADD: case MOP_SUB: return 5;
	case MOP_LT: case MOP_GT: case MOP_LE: case MOP_GE: return 4;
	case MOP_EQ: case MOP_NE: return 3;
	case MOP_AND: return 2;
	case MOP_OR: return 1;
	default: return 0;
	}
}

static bool
is_unary(int op)
{
	return op == MOP_NOT || op == MOP_NEG;
}

struct meta_builder {
	struct arena *a;
	struct meta_prog *p;
	uint8_t ops[META_MAX_TOKENS];
	size_t nops;
	size_t cap_code, cap_names;
	int depth; /* simulated value stack, to reject malformed expressions */
	char *err;
	size_t errlen;
};

static bool
emit(struct meta_builder *b, struct meta_insn in)
{
	if (b->p->ncode == b->cap_code) {
		size_t nc = b->cap_code ? b->cap_code * 2 : 16;
		struct meta_insn *c = arena_realloc(b->a, b->p->code, b->cap_code * sizeof(*c),
		    nc * sizeof(*c));
		if (c == NULL)
			return false;
		b->p->code = c;
		b->cap_code = nc;
	}
	b->p->code[b->p->ncode++] = in;
	if (in.op == MOP_NUM || in.op == MOP_VAR)
		b->depth++;
	else if (!is_unary(in.op))
		b->depth--;
	if (b->depth < 1) {
		snprintf(b->err, b->errlen, "operator without operand");
		return false;
	}
	if ((unsigned)b->depth > b->p->max_stack)
		b->p->max_stack = (unsigned)b->depth;
	return true;
}

static int
var_index(struct meta_builder *b, const char *name, size_t n)
{
	struct meta_prog *p = b->p;
	for (size_t i = 0; i < p->nnames; i++)
		if (strlen(p->names[i]) == n && memcmp(p->names[i], name, n) == 0)
			return (int)i;
	if (p->nnames == b->cap_names) {
		size_t nc = b->cap_names ? b->cap_names * 2 : 8;
		p->names = arena_realloc(b->a, p->names, b->cap_names * sizeof(*p->names),
		    nc * sizeof(*p->names));
		p->bound = arena_realloc(b->a, p->bound, b->cap_names * sizeof(*p->bound),
		    nc * sizeof(*p->bound));
		if (p->names == NULL || p->bound == NULL)
			return -1;
		b->cap_names = nc;
	}
	p->names[p->nnames] = arena_strndup(b->a, name, n);
	p->bound[p->nnames] = -1;
	return (int)p->nnames++;
}

/* Pops operators of higher (or equal, for left-assoc binary) precedence. */
static bool
reduce(struct meta_builder *b, int op)
{
	while (b->nops > 0) {
		int top = b->ops[b->nops - 1];
		if (top == MOP_LPAREN)
			break;
		if (is_unary(op) || prec(top) < prec(op))
			break;
		b->nops--;
		if (!emit(b, (struct meta_insn){ .op = (uint8_t)top }))
			return false;
	}
	return true;
}

static int
binary_op(const char **sp)
{
	const char *s = *sp;
	static const struct { const char *t; int op; } ops[] = {
		{ "&&", MOP_AND }, { "||", MOP_OR }, { "<=", MOP_LE }, { ">=", MOP_GE },
		{ "==", MOP_EQ }, { "!=", MOP_NE }, { "<", MOP_LT }, { ">", MOP_GT },
		{ "+", MOP_ADD }, { "-", MOP_SUB }, { "*", MOP_MUL }, { "/", MOP_DIV },
	};
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		size_t n = strlen(ops[i].t);
		if (strncmp(s, ops[i].t, n) == 0) {
			*sp = s + n;
			return ops[i].op;
		}
	}
	return -1;
}

static bool
push_op(struct meta_builder *b, int op)
{
	if (b->nops == META_MAX_TOKENS) {
		snprintf(b->err, b->errlen, "expression too long");
		return false;
	}
	b->ops[b->nops++] = (uint8_t)op;
	return true;
}

/* One operand position: unary operators, '(' or a value. */
static int
operand(struct meta_builder *b, const char **sp)
{
	const char *s = *sp;
	if (*s == '!' ) {
		*sp = s + 1;
		return push_op(b, MOP_NOT) ? 0 : -1;
	}
	if (*s == '-') {
		*sp = s + 1;
		return push_op(b, MOP_NEG) ? 0 : -1;
	}
	if (*s == '(') {
		*sp = s + 1;
		return push_op(b, MOP_LPAREN) ? 0 : -1;
	}
	if (isdigit((unsigned char)*s) || (*s == '.' && isdigit((unsigned char)s[1]))) {
		char *end;
		double v = strtod(s, &end);
		*sp = end;
		return emit(b, (struct meta_insn){ .op = MOP_NUM, .num = v }) ? 1 : -1;
	}
	if (isalpha((unsigned char)*s) || *s == '_') {
		const char *e = s;
		while (isalnum((unsigned char)*e) || *e == '_')
			e++;
		int v = var_index(b, s, (size_t)(e - s));
		*sp = e;
		if (v < 0)
			return -1;
		return emit(b, (struct meta_insn){ .op = MOP_VAR, .var = (unsigned)v }) ? 1 : -1;
	}
	snprintf(b->err, b->errlen, "unexpected '%c' in meta expression", *s ? *s : '$');
	return -1;
}

static const char *
skip_ws(const char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	return s;
}

static bool
parse_tokens(struct meta_builder *b, const char *s)
{
	bool want_operand = true;
	for (s = skip_ws(s); *s; s = skip_ws(s)) {
		if (want_operand) {
			int r = operand(b, &s);
			if (r < 0)
				return false;
			want_operand = r == 0;
			continue;
		}
		if (*s == ')') {
			while (b->nops > 0 && b->ops[b->nops - 1] != MOP_LPAREN)
				if (!emit(b, (struct meta_insn){ .op = b->ops[--b->nops] }))
					return false;
			if (b->nops == 0) {
				snprintf(b->err, b->errlen, "unbalanced ')'");
				return false;
			}
			b->nops--;
			s++;
			continue;
		}
		int op = binary_op(&s);
		if (op < 0) {
			snprintf(b->err, b->errlen, "expected an operator at '%.20s'", s);
			return false;
		}
		if (!reduce(b, op) || !push_op(b, op))
			return false;
		want_operand = true;
	}
	if (want_operand) {
		snprintf(b->err, b->errlen, "expression ends without an operand");
		return false;
	}
	while (b->nops > 0) {
		int op = b->ops[--b->nops];
		if (op == MOP_LPAREN) {
			snprintf(b->err, b->errlen, "unbalanced '('");
			return false;
		}
		if (!emit(b, (struct meta_insn){ .op = (uint8_t)op }))
			return false;
	}
	return b->depth == 1;
}

struct meta_prog *
meta_compile(struct arena *a, const char *expr, char *err, size_t errlen)
{
	struct meta_builder *b = calloc(1, sizeof(*b));
	if (b == NULL)
		return NULL;
	b->a = a;
	b->err = err;
	b->errlen = errlen;
	b->p = ARENA_NEW(a, struct meta_prog);
	err[0] = '\0';
	struct meta_prog *p = b->p;
	if (p == NULL || !parse_tokens(b, expr)) {
		if (err[0] == '\0')
			snprintf(err, errlen, "malformed meta expression");
		p = NULL;
	}
	free(b);
	return p;
}

size_t
meta_ninputs(const struct meta_prog *p)
{
	return p->nnames;
}

const char *
meta_input(const struct meta_prog *p, size_t i)
{
	return p->names[i];
}

void
meta_bind(struct meta_prog *p, size_t i, int rule)
{
	p->bound[i] = rule;
}

int
meta_bound(const struct meta_prog *p, size_t i)
{
	return p->bound[i];
}

static double
apply(int op, double x, double y)
{
	switch (op) {
	case MOP_MUL: return x * y;
	case MOP_DIV: return y != 0.0 ? x / y : 0.0;
	case MOP_ADD: return x + y;
	case MOP_SUB: return x - y;
	case MOP_LT: return x < y;
	case MOP_GT: return x > y;
	case MOP_LE: return x <= y;
	case MOP_GE: return x >= y;
	case MOP_EQ: return x == y;
	case MOP_NE: return x != y;
	case MOP_AND: return x != 0.0 ? y : x;
	case MOP_OR: return x != 0.0 ? x : y;
	default: return 0.0;
	}
}

double
meta_eval(const struct meta_prog *p, const unsigned *hits)
{
	double stack_small[64];
	double *st = p->max_stack <= 64 ? stack_small : malloc(p->max_stack * sizeof(double));
	if (st == NULL)
		return 0.0;
	size_t sp = 0;
	for (size_t i = 0; i < p->ncode; i++) {
		const struct meta_insn *in = &p->code[i];
		switch (in->op) {
		case MOP_NUM:
			st[sp++] = in->num;
			break;
		case MOP_VAR: {
			int r = p->bound[in->var];
			st[sp++] = (r >= 0 && hits != NULL) ? (double)hits[r] : 0.0;
			break;
		}
		case MOP_NOT:
			st[sp - 1] = st[sp - 1] == 0.0;
			break;
		case MOP_NEG:
			st[sp - 1] = -st[sp - 1];
			break;
		default:
			sp--;
			st[sp - 1] = apply(in->op, st[sp - 1], st[sp]);
			break;
		}
	}
	double v = sp > 0 ? st[sp - 1] : 0.0;
	if (st != stack_small)
		free(st);
	return v;
}
