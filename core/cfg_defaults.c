/*
 * cfg_defaults.c - the embedded defaults: the one place they are written.
 *
 * cfg_load() starts from cfg_defaults_new() and overlays the file, then
 * cfg_defaults_finalize() derives what depends on other keys (the database
 * paths under state_dir), so a file that only moves state_dir moves them too.
 * docs/config.md lists the same values; change both together.
 */
#include <math.h>
#include <string.h>
#include <unistd.h>

#include "fcore/arena.h"
#include "fcore/cfg.h"
#include "fcore/xalloc.h"

#include "cfg-private.h"

static void
strlist1(struct arena *a, struct cfg_strlist *l, const char *s)
{
	l->v = arena_alloc(a, sizeof(*l->v));
	l->v[0] = arena_strdup(a, s);
	l->n = 1;
}

struct fconf *
cfg_defaults_new(void)
{
	struct arena *a = arena_new(0);
	struct fconf *c = arena_zalloc(a, sizeof(*c));
	c->arena = a;
	strcpy(c->hash, "0000000000000000");
	c->workers = 0;
	c->state_dir = "/var/lib/filterd";
	c->log_level = "info";
	char host[256];
	if (gethostname(host, sizeof(host)) != 0)
		strcpy(host, "localhost");
	host[sizeof(host) - 1] = '\0';
	c->server_name = arena_strdup(a, host);

	strlist1(a, &c->scan.listen, "127.0.0.1:11333");
	c->scan.enable_test_patterns = false;

	strlist1(a, &c->controller.listen, "127.0.0.1:11334");
	c->controller.password = "";
	c->controller.enable_password = "";
	c->controller.secure_ip.v = arena_alloc(a, 2 * sizeof(char *));
	c->controller.secure_ip.v[0] = "127.0.0.1";
	c->controller.secure_ip.v[1] = "::1";
	c->controller.secure_ip.n = 2;
	c->controller.static_dir = NULL;

	strlist1(a, &c->milter.listen, "127.0.0.1:11332");
	c->milter.on_error = CFG_ON_ERROR_TEMPFAIL;
	c->milter.on_oversize = CFG_ON_ERROR_ACCEPT;
	c->milter.reject_message = "Spam message rejected";
	c->milter.tempfail_message = "Try again later";
	c->milter.skip_authenticated_headers = true;
	c->milter.spam_header = "X-Spam";
	c->milter.multi_rcpt = "first";

	action_thresholds_default(&c->actions);
	c->subject_template = "*** SPAM *** %s";

	c->limits.max_message = 50u << 20;
	c->limits.mime_depth = 16;
	c->limits.mime_parts = 1024;
	c->limits.header_lines = 1024;
	c->limits.header_size = 32u << 10;
	c->limits.boundary = 256;
	c->limits.urls = 10000;
	c->limits.http_headers = 64u << 10;
	c->limits.milter_packet = 1u << 20;
	c->limits.controller_preauth = 16u << 10;
	c->limits.task_timeout = 8.0;
	c->limits.dns_timeout = 2.0;
	c->limits.io_timeout = 30.0;
	c->limits.max_connections = 4096;
	c->limits.task_memory = 512u << 20;
	c->limits.pcre_match_limit = 100000;
	c->limits.pcre_depth_limit = 10000;
	c->limits.lua_instructions = 10000000;

	c->rules.enabled = true;
	c->rules.cache = true;

	c->stats.enabled = true;
	c->stats.backend = "sqlite";
	c->stats.min_learns = 200;
	c->stats.per_user = true;
	c->stats.learn_global = true;
	c->stats.max_tokens = 5000000;
	c->stats.min_tokens = 11;
	c->stats.window = 2;   /* bench/bayes_eval: as accurate as 3 or 5, 2-4x faster, 4x smaller */
	c->stats.header_tokens = true;
	c->stats.snapshot = true;

	c->rbl.enabled = false;
	c->rbl.resolver = "/etc/resolv.conf";
	c->rbl.timeout = 2.0;
	c->rbl.received = true;

	c->greylist.enabled = false;
	c->greylist.mode = "score";
	c->greylist.delay = 300;
	c->greylist.retry_window = 2 * 86400;
	c->greylist.expire = 35 * 86400;
	c->greylist.auto_whitelist = 5;
	c->greylist.ipv4_mask = 24;
	c->greylist.ipv6_mask = 64;
	c->greylist.message = "Try again later";
	c->greylist.clock_offset = 0;
	return c;
}

void
cfg_defaults_finalize(struct fconf *c)
{
	if (c->stats.db == NULL)
		c->stats.db = arena_printf(c->arena, "%s/bayes.sqlite", c->state_dir);
	if (c->greylist.db == NULL)
		c->greylist.db = arena_printf(c->arena, "%s/greylist.sqlite", c->state_dir);
}

struct fconf *
cfg_defaults(void)
{
	struct fconf *c = cfg_defaults_new();
	cfg_defaults_finalize(c);
	return c;
}

void
cfg_free(struct fconf **cp)
{
	if (*cp == NULL)
		return;
	struct arena *a = (*cp)->arena;
	arena_free(&a);
	*cp = NULL;
}
