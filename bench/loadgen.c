/*
 * loadgen.c - replay a corpus against a scanner and measure it.
 *
 * Every file of the corpus is posted once per pass, one request per
 * connection like rspamc and spamc do (HTTP/1.0 with Connection: close, or
 * the SPAMC protocol), keeping N connections busy. Messages are read into
 * memory first so the disk is not measured. One thread, one epoll loop:
 * the generator prints its own CPU time so a reader can see it was not the
 * bottleneck.
 *
 * Build: cc -O2 -o loadgen bench/loadgen.c -ljansson
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <dirent.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

enum proto { PROTO_HTTP, PROTO_SPAMC };

enum outcome {
	OUT_OK,
	OUT_CONNECT,	/* connect refused / failed */
	OUT_IO,		/* reset or error while sending or receiving */
	OUT_TIMEOUT,
	OUT_STATUS,	/* HTTP status not accepted, or spamd not EX_OK */
	OUT_EMPTY,	/* no reply bytes, or no body */
	OUT_BADREPLY,	/* body is not JSON / no Spam: header */
	OUT_N
};

static const char *const outcome_names[OUT_N] = {
	"ok", "connect", "io", "timeout", "status", "empty", "bad_reply",
};

struct file {
	char *path;
	char *req;		/* the whole request: header block + message */
	size_t req_len;
	bool spam_label;	/* path has a "spam" component */
	bool ham_label;
};

struct opts {
	enum proto proto;
	const char *host;
	int port;
	const char *path;	/* HTTP path */
	const char *password;
	const char *spamc_cmd;	/* CHECK or SYMBOLS */
	int conns;
	int passes;
	size_t limit;		/* files used, 0 = all */
	double duration;	/* stop dispatching after this, 0 = never */
	double timeout;
	int ok_status[8];
	int n_ok_status;
	bool json_reply;	/* the reply body must be JSON */
	const char *out_path;	/* per-request lines */
	bool json_summary;
	const char *label;
	const char *extra_header;	/* one more request header line */
	unsigned long seed;	/* shuffle the files, 0 = sorted order */
};

struct result {
	double lat_ms;
	int status;
	enum outcome out;
	double score;
	double bayes;		/* sum of BAYES* symbol scores, or SA bucket */
	bool has_bayes;
	char action[24];
	char reason[256];	/* reason phrase of a refused request */
	unsigned file;
};

struct slot {
	int fd;
	unsigned file;
	size_t sent;
	char *rbuf;
	size_t rlen, rcap;
	double t0;
	bool active;
};

struct run {
	struct opts o;
	struct file *files;
	size_t n_files;
	struct result *res;
	size_t n_jobs, next_job, n_done;
	struct slot *slots;
	int ep;
	struct sockaddr_in addr;
	double t_start;
	bool stop_dispatch;
};

static double
now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
die(const char *what)
{
	fprintf(stderr, "loadgen: %s: %s\n", what, strerror(errno));
	exit(2);
}

static void *
xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);
	if (q == NULL)
		die("realloc");
	return q;
}

/* --- corpus ------------------------------------------------------------ */

struct pathlist {
	char **v;
	size_t n, cap;
};

static void
pathlist_add(struct pathlist *l, const char *p)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 256;
		l->v = xrealloc(l->v, l->cap * sizeof(*l->v));
	}
	l->v[l->n++] = strdup(p);
}

static bool
skip_name(const char *name)
{
	/* dot files, and the corpus's own manifest, are not messages */
	return name[0] == '.' || strcmp(name, "MANIFEST") == 0 ||
	    strcmp(name, "LICENSES") == 0;
}

/* Iterative walk: an explicit stack of directories, no recursion. */
static void
collect(struct pathlist *out, const char *root)
{
	struct stat st;
	if (stat(root, &st) != 0)
		die(root);
	if (S_ISREG(st.st_mode)) {
		pathlist_add(out, root);
		return;
	}
	struct pathlist dirs = { 0 };
	pathlist_add(&dirs, root);
	while (dirs.n > 0) {
		char *dir = dirs.v[--dirs.n];
		DIR *d = opendir(dir);
		if (d == NULL)
			die(dir);
		struct dirent *e;
		while ((e = readdir(d)) != NULL) {
			if (skip_name(e->d_name))
				continue;
			char *p;
			if (asprintf(&p, "%s/%s", dir, e->d_name) < 0)
				die("asprintf");
			if (stat(p, &st) == 0 && S_ISDIR(st.st_mode))
				pathlist_add(&dirs, p);
			else if (S_ISREG(st.st_mode))
				pathlist_add(out, p);
			free(p);
		}
		closedir(d);
		free(dir);
	}
	free(dirs.v);
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static char *
read_whole(const char *path, size_t *len_r)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL)
		die(path);
	if (fseek(f, 0, SEEK_END) != 0)
		die(path);
	long n = ftell(f);
	if (n < 0)
		die(path);
	rewind(f);
	char *b = xrealloc(NULL, (size_t)n);
	if (n > 0 && fread(b, 1, (size_t)n, f) != (size_t)n)
		die(path);
	fclose(f);
	*len_r = (size_t)n;
	return b;
}

static bool
has_component(const char *path, const char *name)
{
	size_t n = strlen(name);
	for (const char *p = path; (p = strstr(p, name)) != NULL; p += n) {
		bool start = p == path || p[-1] == '/';
		if (start && p[n] == '/')
			return true;
	}
	return false;
}

static void
build_request(struct file *f, const struct opts *o, const char *msg, size_t len)
{
	char hdr[4096];
	int h;
	if (o->proto == PROTO_SPAMC) {
		h = snprintf(hdr, sizeof(hdr),
		    "%s SPAMC/1.5\r\nContent-length: %zu\r\n\r\n", o->spamc_cmd, len);
	} else {
		char pw[512] = "";
		char extra[512] = "";
		if (o->password != NULL)
			snprintf(pw, sizeof(pw), "Password: %s\r\n", o->password);
		if (o->extra_header != NULL)
			snprintf(extra, sizeof(extra), "%s\r\n", o->extra_header);
		h = snprintf(hdr, sizeof(hdr),
		    "POST %s HTTP/1.0\r\nConnection: close\r\nUser-Agent: rspamc\r\n"
		    "Flags: body_block\r\nFilename: %s\r\n%s%sContent-Length: %zu\r\n\r\n",
		    o->path, f->path, pw, extra, len);
	}
	if (h < 0 || (size_t)h >= sizeof(hdr)) {
		fprintf(stderr, "loadgen: request header too long for %s\n", f->path);
		exit(2);
	}
	f->req = xrealloc(NULL, (size_t)h + len);
	memcpy(f->req, hdr, (size_t)h);
	memcpy(f->req + h, msg, len);
	f->req_len = (size_t)h + len;
}

/*
 * A fixed-seed shuffle mixes ham and spam, so a run cut short by -d sees
 * the same sample on every engine.
 */
static void
shuffle(char **v, size_t n, unsigned long seed)
{
	uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
	if (seed == 0)
		return;
	for (size_t i = n; i > 1; i--) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		size_t j = (size_t)(x % i);
		char *t = v[i - 1];
		v[i - 1] = v[j];
		v[j] = t;
	}
}

static void
load_corpus(struct run *r, char **roots, int n_roots)
{
	struct pathlist pl = { 0 };
	for (int i = 0; i < n_roots; i++)
		collect(&pl, roots[i]);
	qsort(pl.v, pl.n, sizeof(*pl.v), cmp_str);
	if (r->o.limit > 0 && pl.n > r->o.limit) {
		/* spread the sample over the sorted list so both classes appear */
		size_t step = pl.n / r->o.limit;
		for (size_t i = 0; i < r->o.limit; i++)
			pl.v[i] = pl.v[i * step];
		pl.n = r->o.limit;
	}
	shuffle(pl.v, pl.n, r->o.seed);
	r->files = xrealloc(NULL, pl.n * sizeof(*r->files));
	r->n_files = pl.n;
	for (size_t i = 0; i < pl.n; i++) {
		struct file *f = &r->files[i];
		f->path = pl.v[i];
		f->spam_label = has_component(f->path, "spam");
		f->ham_label = has_component(f->path, "ham");
		size_t len;
		char *msg = read_whole(f->path, &len);
		build_request(f, &r->o, msg, len);
		free(msg);
	}
	free(pl.v);
}

/* --- reply parsing ----------------------------------------------------- */

/* Finds the end of the header block; returns the body offset or 0. */
static size_t
header_end(const char *b, size_t n)
{
	for (size_t i = 0; i + 3 < n; i++)
		if (b[i] == '\r' && b[i + 1] == '\n' && b[i + 2] == '\r' && b[i + 3] == '\n')
			return i + 4;
	for (size_t i = 0; i + 1 < n; i++)
		if (b[i] == '\n' && b[i + 1] == '\n')
			return i + 2;
	return 0;
}

/* Value of header `name` within [b, b+n), NUL-terminated into out. */
static bool
header_value(const char *b, size_t n, const char *name, char *out, size_t outsz)
{
	size_t nl = strlen(name);
	for (size_t i = 0; i < n;) {
		const char *line = b + i;
		const char *eol = memchr(line, '\n', n - i);
		size_t ll = eol ? (size_t)(eol - line) : n - i;
		if (ll > nl && strncasecmp(line, name, nl) == 0 && line[nl] == ':') {
			size_t s = nl + 1;
			while (s < ll && (line[s] == ' ' || line[s] == '\t'))
				s++;
			size_t e = ll;
			while (e > s && (line[e - 1] == '\r' || line[e - 1] == ' '))
				e--;
			size_t k = e - s < outsz - 1 ? e - s : outsz - 1;
			memcpy(out, line + s, k);
			out[k] = '\0';
			return true;
		}
		i += ll + 1;
	}
	return false;
}

/*
 * Whether body is one well-formed JSON object, checked in one pass without
 * building it: a load run only needs to know the reply is whole and valid,
 * and jansson's tree for a 2 KB reply cost 4 % of the machine's CPU under
 * load, time the engine under test then did not get. The fields are read
 * (parse_json_body) only when -o writes them.
 */
#define JSON_MAX_DEPTH 64

static const char *
json_skip_ws(const char *p, const char *e)
{
	while (p < e && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
		p++;
	return p;
}

static const char *
json_string_end(const char *p, const char *e)
{
	for (p++; p < e; p++) {
		unsigned char c = (unsigned char)*p;
		if (c == '"')
			return p + 1;
		if (c < 0x20)
			return NULL;
		if (c == '\\') {
			if (++p >= e)
				return NULL;
			if (*p == 'u') {
				for (int k = 0; k < 4; k++)
					if (++p >= e || !isxdigit((unsigned char)*p))
						return NULL;
			} else if (strchr("\"\\/bfnrt", *p) == NULL)
				return NULL;
		}
	}
	return NULL;
}

static const char *
json_number_end(const char *p, const char *e)
{
	const char *s = p;
	if (p < e && *p == '-')
		p++;
	const char *d = p;
	while (p < e && isdigit((unsigned char)*p))
		p++;
	if (p == d || (*d == '0' && p - d > 1))
		return NULL;
	if (p < e && *p == '.') {
		d = ++p;
		while (p < e && isdigit((unsigned char)*p))
			p++;
		if (p == d)
			return NULL;
	}
	if (p < e && (*p == 'e' || *p == 'E')) {
		if (++p < e && (*p == '+' || *p == '-'))
			p++;
		d = p;
		while (p < e && isdigit((unsigned char)*p))
			p++;
		if (p == d)
			return NULL;
	}
	return p > s ? p : NULL;
}

static const char *
json_word_end(const char *p, const char *e, const char *w)
{
	size_t n = strlen(w);
	return (size_t)(e - p) >= n && memcmp(p, w, n) == 0 ? p + n : NULL;
}

static const char *
json_scalar_end(const char *p, const char *e)
{
	switch (*p) {
	case '"': return json_string_end(p, e);
	case 't': return json_word_end(p, e, "true");
	case 'f': return json_word_end(p, e, "false");
	case 'n': return json_word_end(p, e, "null");
	default: return json_number_end(p, e);
	}
}

/* An object member's name and colon at p; what follows, or NULL. */
static const char *
json_member_key(const char *p, const char *e)
{
	p = json_skip_ws(p, e);
	if (p >= e || *p != '"' || (p = json_string_end(p, e)) == NULL)
		return NULL;
	p = json_skip_ws(p, e);
	return p < e && *p == ':' ? p + 1 : NULL;
}

/* The end of the value at p, or NULL. Open containers are a stack of their
 * opening brackets, so nesting is a loop, not recursion. */
static const char *
json_value_end(const char *p, const char *e)
{
	char stack[JSON_MAX_DEPTH];
	int depth = 0;
	bool want_value = true;
	for (;;) {
		if (!want_value && depth == 0)
			return p;
		p = json_skip_ws(p, e);
		if (p >= e)
			return NULL;
		if (want_value && (*p == '{' || *p == '[')) {
			if (depth == JSON_MAX_DEPTH)
				return NULL;
			stack[depth++] = *p++;
			p = json_skip_ws(p, e);
			if (p < e && *p == (stack[depth - 1] == '{' ? '}' : ']')) {
				p++;
				depth--;
				want_value = false;
			} else if (stack[depth - 1] == '{' && (p = json_member_key(p, e)) == NULL) {
				return NULL;
			}
			continue;
		}
		if (want_value) {
			if ((p = json_scalar_end(p, e)) == NULL)
				return NULL;
			want_value = false;
			continue;
		}
		if (*p == (stack[depth - 1] == '{' ? '}' : ']')) {
			p++;
			depth--;
			continue;
		}
		if (*p++ != ',')
			return NULL;
		if (stack[depth - 1] == '{' && (p = json_member_key(p, e)) == NULL)
			return NULL;
		want_value = true;
	}
}

static bool
json_object_valid(const char *body, size_t len)
{
	const char *e = body + len, *p = json_skip_ws(body, e);
	if (p >= e || *p != '{' || (p = json_value_end(p, e)) == NULL)
		return false;
	return json_skip_ws(p, e) == e;
}

static void
parse_json_body(struct result *res, const char *body, size_t len)
{
	json_error_t jerr;
	json_t *root = json_loadb(body, len, 0, &jerr);
	if (root == NULL || !json_is_object(root)) {
		res->out = OUT_BADREPLY;
		json_decref(root);
		return;
	}
	json_t *sc = json_object_get(root, "score");
	if (json_is_number(sc))
		res->score = json_number_value(sc);
	json_t *act = json_object_get(root, "action");
	if (json_is_string(act))
		snprintf(res->action, sizeof(res->action), "%s", json_string_value(act));
	json_t *syms = json_object_get(root, "symbols");
	const char *name;
	json_t *sym;
	if (json_is_object(syms)) {
		json_object_foreach(syms, name, sym) {
			if (strncmp(name, "BAYES", 5) != 0)
				continue;
			json_t *s = json_object_get(sym, "score");
			if (json_is_number(s)) {
				res->bayes += json_number_value(s);
				res->has_bayes = true;
			}
		}
	}
	json_decref(root);
}

/* "HTTP/1.1 204 <mid> contains less tokens..." -> the text after the code */
static void
status_reason(struct result *res, const char *b, size_t n)
{
	const char *eol = memchr(b, '\n', n);
	size_t ll = eol ? (size_t)(eol - b) : n;
	size_t i = 0;
	for (int sp = 0; i < ll && sp < 2; i++)
		sp += b[i] == ' ';
	size_t k = 0;
	for (; i < ll && b[i] != '\r' && k + 1 < sizeof(res->reason); i++)
		res->reason[k++] = b[i] == '\t' ? ' ' : b[i];
	res->reason[k] = '\0';
}

static void
parse_http(struct result *res, const char *b, size_t n, const struct opts *o)
{
	int status = 0;
	if (n < 12 || sscanf(b, "HTTP/%*d.%*d %d", &status) != 1) {
		res->out = n == 0 ? OUT_EMPTY : OUT_BADREPLY;
		return;
	}
	res->status = status;
	bool ok = false;
	for (int i = 0; i < o->n_ok_status; i++)
		ok |= status == o->ok_status[i];
	if (!ok) {
		res->out = OUT_STATUS;
		status_reason(res, b, n);
		return;
	}
	size_t body = header_end(b, n);
	if (body == 0) {
		res->out = OUT_BADREPLY;
		return;
	}
	size_t blen = n - body;
	char v[64];
	if (header_value(b, body, "Content-Length", v, sizeof(v))) {
		unsigned long cl = strtoul(v, NULL, 10);
		if (cl < blen)
			blen = cl;
		else if (cl > blen) {
			res->out = OUT_IO;	/* truncated */
			return;
		}
	}
	/* with body_block, a rewritten message may follow the JSON */
	if (header_value(b, body, "Message-Offset", v, sizeof(v))) {
		unsigned long off = strtoul(v, NULL, 10);
		if (off < blen)
			blen = off;
	}
	if (blen == 0) {
		res->out = status == 200 && o->json_reply ? OUT_EMPTY : OUT_OK;
		return;
	}
	if (o->json_reply && status == 200 && o->out_path != NULL)
		parse_json_body(res, b + body, blen);
	else if (o->json_reply && status == 200 && !json_object_valid(b + body, blen))
		res->out = OUT_BADREPLY;
}

/* SpamAssassin's BAYES_nn rules name the probability bucket. */
static void
spamc_bayes(struct result *res, const char *body, size_t len)
{
	for (size_t i = 0; i + 7 < len; i++) {
		if (memcmp(body + i, "BAYES_", 6) != 0)
			continue;
		if (i > 0 && body[i - 1] != ',' && body[i - 1] != ' ' && body[i - 1] != '\n')
			continue;
		int v = 0, k = 0;
		for (size_t j = i + 6; j < len && k < 4 && body[j] >= '0' && body[j] <= '9'; j++, k++)
			v = v * 10 + (body[j] - '0');
		if (k > 0) {
			/* BAYES_999 is a finer bucket above BAYES_99 */
			res->bayes = k == 3 ? v / 10.0 + 0.05 : v;
			res->has_bayes = true;
		}
	}
}

static void
parse_spamc(struct result *res, const char *b, size_t n)
{
	int code = -1;
	if (n == 0) {
		res->out = OUT_EMPTY;
		return;
	}
	if (sscanf(b, "SPAMD/%*d.%*d %d", &code) != 1) {
		res->out = OUT_BADREPLY;
		return;
	}
	res->status = code;
	if (code != 0) {
		res->out = OUT_STATUS;
		return;
	}
	size_t body = header_end(b, n);
	size_t hlen = body ? body : n;
	char v[128];
	char tf[8];
	double req;
	if (!header_value(b, hlen, "Spam", v, sizeof(v)) ||
	    sscanf(v, "%7s ; %lf / %lf", tf, &res->score, &req) != 3) {
		res->out = OUT_BADREPLY;
		return;
	}
	snprintf(res->action, sizeof(res->action), "%s",
	    strcasecmp(tf, "True") == 0 ? "spam" : "ham");
	if (body)
		spamc_bayes(res, b + body, n - body);
}

/* --- event loop -------------------------------------------------------- */

static void
slot_close(struct run *r, struct slot *s)
{
	epoll_ctl(r->ep, EPOLL_CTL_DEL, s->fd, NULL);
	close(s->fd);
	s->fd = -1;
	s->active = false;
}

static void
finish(struct run *r, struct slot *s, enum outcome out)
{
	struct result *res = &r->res[r->n_done++];
	memset(res, 0, sizeof(*res));
	res->lat_ms = (now_s() - s->t0) * 1e3;
	res->file = s->file;
	res->out = out;
	res->score = NAN;
	if (out == OUT_OK) {
		if (r->o.proto == PROTO_SPAMC)
			parse_spamc(res, s->rbuf, s->rlen);
		else
			parse_http(res, s->rbuf, s->rlen, &r->o);
	}
	slot_close(r, s);
}

static bool
slot_start(struct run *r, struct slot *s)
{
	if (r->stop_dispatch || r->next_job >= r->n_jobs)
		return false;
	if (r->o.duration > 0 && now_s() - r->t_start >= r->o.duration) {
		r->stop_dispatch = true;
		return false;
	}
	s->file = (unsigned)(r->next_job++ % r->n_files);
	s->sent = 0;
	s->rlen = 0;
	s->t0 = now_s();
	s->active = true;
	s->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s->fd < 0)
		die("socket");
	int one = 1;
	setsockopt(s->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	int rc = connect(s->fd, (struct sockaddr *)&r->addr, sizeof(r->addr));
	if (rc != 0 && errno != EINPROGRESS) {
		close(s->fd);
		s->fd = -1;
		s->active = false;
		struct result *res = &r->res[r->n_done++];
		memset(res, 0, sizeof(*res));
		res->file = s->file;
		res->out = OUT_CONNECT;
		res->score = NAN;
		return true;
	}
	struct epoll_event ev = { .events = EPOLLOUT, .data.ptr = s };
	if (epoll_ctl(r->ep, EPOLL_CTL_ADD, s->fd, &ev) != 0)
		die("epoll_ctl");
	return true;
}

static void
slot_write(struct run *r, struct slot *s)
{
	const struct file *f = &r->files[s->file];
	if (s->sent == 0) {
		int err = 0;
		socklen_t el = sizeof(err);
		getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &el);
		if (err != 0) {
			finish(r, s, OUT_CONNECT);
			return;
		}
	}
	while (s->sent < f->req_len) {
		ssize_t w = send(s->fd, f->req + s->sent, f->req_len - s->sent, MSG_NOSIGNAL);
		if (w < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (w <= 0) {
			/* a server may answer (413, 4xx) and close before reading all */
			finish(r, s, s->sent == 0 ? OUT_CONNECT : OUT_IO);
			return;
		}
		s->sent += (size_t)w;
	}
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = s };
	epoll_ctl(r->ep, EPOLL_CTL_MOD, s->fd, &ev);
}

static void
slot_read(struct run *r, struct slot *s)
{
	for (;;) {
		if (s->rcap - s->rlen < 65536) {
			s->rcap = s->rcap ? s->rcap * 2 : 131072;
			s->rbuf = xrealloc(s->rbuf, s->rcap);
		}
		ssize_t n = recv(s->fd, s->rbuf + s->rlen, s->rcap - s->rlen - 1, 0);
		if (n > 0) {
			s->rlen += (size_t)n;
			continue;
		}
		if (n == 0) {
			s->rbuf[s->rlen] = '\0';
			finish(r, s, s->rlen == 0 ? OUT_EMPTY : OUT_OK);
			return;
		}
		if (errno == EAGAIN || errno == EINTR)
			return;
		/* a reset after a complete reply still counts as the reply */
		s->rbuf[s->rlen] = '\0';
		finish(r, s, s->rlen > 0 ? OUT_OK : OUT_IO);
		return;
	}
}

static void
check_timeouts(struct run *r)
{
	double t = now_s();
	for (int i = 0; i < r->o.conns; i++) {
		struct slot *s = &r->slots[i];
		if (s->active && t - s->t0 > r->o.timeout)
			finish(r, s, OUT_TIMEOUT);
	}
}

static void
refill(struct run *r)
{
	for (int i = 0; i < r->o.conns; i++) {
		struct slot *s = &r->slots[i];
		while (!s->active && slot_start(r, s))
			;
	}
}

static size_t
n_active(const struct run *r)
{
	size_t n = 0;
	for (int i = 0; i < r->o.conns; i++)
		n += r->slots[i].active;
	return n;
}

static void
run_loop(struct run *r)
{
	struct epoll_event evs[256];
	r->ep = epoll_create1(EPOLL_CLOEXEC);
	if (r->ep < 0)
		die("epoll_create1");
	r->slots = calloc((size_t)r->o.conns, sizeof(*r->slots));
	r->t_start = now_s();
	refill(r);
	while (n_active(r) > 0) {
		int n = epoll_wait(r->ep, evs, 256, 100);
		if (n < 0 && errno != EINTR)
			die("epoll_wait");
		for (int i = 0; i < n; i++) {
			struct slot *s = evs[i].data.ptr;
			if (!s->active)
				continue;
			if (s->sent < r->files[s->file].req_len)
				slot_write(r, s);
			else
				slot_read(r, s);
		}
		check_timeouts(r);
		refill(r);
	}
}

/* --- report ------------------------------------------------------------ */

static int
cmp_dbl(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static double
pct(const double *v, size_t n, double p)
{
	if (n == 0)
		return 0;
	size_t i = (size_t)(p / 100.0 * (double)(n - 1) + 0.5);
	return v[i < n ? i : n - 1];
}

static double
cpu_self_s(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	    (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static void
write_lines(const struct run *r)
{
	FILE *f = fopen(r->o.out_path, "w");
	if (f == NULL)
		die(r->o.out_path);
	fprintf(f, "# outcome\tstatus\tlatency_ms\tscore\tbayes\taction\tlabel\tpath\treason\n");
	for (size_t i = 0; i < r->n_done; i++) {
		const struct result *x = &r->res[i];
		const struct file *fl = &r->files[x->file];
		const char *label = fl->spam_label ? "spam" : fl->ham_label ? "ham" : "-";
		fprintf(f, "%s\t%d\t%.3f\t%.4f\t", outcome_names[x->out], x->status, x->lat_ms,
		    x->score);
		if (x->has_bayes)
			fprintf(f, "%.4f", x->bayes);
		else
			fputc('-', f);
		fprintf(f, "\t%s\t%s\t%s\t%s\n", x->action[0] ? x->action : "-", label, fl->path,
		    x->reason[0] ? x->reason : "-");
	}
	fclose(f);
}

static void
report(const struct run *r, double wall, double cpu)
{
	size_t counts[OUT_N] = { 0 };
	double *lat = xrealloc(NULL, (r->n_done + 1) * sizeof(double));
	size_t n_ok = 0, errors = 0;
	for (size_t i = 0; i < r->n_done; i++) {
		counts[r->res[i].out]++;
		if (r->res[i].out == OUT_OK)
			lat[n_ok++] = r->res[i].lat_ms;
		else
			errors++;
	}
	qsort(lat, n_ok, sizeof(double), cmp_dbl);
	double rate = wall > 0 ? (double)r->n_done / wall : 0;
	double p50 = pct(lat, n_ok, 50), p90 = pct(lat, n_ok, 90), p99 = pct(lat, n_ok, 99);
	double mx = n_ok ? lat[n_ok - 1] : 0;
	double cpu_ms = r->n_done ? cpu * 1e3 / (double)r->n_done : 0;
	if (r->o.json_summary) {
		printf("{\"label\":\"%s\",\"conns\":%d,\"requests\":%zu,\"ok\":%zu,\"errors\":%zu,"
		    "\"wall_s\":%.4f,\"msgs_per_s\":%.2f,\"p50_ms\":%.3f,\"p90_ms\":%.3f,"
		    "\"p99_ms\":%.3f,\"max_ms\":%.3f,\"loadgen_cpu_s\":%.4f,"
		    "\"loadgen_cpu_ms_per_msg\":%.4f,\"error_kinds\":{",
		    r->o.label, r->o.conns, r->n_done, n_ok, errors, wall, rate, p50, p90, p99, mx,
		    cpu, cpu_ms);
		bool first = true;
		for (int k = 1; k < OUT_N; k++) {
			if (counts[k] == 0)
				continue;
			printf("%s\"%s\":%zu", first ? "" : ",", outcome_names[k], counts[k]);
			first = false;
		}
		printf("}}\n");
	} else {
		printf("%s: %zu requests over %d connection(s) in %.2f s: %.1f messages/s\n",
		    r->o.label, r->n_done, r->o.conns, wall, rate);
		printf("  latency ms: p50 %.2f  p90 %.2f  p99 %.2f  max %.2f\n", p50, p90, p99, mx);
		printf("  errors: %zu", errors);
		for (int k = 1; k < OUT_N; k++)
			if (counts[k])
				printf("  %s=%zu", outcome_names[k], counts[k]);
		printf("\n  loadgen CPU: %.3f s (%.3f ms per message, %.1f %% of one core)\n", cpu,
		    cpu_ms, wall > 0 ? 100 * cpu / wall : 0);
	}
	free(lat);
}

/* --- main -------------------------------------------------------------- */

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: loadgen [options] DIR|FILE...\n"
	    "  -m http|spamc     protocol (default http: POST /checkv2 like rspamc)\n"
	    "  -H host           server address (default 127.0.0.1; IPv4 only)\n"
	    "  -p port           server port (default 11333; spamc 783)\n"
	    "  -u path           HTTP path (default /checkv2)\n"
	    "  -P password       send a Password header (controller)\n"
	    "  -c N              concurrent connections (default 1)\n"
	    "  -n M              passes over the corpus (default 1)\n"
	    "  -L K              use only K files, spread over the sorted list\n"
	    "  -d S              stop starting requests after S seconds\n"
	    "  -t S              per-request timeout (default 30)\n"
	    "  -s 200,208        HTTP statuses counted as success (default 200)\n"
	    "  -R                do not require a JSON reply body (learning)\n"
	    "  -S                spamc: send SYMBOLS instead of CHECK (Bayes bucket)\n"
	    "  -o FILE           write one line per request (outcome, score, label...)\n"
	    "  -j                print the summary as one JSON object\n"
	    "  -l LABEL          name printed with the summary\n"
	    "  -x 'Name: value'  one more request header (e.g. 'Learn-Type: bulk')\n"
	    "  -r SEED           shuffle the files with this seed (0 = sorted)\n");
}

static void
parse_statuses(struct opts *o, const char *s)
{
	o->n_ok_status = 0;
	char *dup = strdup(s), *save = NULL;
	for (char *t = strtok_r(dup, ",", &save); t && o->n_ok_status < 8;
	    t = strtok_r(NULL, ",", &save))
		o->ok_status[o->n_ok_status++] = atoi(t);
	free(dup);
}

static void
parse_args(struct opts *o, int argc, char **argv)
{
	*o = (struct opts){ .proto = PROTO_HTTP, .host = "127.0.0.1", .port = -1,
		.path = "/checkv2", .spamc_cmd = "CHECK", .conns = 1, .passes = 1, .timeout = 30,
		.ok_status = { 200 }, .n_ok_status = 1, .json_reply = true, .label = "loadgen" };
	int ch;
	while ((ch = getopt(argc, argv, "m:H:p:u:P:c:n:L:d:t:s:RSo:jl:x:r:h")) != -1) {
		switch (ch) {
		case 'm':
			if (strcmp(optarg, "spamc") == 0)
				o->proto = PROTO_SPAMC;
			else if (strcmp(optarg, "http") != 0) {
				usage(stderr);
				exit(2);
			}
			break;
		case 'H': o->host = optarg; break;
		case 'p': o->port = atoi(optarg); break;
		case 'u': o->path = optarg; break;
		case 'P': o->password = optarg; break;
		case 'c': o->conns = atoi(optarg); break;
		case 'n': o->passes = atoi(optarg); break;
		case 'L': o->limit = (size_t)atol(optarg); break;
		case 'd': o->duration = atof(optarg); break;
		case 't': o->timeout = atof(optarg); break;
		case 's': parse_statuses(o, optarg); break;
		case 'R': o->json_reply = false; break;
		case 'S': o->spamc_cmd = "SYMBOLS"; break;
		case 'o': o->out_path = optarg; break;
		case 'j': o->json_summary = true; break;
		case 'l': o->label = optarg; break;
		case 'x': o->extra_header = optarg; break;
		case 'r': o->seed = strtoul(optarg, NULL, 10); break;
		case 'h': usage(stdout); exit(0);
		default: usage(stderr); exit(2);
		}
	}
	if (o->port < 0)
		o->port = o->proto == PROTO_SPAMC ? 783 : 11333;
	if (o->conns < 1 || o->conns > 4096 || o->passes < 1 || optind >= argc) {
		usage(stderr);
		exit(2);
	}
}

int
main(int argc, char **argv)
{
	struct run r = { 0 };
	parse_args(&r.o, argc, argv);
	r.addr.sin_family = AF_INET;
	r.addr.sin_port = htons((uint16_t)r.o.port);
	if (inet_pton(AF_INET, r.o.host, &r.addr.sin_addr) != 1) {
		fprintf(stderr, "loadgen: %s: not an IPv4 address\n", r.o.host);
		return 2;
	}
	load_corpus(&r, argv + optind, argc - optind);
	if (r.n_files == 0) {
		fprintf(stderr, "loadgen: no files\n");
		return 2;
	}
	r.n_jobs = r.n_files * (size_t)r.o.passes;
	r.res = xrealloc(NULL, r.n_jobs * sizeof(*r.res));
	double cpu0 = cpu_self_s();
	double t0 = now_s();
	run_loop(&r);
	double wall = now_s() - t0;
	double cpu = cpu_self_s() - cpu0;
	report(&r, wall, cpu);
	if (r.o.out_path)
		write_lines(&r);
	size_t errors = 0;
	for (size_t i = 0; i < r.n_done; i++)
		errors += r.res[i].out != OUT_OK;
	return errors ? 1 : 0;
}
