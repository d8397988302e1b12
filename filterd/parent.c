#include "parent.h"

#include <errno.h>
#include <fcntl.h>
#include <event2/event.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fcore/log.h"
#include "greylist.h"
#include "fcore/xalloc.h"
#include "listen.h"
#include "scan.h"
#include "shm.h"
#include "statedir.h"
#include "stats/stats.h"
#include "worker.h"

#define PARENT_MAX_CHILDREN 258
#define PARENT_KILL_AFTER 20.0 /* seconds a stopping child may take before SIGKILL */

struct child {
	pid_t pid;
	enum worker_role role;
	unsigned generation;
	double started;
};

struct generation {
	struct fconf *cfg;
	struct scan_engine engine;
	struct worker_fds fds;
};

struct parent {
	struct event_base *base;
	const char *config_path;
	struct generation *gen;
	unsigned gen_no;
	struct child children[PARENT_MAX_CHILDREN];
	size_t nchildren;
	struct shm_stats *shm;
	bool stopping;
	double stop_started;
	struct event *tick;
};

static unsigned
worker_count(const struct fconf *cfg)
{
	if (cfg->workers > 0)
		return cfg->workers;
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	return n > 0 && n < 64 ? (unsigned)n : 2;
}

static int
open_list(const struct cfg_strlist *l, int **fds_r, size_t *n_r)
{
	char err[512];
	*fds_r = xcalloc(l->n ? l->n : 1, sizeof(int));
	*n_r = 0;
	for (size_t i = 0; i < l->n; i++) {
		int fd = listen_open(l->v[i], err, sizeof(err));
		if (fd < 0) {
			log_error("cannot listen: %s", err);
			return -1;
		}
		(*fds_r)[(*n_r)++] = fd;
	}
	return 0;
}

static void
close_fds(struct worker_fds *f)
{
	for (size_t i = 0; i < f->nscan; i++)
		close(f->scan[i]);
	for (size_t i = 0; i < f->ncontroller; i++)
		close(f->controller[i]);
	for (size_t i = 0; i < f->nmilter; i++)
		close(f->milter[i]);
	free(f->scan);
	free(f->controller);
	free(f->milter);
	memset(f, 0, sizeof(*f));
}

static void
generation_free(struct generation **gp)
{
	struct generation *g = *gp;
	if (g == NULL)
		return;
	close_fds(&g->fds);
	scan_engine_deinit(&g->engine);
	cfg_free(&g->cfg);
	free(g);
	*gp = NULL;
}

static bool
same_list(const struct cfg_strlist *a, const struct cfg_strlist *b)
{
	if (a->n != b->n)
		return false;
	for (size_t i = 0; i < a->n; i++)
		if (strcmp(a->v[i], b->v[i]) != 0)
			return false;
	return true;
}

/* The same addresses as the running generation: share its sockets (dup), since
 * a second bind to a listening address would fail. */
static int
reuse_or_open(const struct cfg_strlist *l, const struct cfg_strlist *old_l, const int *old_fds,
    int **fds_r, size_t *n_r)
{
	if (old_l == NULL || !same_list(l, old_l))
		return open_list(l, fds_r, n_r);
	*fds_r = xcalloc(l->n ? l->n : 1, sizeof(int));
	for (*n_r = 0; *n_r < l->n; (*n_r)++) {
		(*fds_r)[*n_r] = fcntl(old_fds[*n_r], F_DUPFD_CLOEXEC, 3);
		if ((*fds_r)[*n_r] < 0)
			return -1;
	}
	return 0;
}

/* Creates or migrates the Bayes database once, before fork, so workers that
 * open it read-only never race each other to create the schema. */
static int
prepare_stats(const struct fconf *cfg, char *err, size_t errlen)
{
	if (!cfg->stats.enabled)
		return 0;
	struct stats_ctx *c = stats_open(cfg, true, err, errlen);
	if (c == NULL)
		return -1;
	stats_close(&c);
	return 0;
}

static struct generation *
generation_new(struct fconf *cfg, const struct generation *old)
{
	struct generation *g = xcalloc(1, sizeof(*g));
	g->cfg = cfg;
	char err[1024];
	if (scan_engine_init(&g->engine, cfg, true, err, sizeof(err)) != 0 || prepare_stats(cfg, err, sizeof(err)) != 0 ||
	    greylist_prepare(cfg, err, sizeof(err)) != 0) {
		log_error("%s", err);
		generation_free(&g);
		return NULL;
	}
	const struct fconf *oc = old ? old->cfg : NULL;
	if (reuse_or_open(&cfg->scan.listen, oc ? &oc->scan.listen : NULL, old ? old->fds.scan : NULL,
	        &g->fds.scan, &g->fds.nscan) != 0 ||
	    reuse_or_open(&cfg->controller.listen, oc ? &oc->controller.listen : NULL,
	        old ? old->fds.controller : NULL, &g->fds.controller, &g->fds.ncontroller) != 0 ||
	    reuse_or_open(&cfg->milter.listen, oc ? &oc->milter.listen : NULL, old ? old->fds.milter : NULL,
	        &g->fds.milter, &g->fds.nmilter) != 0) {
		generation_free(&g);
		return NULL;
	}
	return g;
}

static void
spawn(struct parent *p, enum worker_role role)
{
	if (p->nchildren >= PARENT_MAX_CHILDREN)
		return;
	pid_t pid = fork();
	if (pid < 0) {
		log_error("fork: %s", strerror(errno));
		return;
	}
	if (pid == 0) {
		/* The parent's loop and signal plumbing must not live on in the
		 * child: reinit gives the child its own backend fds (so freeing
		 * does not touch the parent's epoll set), then free restores the
		 * signal handlers the parent's loop installed. */
		if (p->base != NULL) {
			event_reinit(p->base);
			event_base_free(p->base);
			p->base = NULL;
		}
		signal(SIGCHLD, SIG_DFL);
		signal(SIGHUP, SIG_IGN);
		signal(SIGTERM, SIG_DFL);
		signal(SIGINT, SIG_DFL);
		signal(SIGPIPE, SIG_IGN);
		int rc = worker_main(role, &p->gen->engine, &p->gen->fds, p->shm);
		_exit(rc);
	}
	struct child *c = &p->children[p->nchildren++];
	c->pid = pid;
	c->role = role;
	c->generation = p->gen_no;
	c->started = clock_mono();
}

static void
spawn_generation(struct parent *p)
{
	unsigned n = worker_count(p->gen->cfg);
	for (unsigned i = 0; i < n; i++)
		spawn(p, WORKER_SCAN);
	spawn(p, WORKER_CONTROLLER);
	log_info("generation %u: %u scan worker(s) and a controller started", p->gen_no, n);
}

static void
signal_generation(struct parent *p, unsigned gen, int sig)
{
	for (size_t i = 0; i < p->nchildren; i++)
		if (p->children[i].generation == gen || gen == 0)
			kill(p->children[i].pid, sig);
}

struct respawn {
	struct parent *p;
	enum worker_role role;
	unsigned generation;
	struct event *ev;
};

static void
respawn_cb(evutil_socket_t fd, short what, void *arg)
{
	struct respawn *r = arg;
	(void)fd;
	(void)what;
	if (!r->p->stopping && r->generation == r->p->gen_no)
		spawn(r->p, r->role);
	event_free(r->ev);
	free(r);
}

static void
child_died(struct parent *p, size_t idx, int status)
{
	struct child c = p->children[idx];
	p->children[idx] = p->children[--p->nchildren];
	if (p->stopping || c.generation != p->gen_no)
		return;
	if (WIFSIGNALED(status))
		log_warn("child %d died on signal %d; restarting it", (int)c.pid, WTERMSIG(status));
	else
		log_warn("child %d exited with status %d; restarting it", (int)c.pid, WEXITSTATUS(status));
	struct respawn *r = xcalloc(1, sizeof(*r));
	r->p = p;
	r->role = c.role;
	r->generation = c.generation;
	r->ev = evtimer_new(p->base, respawn_cb, r);
	/* A child that died young waits a second: a crash loop must not spin. */
	struct timeval tv = { clock_mono() - c.started < 1.0 ? 1 : 0, 0 };
	evtimer_add(r->ev, &tv);
}

static void
sigchld_cb(evutil_socket_t fd, short what, void *arg)
{
	struct parent *p = arg;
	int status;
	pid_t pid;
	(void)fd;
	(void)what;
	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		for (size_t i = 0; i < p->nchildren; i++) {
			if (p->children[i].pid == pid) {
				child_died(p, i, status);
				break;
			}
		}
	}
	if (p->stopping && p->nchildren == 0)
		event_base_loopbreak(p->base);
}

static void
sighup_cb(evutil_socket_t fd, short what, void *arg)
{
	struct parent *p = arg;
	(void)fd;
	(void)what;
	if (p->config_path == NULL) {
		log_info("SIGHUP: running on embedded defaults, nothing to reload");
		return;
	}
	char err[1024];
	struct fconf *cfg = cfg_load(p->config_path, err, sizeof(err));
	if (cfg == NULL) {
		log_error("reload failed, keeping the running configuration: %s", err);
		return;
	}
	struct generation *g = generation_new(cfg, p->gen);
	if (g == NULL) {
		log_error("reload failed while building the new configuration; keeping the old one");
		return;
	}
	struct generation *old = p->gen;
	unsigned old_no = p->gen_no;
	p->gen = g;
	p->gen_no++;
	spawn_generation(p);
	signal_generation(p, old_no, SIGTERM);
	generation_free(&old);
	log_info("configuration reloaded from %s (config_id %s)", p->config_path, cfg->hash);
}

static void
stop_cb(evutil_socket_t sig, short what, void *arg)
{
	struct parent *p = arg;
	(void)what;
	if (!p->stopping) {
		log_info("signal %d: stopping", (int)sig);
		p->stopping = true;
		p->stop_started = clock_mono();
		signal_generation(p, 0, SIGTERM);
	}
	if (p->nchildren == 0)
		event_base_loopbreak(p->base);
}

static void
tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct parent *p = arg;
	(void)fd;
	(void)what;
	if (p->stopping && clock_mono() - p->stop_started > PARENT_KILL_AFTER) {
		log_warn("children still running after %.0f s; killing them", PARENT_KILL_AFTER);
		signal_generation(p, 0, SIGKILL);
	}
}

int
parent_main(struct fconf *cfg, const char *config_path)
{
	struct parent p;
	memset(&p, 0, sizeof(p));
	p.config_path = config_path;
	signal(SIGPIPE, SIG_IGN);
	if (state_dir_ensure(cfg->state_dir) != 0)
		return 1;
	p.shm = shm_stats_create();
	p.gen = generation_new(cfg, NULL);
	if (p.gen == NULL)
		return 1;
	p.gen_no = 1;
	p.base = event_base_new();
	struct event *evs[5];
	evs[0] = evsignal_new(p.base, SIGCHLD, sigchld_cb, &p);
	evs[1] = evsignal_new(p.base, SIGHUP, sighup_cb, &p);
	evs[2] = evsignal_new(p.base, SIGTERM, stop_cb, &p);
	evs[3] = evsignal_new(p.base, SIGINT, stop_cb, &p);
	evs[4] = event_new(p.base, -1, EV_PERSIST, tick_cb, &p);
	for (int i = 0; i < 4; i++)
		evsignal_add(evs[i], NULL);
	struct timeval tv = { 1, 0 };
	event_add(evs[4], &tv);
	spawn_generation(&p);
	event_base_dispatch(p.base);
	for (int i = 0; i < 5; i++)
		event_free(evs[i]);
	event_base_free(p.base);
	generation_free(&p.gen);
	log_info("stopped");
	return 0;
}
