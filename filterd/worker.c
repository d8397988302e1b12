#include "worker.h"

#include <event2/event.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "controller.h"
#include "fcore/log.h"
#include "fcore/xalloc.h"
#include "greylist.h"
#include "http_conn.h"
#include "http_scan.h"
#include "milter_session.h"
#include "stats/stats.h"

struct worker {
	struct event_base *base;
	struct http_server **servers;
	size_t nservers;
	struct milter_server **milters;
	size_t nmilters;
	struct event *stop_check;
	double stop_deadline;
	double grace;
	bool stopping;
};

static unsigned
active_connections(const struct worker *w)
{
	unsigned n = 0;
	for (size_t i = 0; i < w->nservers; i++)
		n += http_server_active(w->servers[i]);
	for (size_t i = 0; i < w->nmilters; i++)
		n += milter_server_active(w->milters[i]);
	return n;
}

static void
stop_check_cb(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;
	(void)fd;
	(void)what;
	if (active_connections(w) == 0 || clock_mono() > w->stop_deadline)
		event_base_loopbreak(w->base);
}

static void
term_cb(evutil_socket_t sig, short what, void *arg)
{
	struct worker *w = arg;
	(void)what;
	if (w->stopping)
		return;
	w->stopping = true;
	w->stop_deadline = clock_mono() + w->grace;
	log_info("signal %d: stopping after %u connection(s) in flight", (int)sig, active_connections(w));
	for (size_t i = 0; i < w->nservers; i++)
		http_server_stop(w->servers[i]);
	for (size_t i = 0; i < w->nmilters; i++)
		milter_server_stop(w->milters[i]);
	struct timeval tv = { 0, 50000 };
	w->stop_check = event_new(w->base, -1, EV_PERSIST, stop_check_cb, w);
	event_add(w->stop_check, &tv);
}

static void
add_server(struct worker *w, int fd, const struct http_server_opts *o)
{
	struct http_server *s = http_server_new(w->base, fd, o);
	if (s == NULL)
		log_fatal("cannot listen on fd %d", fd);
	w->servers = xreallocarray(w->servers, w->nservers + 1, sizeof(*w->servers));
	w->servers[w->nservers++] = s;
}

static void
add_milter(struct worker *w, int fd, struct scan_engine *engine, struct shm_stats *shm)
{
	struct milter_server *s = milter_server_new(w->base, fd, engine, shm);
	if (s == NULL)
		log_fatal("cannot listen for milter on fd %d", fd);
	w->milters = xreallocarray(w->milters, w->nmilters + 1, sizeof(*w->milters));
	w->milters[w->nmilters++] = s;
}

static void
base_opts(struct http_server_opts *o, const struct fconf *cfg)
{
	memset(o, 0, sizeof(*o));
	o->max_headers = (size_t)cfg->limits.http_headers;
	o->max_body = cfg->limits.max_message;
	o->io_timeout = cfg->limits.io_timeout;
	o->max_connections = cfg->limits.max_connections;
}

int
worker_main(enum worker_role role, struct scan_engine *engine, const struct worker_fds *fds,
    struct shm_stats *shm)
{
	const struct fconf *cfg = engine->cfg;
	/* Die with the supervisor: an orphaned worker would keep the ports. */
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() == 1)
		return 1;
	log_set_ident(role == WORKER_SCAN ? "filterd-worker" : "filterd-controller");
	char err[512];
	if (scan_engine_attach(engine, role == WORKER_CONTROLLER, err, sizeof(err)) != 0) {
		log_error("%s", err);
		return 1;
	}
	/* The one writer keeps the workers' snapshot of the global store. */
	if (role == WORKER_CONTROLLER && engine->stats != NULL &&
	    stats_snapshot_follow(engine->stats, err, sizeof(err)) != 0)
		log_warn("bayes: %s (workers read SQLite only)", err);
	/* Only scan workers greylist; each opens its own connection (after fork). */
	if (role == WORKER_SCAN && cfg->greylist.enabled && engine->greylist == NULL &&
	    (engine->greylist = greylist_open(cfg, err, sizeof(err))) == NULL) {
		log_error("%s", err);
		return 1;
	}
	struct worker w;
	memset(&w, 0, sizeof(w));
	w.base = event_base_new();
	/* three priorities: events default to the middle one, and accepting
	 * takes the lowest (accept_turn.h) */
	if (w.base == NULL || event_base_priority_init(w.base, 3) != 0)
		log_fatal("event_base_new failed");
	if (scan_engine_set_loop(engine, w.base, err, sizeof(err)) != 0) {
		log_error("%s", err);
		return 1;
	}
	struct http_scan_ctx scan_ctx = { engine, shm };
	struct controller_ctx ctl_ctx = { { engine, shm }, cfg };
	struct http_server_opts o;
	if (role == WORKER_SCAN) {
		base_opts(&o, cfg);
		o.error_domain = true;
		o.handler = http_scan_worker_handler;
		o.arg = &scan_ctx;
		for (size_t i = 0; i < fds->nscan; i++)
			add_server(&w, fds->scan[i], &o);
		for (size_t i = 0; i < fds->nmilter; i++)
			add_milter(&w, fds->milter[i], engine, shm);
	} else {
		base_opts(&o, cfg);
		o.no_store = true;
		o.on_head = controller_on_head;
		o.handler = controller_handler;
		o.arg = &ctl_ctx;
		for (size_t i = 0; i < fds->ncontroller; i++)
			add_server(&w, fds->controller[i], &o);
	}
	struct event *sigterm = evsignal_new(w.base, SIGTERM, term_cb, &w);
	struct event *sigint = evsignal_new(w.base, SIGINT, term_cb, &w);
	evsignal_add(sigterm, NULL);
	evsignal_add(sigint, NULL);
	w.stop_deadline = 1e300;
	w.grace = cfg->limits.task_timeout + 2.0;
	event_base_dispatch(w.base);
	log_info("stopped");
	return 0;
}
