/*
 * filterc - the command-line client: scan (check/symbols), learn_spam,
 * learn_ham, stat, ping. It speaks the same HTTP protocol as rspamc, so it
 * works against filterd and rspamd alike, and Dovecot's imapsieve scripts
 * can call either.
 *
 * One blocking connection per request is right for a CLI; the messages come
 * from files, directories (walked recursively in name order, dot-files
 * skipped, like rspamc) or stdin, and each gets its own result block.
 * Exit status: 0 when every exchange succeeded (also for "already learned"
 * 208 and "too few tokens" 204 replies, like rspamc, and the block says
 * which), 1 on any error: the daemon unreachable (the walk stops there: the
 * rest would fail the same way), a refusal (the HTTP status and reason), an
 * unreadable file (its path and the system's reason).
 */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "fcore/buf.h"
#include "fcore/dirwalk.h"
#include "fcore/xalloc.h"

struct opts {
	const char *host;
	const char *port;
	const char *password;
	const char *deliver;
	const char *ip;
	const char *from;
	const char *helo;
	const char *user;
	const char **rcpt;
	size_t nrcpt;
	bool json;
	double timeout;
};

/* Outcome of one exchange: RUN_DOWN stops a directory walk. */
enum run_rc { RUN_OK = 0, RUN_ERROR = 1, RUN_USAGE = 2, RUN_DOWN = 3 };

struct reply {
	int status;
	char reason[256];
	struct buf body;
};

static bool
read_all(FILE *f, struct buf *b)
{
	uint8_t tmp[65536];
	size_t n;
	while ((n = fread(tmp, 1, sizeof(tmp), f)) > 0)
		buf_append(b, tmp, n);
	return !ferror(f);
}

static int
connect_to(const struct opts *o)
{
	struct addrinfo hints, *res, *ai;
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	int gai = getaddrinfo(o->host, o->port, &hints, &res);
	if (gai != 0) {
		fprintf(stderr, "filterc: %s: %s\n", o->host, gai_strerror(gai));
		return -1;
	}
	int fd = -1, saved = 0;
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0) {
			saved = errno;
			continue;
		}
		struct timeval tv = { (time_t)o->timeout, 0 };
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		saved = errno;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0)
		fprintf(stderr, "filterc: cannot connect to %s:%s: %s (is filterd running?)\n", o->host,
		    o->port, strerror(saved));
	return fd;
}

static bool
send_all(int fd, const void *p, size_t len)
{
	const uint8_t *b = p;
	while (len > 0) {
		ssize_t w = send(fd, b, len, MSG_NOSIGNAL);
		if (w <= 0)
			return false;
		b += w;
		len -= (size_t)w;
	}
	return true;
}

static bool
parse_reply(struct buf *raw, struct reply *r)
{
	struct span all = buf_span(raw);
	ptrdiff_t end = span_find(all, SPAN_LIT("\r\n\r\n"));
	/* "HTTP/1.x NNN" must fit before the blank line. */
	if (end < 12 || memcmp(all.p, "HTTP/1.", 7) != 0)
		return false;
	r->status = atoi((const char *)all.p + 9);
	const uint8_t *sp = memchr(all.p + 9, ' ', (size_t)end - 9);
	const uint8_t *eol = memchr(all.p, '\r', (size_t)end + 1);
	if (sp != NULL && eol != NULL && eol > sp)
		snprintf(r->reason, sizeof(r->reason), "%.*s", (int)(eol - sp - 1), (const char *)sp + 1);
	buf_append(&r->body, all.p + end + 4, all.len - (size_t)end - 4);
	return true;
}

static enum run_rc
exchange(const struct opts *o, const char *method, const char *path, struct span body, struct reply *r)
{
	int fd = connect_to(o);
	if (fd < 0)
		return RUN_DOWN;
	struct buf req;
	buf_init(&req, NULL);
	buf_printf(&req, "%s %s HTTP/1.0\r\nConnection: close\r\nUser-Agent: filterc\r\nContent-Length: %zu\r\n",
	    method, path, body.len);
	if (o->password)
		buf_printf(&req, "Password: %s\r\n", o->password);
	if (o->deliver)
		buf_printf(&req, "Deliver-To: %s\r\n", o->deliver);
	if (o->ip)
		buf_printf(&req, "IP: %s\r\n", o->ip);
	if (o->from)
		buf_printf(&req, "From: %s\r\n", o->from);
	if (o->helo)
		buf_printf(&req, "Helo: %s\r\n", o->helo);
	if (o->user)
		buf_printf(&req, "User: %s\r\n", o->user);
	for (size_t i = 0; i < o->nrcpt; i++)
		buf_printf(&req, "Rcpt: %s\r\n", o->rcpt[i]);
	buf_append_cstr(&req, "\r\n");
	bool ok = send_all(fd, req.data, req.len) && send_all(fd, body.p, body.len);
	buf_deinit(&req);
	struct buf raw;
	buf_init(&raw, NULL);
	uint8_t tmp[65536];
	ssize_t n;
	while (ok && (n = recv(fd, tmp, sizeof(tmp), 0)) > 0)
		buf_append(&raw, tmp, (size_t)n);
	close(fd);
	buf_init(&r->body, NULL);
	ok = ok && parse_reply(&raw, r);
	if (!ok)
		fprintf(stderr, "filterc: no valid reply from %s:%s\n", o->host, o->port);
	buf_deinit(&raw);
	return ok ? RUN_OK : RUN_ERROR;
}

static int
cmp_keys(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The same text layout as rspamc's, so scripts written for it keep working. */
static void
print_scan(const char *name, json_t *o)
{
	printf("Results for file: %s\n[Metric: default]\n", name);
	const char *action = json_string_value(json_object_get(o, "action"));
	if (action) {
		printf("Action: %s\n", action);
		bool spam = strcmp(action, "reject") == 0 || strcmp(action, "soft reject") == 0 ||
		            strcmp(action, "rewrite subject") == 0 || strcmp(action, "add header") == 0;
		printf("Spam: %s\n", spam ? "true" : "false");
	}
	json_t *subj = json_object_get(o, "subject");
	if (json_is_string(subj))
		printf("Subject: %s\n", json_string_value(subj));
	printf("Score: %.2f / %.2f\n", json_number_value(json_object_get(o, "score")),
	    json_number_value(json_object_get(o, "required_score")));
	json_t *syms = json_object_get(o, "symbols");
	size_t n = json_object_size(syms), i = 0;
	const char **keys = xcalloc(n ? n : 1, sizeof(*keys));
	const char *k;
	json_t *v;
	json_object_foreach(syms, k, v) keys[i++] = k;
	qsort(keys, n, sizeof(*keys), cmp_keys);
	for (i = 0; i < n; i++) {
		json_t *s = json_object_get(syms, keys[i]);
		printf("Symbol: %s (%.2f)", keys[i], json_number_value(json_object_get(s, "score")));
		json_t *opts = json_object_get(s, "options");
		if (json_is_array(opts)) {
			putchar('[');
			for (size_t j = 0; j < json_array_size(opts); j++)
				printf("%s%s", j ? ", " : "", json_string_value(json_array_get(opts, j)));
			putchar(']');
		}
		putchar('\n');
	}
	free(keys);
	json_t *mid = json_object_get(o, "message-id");
	if (json_is_string(mid))
		printf("Message-ID: %s\n", json_string_value(mid));
	json_t *msgs = json_object_get(o, "messages");
	json_object_foreach(msgs, k, v) printf("Message - %s: %s\n", k, json_string_value(v));
	putchar('\n');
}

static void
print_object(const char *name, json_t *o)
{
	printf("Results for %s\n", name);
	const char *k;
	json_t *v;
	json_object_foreach(o, k, v) {
		char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
		printf("%s = %s;\n", k, s ? s : "null");
		free(s);
	}
	putchar('\n');
}

/* One line per learned message: "name: learned as spam", "name: already
 * learned: ...", "name: not learned: ..." (208 and 204 are successes for the
 * exit status, so the words must say which). */
static bool
print_learn(const char *name, const char *path, int status, json_t *j)
{
	bool spam = strcmp(path, "/learnspam") == 0;
	if (!spam && strcmp(path, "/learnham") != 0)
		return false;
	const char *text = json_string_value(json_object_get(j, "error"));
	if (status == 208)
		printf("%s: already learned: %s\n", name, text ? text : "");
	else if (status == 204)
		printf("%s: not learned: %s\n", name, text ? text : "too few tokens");
	else
		printf("%s: learned as %s\n", name, spam ? "spam" : "ham");
	return true;
}

static enum run_rc
print_reply(const struct opts *o, const char *path, const char *name, const struct reply *r)
{
	if (r->status < 200 || r->status > 299) {
		const char *why = r->reason;
		json_t *j = json_loadb((const char *)r->body.data, r->body.len, 0, NULL);
		if (json_is_string(json_object_get(j, "error")))
			why = json_string_value(json_object_get(j, "error"));
		printf("%s: error: HTTP %d, %s\n", name, r->status, why);
		fprintf(stderr, "filterc: %s: refused: HTTP %d %s\n", name, r->status, why);
		json_decref(j);
		return RUN_ERROR;
	}
	if (strcmp(path, "/ping") == 0) {
		fwrite(r->body.data, 1, r->body.len, stdout);
		return RUN_OK;
	}
	json_error_t err;
	json_t *j = json_loadb((const char *)r->body.data, r->body.len, 0, &err);
	/* rspamd may send 204 without a body. */
	if (j == NULL && r->status == 204)
		j = json_object();
	if (j == NULL) {
		fprintf(stderr, "filterc: %s: cannot parse the reply: %s\n", name, err.text);
		return RUN_ERROR;
	}
	if (o->json) {
		char *s = json_dumps(j, JSON_COMPACT);
		puts(s);
		free(s);
	} else if (strcmp(path, "/checkv2") == 0) {
		print_scan(name, j);
	} else if (!print_learn(name, path, r->status, j)) {
		print_object(name, j);
	}
	json_decref(j);
	return RUN_OK;
}

static const char *
cmd_path(const char *cmd, const char **method_r)
{
	*method_r = "POST";
	if (strcasecmp(cmd, "symbols") == 0 || strcasecmp(cmd, "check") == 0)
		return "/checkv2";
	if (strcasecmp(cmd, "learn_spam") == 0)
		return "/learnspam";
	if (strcasecmp(cmd, "learn_ham") == 0)
		return "/learnham";
	*method_r = "GET";
	if (strcasecmp(cmd, "stat") == 0)
		return "/stat";
	if (strcasecmp(cmd, "ping") == 0)
		return "/ping";
	return NULL;
}

/* One request: file NULL means stdin (or no body for stat and ping). */
static enum run_rc
run(const struct opts *o, const char *cmd, const char *file)
{
	const char *method, *path = cmd_path(cmd, &method);
	if (path == NULL) {
		fprintf(stderr, "filterc: unknown command %s\n", cmd);
		return RUN_USAGE;
	}
	bool needs_body = strcmp(method, "POST") == 0;
	struct buf msg;
	buf_init(&msg, NULL);
	if (needs_body) {
		FILE *f = file ? fopen(file, "rb") : stdin;
		bool ok = f != NULL && read_all(f, &msg);
		int saved = errno;
		if (file && f)
			fclose(f);
		if (!ok) {
			fprintf(stderr, "filterc: %s: %s\n", file ? file : "stdin", strerror(saved));
			buf_deinit(&msg);
			return RUN_ERROR;
		}
	}
	struct reply r;
	memset(&r, 0, sizeof(r));
	enum run_rc rc = exchange(o, method, path, buf_span(&msg), &r);
	buf_deinit(&msg);
	if (rc != RUN_OK)
		return rc;
	rc = print_reply(o, path, file ? file : needs_body ? "stdin" : cmd, &r);
	fflush(stdout); /* a line per message as it happens, also into a pipe */
	buf_deinit(&r.body);
	return rc;
}

struct walk {
	const struct opts *o;
	const char *cmd;
	enum run_rc worst;
};

/* Per file of a walk: the daemon down stops it (the rest would fail the
 * same way), any other error is counted and the walk goes on. */
static int
walk_one(const char *path, void *arg)
{
	struct walk *w = arg;
	enum run_rc rc = run(w->o, w->cmd, path);
	if (rc > w->worst)
		w->worst = rc;
	return rc == RUN_DOWN || rc == RUN_USAGE;
}

/* A file, or every file under a directory (fcore's dirwalk, shared with
 * `filterd scan` and `filterd learn`). */
static enum run_rc
run_path(const struct opts *o, const char *cmd, const char *top)
{
	struct walk w = { o, cmd, RUN_OK };
	unsigned errors = 0;
	dirwalk(top, walk_one, &w, "filterc", &errors);
	if (errors > 0 && w.worst < RUN_ERROR)
		w.worst = RUN_ERROR;
	return w.worst;
}

static void
usage(void)
{
	fprintf(stderr,
	    "usage: filterc [-h host[:port]] [-P password] [-d user] [-i ip] [-F from] [-r rcpt]...\n"
	    "               [--helo name] [-u user] [-j] [-t seconds] [command] [file...]\n"
	    "commands: symbols (default), check, learn_spam, learn_ham, stat, ping\n"
	    "default port: 11333 for symbols/check, 11334 for the others\n");
}

int
main(int argc, char **argv)
{
	struct opts o;
	memset(&o, 0, sizeof(o));
	o.timeout = 10;
	const char *hostarg = "127.0.0.1";
	static const struct option longopts[] = {
		{ "connect", required_argument, NULL, 'h' }, { "password", required_argument, NULL, 'P' },
		{ "deliver", required_argument, NULL, 'd' }, { "ip", required_argument, NULL, 'i' },
		{ "from", required_argument, NULL, 'F' }, { "rcpt", required_argument, NULL, 'r' },
		{ "helo", required_argument, NULL, 'H' }, { "user", required_argument, NULL, 'u' },
		{ "json", no_argument, NULL, 'j' }, { "timeout", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, '?' }, { NULL, 0, NULL, 0 },
	};
	int ch;
	while ((ch = getopt_long(argc, argv, "h:P:d:i:F:r:u:jt:", longopts, NULL)) != -1) {
		switch (ch) {
		case 'h': hostarg = optarg; break;
		case 'P': o.password = optarg; break;
		case 'd': o.deliver = optarg; break;
		case 'i': o.ip = optarg; break;
		case 'F': o.from = optarg; break;
		case 'r':
			o.rcpt = xreallocarray(o.rcpt, o.nrcpt + 1, sizeof(*o.rcpt));
			o.rcpt[o.nrcpt++] = optarg;
			break;
		case 'H': o.helo = optarg; break;
		case 'u': o.user = optarg; break;
		case 'j': o.json = true; break;
		case 't': o.timeout = atof(optarg); break;
		default: usage(); return 2;
		}
	}
	const char *cmd = "symbols";
	static const char *const cmds[] = { "symbols", "check", "learn_spam", "learn_ham", "stat", "ping" };
	for (size_t i = 0; optind < argc && i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		if (strcasecmp(argv[optind], cmds[i]) == 0) {
			cmd = argv[optind++];
			break;
		}
	}
	bool scan = strcasecmp(cmd, "symbols") == 0 || strcasecmp(cmd, "check") == 0;
	/* host, host:port, [v6], [v6]:port */
	char host[256];
	const char *port = scan ? "11333" : "11334";
	snprintf(host, sizeof(host), "%s", hostarg);
	char *close_br = host[0] == '[' ? strchr(host, ']') : NULL;
	char *colon = close_br ? (close_br[1] == ':' ? close_br + 1 : NULL)
	                       : (strchr(host, ':') == strrchr(host, ':') ? strchr(host, ':') : NULL);
	if (colon) {
		*colon = '\0';
		port = colon + 1;
	}
	if (close_br) {
		*close_br = '\0';
		memmove(host, host + 1, strlen(host));
	}
	o.host = host;
	o.port = port;
	if (o.password && (o.password[0] == '/' || o.password[0] == '.')) {
		/* Like rspamc: a path names a file holding the password. */
		FILE *f = fopen(o.password, "r");
		static char pw[512];
		if (f && fgets(pw, sizeof(pw), f)) {
			pw[strcspn(pw, "\r\n")] = '\0';
			o.password = pw;
		}
		if (f)
			fclose(f);
	}
	enum run_rc rc = RUN_OK, worst = RUN_OK;
	if (optind >= argc)
		worst = run(&o, cmd, NULL);
	for (int i = optind; i < argc && rc != RUN_DOWN; i++) {
		rc = run_path(&o, cmd, argv[i]);
		if (rc > worst)
			worst = rc;
	}
	free(o.rcpt);
	return worst == RUN_USAGE ? 2 : worst == RUN_OK ? 0 : 1;
}
