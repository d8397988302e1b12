/*
 * cf_cond.c - `ifplugin` and `if` conditions of .cf files.
 *
 * filterd has no Perl plugins; a plugin counts as loaded when filterd runs
 * the rule types it defines, or when its rules are local tests whose eval:
 * functions filterd reports one by one as unsupported (so the regex rules in
 * the same block still run, as in a stock SpamAssassin). Network plugins
 * (DNS lists, SPF, DKIM, checksum services) and plugins for features filterd
 * does elsewhere or not at all (Bayes, AWL, TextCat, Shortcircuit) are not
 * loaded: their blocks are skipped and counted.
 *
 * `if` expressions are rewritten to numbers (plugin(X), can(X), version)
 * and evaluated with the meta expression evaluator.
 */
#include <stdio.h>
#include <string.h>

#include "fcore/arena.h"
#include "rules-private.h"

/* SpamAssassin release whose rule syntax the reader follows. */
#define CF_VERSION "4.000001"

static const char *const loaded_plugins[] = {
	"Check", "ReplaceTags", "MIMEHeader",
	"HeaderEval", "BodyEval", "MIMEEval", "HTMLEval", "URIEval", "RelayEval",
	"WLBLEval", "FreeMail", "ImageInfo", "VBounce", "HTTPSMismatch", "URIDetail",
	NULL,
};

/* Conf features of SpamAssassin 4 that change nothing for the reader. */
static const char *const can_true[] = {
	"Mail::SpamAssassin::Conf::feature_bug6558_free",
	"Mail::SpamAssassin::Conf::perl_min_version_5010000",
	"Mail::SpamAssassin::Conf::feature_welcomelist_blocklist",
	"Mail::SpamAssassin::Conf::feature_registryboundaries",
	"Mail::SpamAssassin::Conf::feature_originating_ip_headers",
	NULL,
};

bool
cf_plugin_loaded(const char *name)
{
	while (*name == ' ' || *name == '\t')
		name++;
	static const char prefix[] = "Mail::SpamAssassin::Plugin::";
	if (strncmp(name, prefix, sizeof(prefix) - 1) != 0)
		return false;
	name += sizeof(prefix) - 1;
	size_t n = strcspn(name, " \t)");
	for (size_t i = 0; loaded_plugins[i] != NULL; i++)
		if (strlen(loaded_plugins[i]) == n && strncmp(loaded_plugins[i], name, n) == 0)
			return true;
	return false;
}

static bool
can_is_true(const char *name, size_t n)
{
	for (size_t i = 0; can_true[i] != NULL; i++)
		if (strlen(can_true[i]) == n && strncmp(can_true[i], name, n) == 0)
			return true;
	return false;
}

/* Appends to out; false when it does not fit. */
static bool
put(char *out, size_t outsz, size_t *o, const char *s, size_t n)
{
	if (*o + n + 1 > outsz)
		return false;
	memcpy(out + *o, s, n);
	*o += n;
	out[*o] = '\0';
	return true;
}

int
cf_eval_cond(const char *expr)
{
	char out[1024];
	size_t o = 0;
	out[0] = '\0';
	const char *p = expr;
	while (*p) {
		bool is_plugin = strncmp(p, "plugin(", 7) == 0;
		bool is_can = strncmp(p, "can(", 4) == 0;
		if (is_plugin || is_can) {
			const char *arg = p + (is_plugin ? 7 : 4);
			const char *close = strchr(arg, ')');
			if (close == NULL)
				return -1;
			bool v = is_plugin ? cf_plugin_loaded(arg) : can_is_true(arg, (size_t)(close - arg));
			if (!put(out, sizeof(out), &o, v ? " 1 " : " 0 ", 3))
				return -1;
			p = close + 1;
		} else if (strncmp(p, "perl_version", 12) == 0) {
			if (!put(out, sizeof(out), &o, " 5.036 ", 7))
				return -1;
			p += 12;
		} else if (strncmp(p, "version", 7) == 0) {
			if (!put(out, sizeof(out), &o, " " CF_VERSION " ", sizeof(CF_VERSION) + 1))
				return -1;
			p += 7;
		} else {
			if (!put(out, sizeof(out), &o, p, 1))
				return -1;
			p++;
		}
	}
	struct arena *a = arena_new(0);
	char err[128];
	struct meta_prog *prog = meta_compile(a, out, err, sizeof(err));
	int rc = -1;
	if (prog != NULL && meta_ninputs(prog) == 0)
		rc = meta_eval(prog, NULL) != 0.0;
	arena_free(&a);
	return rc;
}
