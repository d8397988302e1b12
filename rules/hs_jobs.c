/*
 * hs_jobs.c - Hyperscan compiles in child processes, several at a time.
 *
 * A cold start compiles some fifty databases; the stock body rules alone
 * cost more than the rest together, and Hyperscan's compile time grows
 * faster than the pattern count. Run one compile per core and the wall
 * time is the longest database, not the sum. Children rather than threads
 * because a compile can be stopped only by killing it: some SpamAssassin
 * patterns keep Hyperscan busy for minutes before it gives up. A child
 * sends its database back serialised through a pipe.
 *
 * Child to parent: 'D' len:u64 bytes   a database (want_db)
 *                  'K'                 it compiled (!want_db)
 *                  'E' index:i32 text  it failed; index = Hyperscan's
 *                                      expression, -1 when none named
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fcore/clock.h"
#include "fcore/fdio.h"
#include "fcore/xalloc.h"
#include "rules-private.h"

struct running {
	struct hs_job *job;
	pid_t pid;
	int fd;
	double deadline;       /* 0 = none */
	char *buf;
	size_t len, cap;
};

static hs_error_t
job_compile(const struct hs_job *j, hs_database_t **db, hs_compile_error_t **err)
{
	return hs_compile_multi(j->exprs, j->flags, j->ids, j->n, HS_MODE_BLOCK, NULL, db, err);
}

static void
set_failed(struct hs_job *j, int bad, const char *why)
{
	j->status = HS_JOB_FAILED;
	j->bad = bad;
	snprintf(j->why, sizeof(j->why), "%s", why);
}

/* Without a child (fork failed): no time limit. */
static void
run_here(struct hs_job *j)
{
	hs_database_t *db = NULL;
	hs_compile_error_t *err = NULL;
	if (job_compile(j, &db, &err) != HS_SUCCESS) {
		set_failed(j, err ? err->expression : -1, err ? err->message : "compile failed");
		hs_free_compile_error(err);
		return;
	}
	j->status = HS_JOB_OK;
	if (j->want_db)
		j->db = db;
	else
		hs_free_database(db);
}

static _Noreturn void
child_main(const struct hs_job *j, int fd)
{
	hs_database_t *db = NULL;
	hs_compile_error_t *err = NULL;
	if (job_compile(j, &db, &err) != HS_SUCCESS) {
		int32_t bad = err ? err->expression : -1;
		const char *msg = err ? err->message : "compile failed";
		bool ok = fd_write_all(fd, "E", 1) && fd_write_all(fd, &bad, sizeof(bad)) &&
		    fd_write_all(fd, msg, strlen(msg));
		_exit(ok ? 0 : 1);
	}
	if (!j->want_db)
		_exit(fd_write_all(fd, "K", 1) ? 0 : 1);
	char *bytes = NULL;
	size_t len = 0;
	if (hs_serialize_database(db, &bytes, &len) != HS_SUCCESS)
		_exit(1);
	uint64_t l = len;
	bool ok = fd_write_all(fd, "D", 1) && fd_write_all(fd, &l, sizeof(l)) && fd_write_all(fd, bytes, len);
	_exit(ok ? 0 : 1);
}

static bool
start(struct running *r, struct hs_job *j)
{
	int pfd[2];
	if (pipe(pfd) != 0)
		return false;
	pid_t pid = fork();
	if (pid < 0) {
		close(pfd[0]);
		close(pfd[1]);
		return false;
	}
	if (pid == 0) {
		close(pfd[0]);
		child_main(j, pfd[1]);
	}
	close(pfd[1]);
	fcntl(pfd[0], F_SETFL, fcntl(pfd[0], F_GETFL) | O_NONBLOCK);
	*r = (struct running){ .job = j, .pid = pid, .fd = pfd[0] };
	r->deadline = j->limit_ms ? clock_mono() + j->limit_ms / 1000.0 : 0;
	return true;
}

/* The child's answer, after it closed the pipe. */
static void
settle(struct running *r)
{
	struct hs_job *j = r->job;
	if (r->len >= 1 && r->buf[0] == 'K') {
		j->status = HS_JOB_OK;
	} else if (r->len >= 1 + sizeof(uint64_t) && r->buf[0] == 'D') {
		uint64_t l;
		memcpy(&l, r->buf + 1, sizeof(l));
		hs_database_t *db = NULL;
		if (l == r->len - 1 - sizeof(l) &&
		    hs_deserialize_database(r->buf + 1 + sizeof(l), l, &db) == HS_SUCCESS) {
			j->status = HS_JOB_OK;
			j->db = db;
		} else {
			set_failed(j, -1, "compiled database did not arrive whole");
		}
	} else if (r->len >= 1 + sizeof(int32_t) && r->buf[0] == 'E') {
		int32_t bad;
		memcpy(&bad, r->buf + 1, sizeof(bad));
		size_t ml = r->len - 1 - sizeof(bad);
		char msg[sizeof(j->why)];
		if (ml >= sizeof(msg))
			ml = sizeof(msg) - 1;
		memcpy(msg, r->buf + 1 + sizeof(bad), ml);
		msg[ml] = '\0';
		set_failed(j, bad, msg);
	} else {
		set_failed(j, -1, "compiler process died");
	}
}

static void
finish(struct running *r, bool timed_out)
{
	if (timed_out) {
		kill(r->pid, SIGKILL);
		r->job->status = HS_JOB_TIMEOUT;
		snprintf(r->job->why, sizeof(r->job->why), "compiles for over %u ms", r->job->limit_ms);
	} else {
		settle(r);
	}
	close(r->fd);
	while (waitpid(r->pid, NULL, 0) < 0 && errno == EINTR)
		;
	free(r->buf);
	r->buf = NULL;
}

/* Reads what is there; true at end of file. */
static bool
drain(struct running *r)
{
	for (;;) {
		if (r->cap - r->len < 65536) {
			r->cap = r->cap ? r->cap * 2 : 1 << 17;
			r->buf = xrealloc(r->buf, r->cap);
		}
		ssize_t n = read(r->fd, r->buf + r->len, r->cap - r->len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return false;
		if (n <= 0)
			return true;
		r->len += (size_t)n;
	}
}

static int
poll_timeout(const struct running *run, size_t nrun)
{
	double soonest = 0;
	for (size_t i = 0; i < nrun; i++)
		if (run[i].deadline > 0 && (soonest == 0 || run[i].deadline < soonest))
			soonest = run[i].deadline;
	if (soonest == 0)
		return -1;
	double ms = (soonest - clock_mono()) * 1000.0 + 1;
	return ms < 0 ? 0 : (int)ms;
}

/* Waits for any child to finish or overrun; removes it from run. */
static void
wait_one(struct running *run, size_t *nrun)
{
	struct pollfd pf[HS_JOBS_MAX_PARALLEL];
	for (;;) {
		for (size_t i = 0; i < *nrun; i++)
			pf[i] = (struct pollfd){ .fd = run[i].fd, .events = POLLIN };
		int pr = poll(pf, *nrun, poll_timeout(run, *nrun));
		if (pr < 0 && errno != EINTR)
			pr = 0;
		double t = clock_mono();
		for (size_t i = 0; i < *nrun; i++) {
			bool eof = pr > 0 && (pf[i].revents & (POLLIN | POLLHUP | POLLERR)) && drain(&run[i]);
			bool late = !eof && run[i].deadline > 0 && t >= run[i].deadline;
			if (eof || late) {
				finish(&run[i], late);
				run[i] = run[--*nrun];
				return;
			}
		}
	}
}

unsigned
hs_jobs_parallel(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	if (n < 1)
		n = 1;
	return n > HS_JOBS_MAX_PARALLEL ? HS_JOBS_MAX_PARALLEL : (unsigned)n;
}

void
hs_jobs_run(struct hs_job *jobs, size_t n, unsigned parallel)
{
	struct running run[HS_JOBS_MAX_PARALLEL];
	size_t nrun = 0, next = 0;
	if (parallel < 1)
		parallel = 1;
	if (parallel > HS_JOBS_MAX_PARALLEL)
		parallel = HS_JOBS_MAX_PARALLEL;
	for (size_t i = 0; i < n; i++) {
		jobs[i].status = HS_JOB_FAILED;
		jobs[i].db = NULL;
		jobs[i].bad = -1;
		jobs[i].why[0] = '\0';
	}
	while (next < n || nrun > 0) {
		while (next < n && nrun < parallel) {
			struct hs_job *j = &jobs[next++];
			if (j->n == 0)
				j->status = HS_JOB_OK;
			else if (!start(&run[nrun], j))
				run_here(j);
			else
				nrun++;
		}
		if (nrun > 0)
			wait_one(run, &nrun);
	}
}
